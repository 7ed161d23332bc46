//! Bouquets: which channel categories a reseller may sell (set by admins), and which of those a
//! subscriber gets (set by their reseller). An empty choice means "everything allowed above".

use crate::audit::{self, Entry};
use crate::db::Tx;
use crate::domain::{ParseError, Permission, Username};
use crate::queries::{resellers, subscribers};
use crate::{Actor, Core, CoreError, Result};

/// A bouquet as given: every category, or these by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bouquet {
    All,
    Only(Vec<String>),
}

impl Bouquet {
    /// `all`, or category names separated by commas: `News, Sports`.
    pub fn parse(s: &str) -> Bouquet {
        if s.trim().eq_ignore_ascii_case("all") {
            return Bouquet::All;
        }
        Bouquet::Only(
            s.split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }
}

/// The category ids allowed to a subscriber; `None` for all of them.
pub(crate) async fn allowed_categories(
    conn: &mut sqlx::AnyConnection,
    subscriber_id: i64,
    reseller_id: Option<i64>,
) -> Result<Option<Vec<i64>>> {
    let own: Vec<i64> = sqlx::query_scalar(
        "SELECT category_id FROM subscriber_categories WHERE subscriber_id = $1",
    )
    .bind(subscriber_id)
    .fetch_all(&mut *conn)
    .await?;
    let reseller: Vec<i64> = match reseller_id {
        Some(r) => {
            sqlx::query_scalar("SELECT category_id FROM reseller_categories WHERE reseller_id = $1")
                .bind(r)
                .fetch_all(&mut *conn)
                .await?
        }
        None => Vec::new(),
    };
    Ok(match (own.is_empty(), reseller.is_empty()) {
        (true, true) => None,
        (true, false) => Some(reseller),
        (false, true) => Some(own),
        (false, false) => Some(own.into_iter().filter(|c| reseller.contains(c)).collect()),
    })
}

/// Category names to ids, refusing unknown names with the list of known ones.
async fn resolve(tx: &mut Tx, names: &[String]) -> Result<Vec<i64>> {
    let all: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, name FROM channel_categories ORDER BY sort_order")
            .fetch_all(&mut **tx)
            .await?;
    names
        .iter()
        .map(|n| {
            all.iter()
                .find(|(_, name)| name.eq_ignore_ascii_case(n))
                .map(|(id, _)| *id)
                .ok_or_else(|| {
                    let known: Vec<&str> = all.iter().map(|(_, name)| name.as_str()).collect();
                    CoreError::Invalid(ParseError(format!(
                        "There is no category “{n}”. The categories are: {}.",
                        if known.is_empty() {
                            "none yet (import channels first)".to_string()
                        } else {
                            known.join(", ")
                        }
                    )))
                })
        })
        .collect()
}

/// The category ids a bouquet names; none for `all`.
async fn choose(tx: &mut Tx, bouquet: &Bouquet) -> Result<Vec<i64>> {
    match bouquet {
        Bouquet::All => Ok(Vec::new()),
        Bouquet::Only(names) => resolve(tx, names).await,
    }
}

/// Makes `owner`'s rows in `table` exactly `ids`. Both names are our own constants.
async fn replace(
    tx: &mut Tx,
    table: &'static str,
    owner: &'static str,
    owner_id: i64,
    ids: &[i64],
) -> Result<()> {
    sqlx::query(&format!("DELETE FROM {table} WHERE {owner} = $1"))
        .bind(owner_id)
        .execute(&mut **tx)
        .await?;
    for id in ids {
        sqlx::query(&format!(
            "INSERT INTO {table} ({owner}, category_id) VALUES ($1, $2)"
        ))
        .bind(owner_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl Core {
    /// An admin sets the categories a reseller may sell.
    pub async fn set_reseller_bouquet(
        &self,
        actor: &Actor,
        reseller: &Username,
        bouquet: &Bouquet,
    ) -> Result<usize> {
        actor.require_admin()?;
        let mut tx = self.db.begin_write().await?;
        let r = resellers::by_username(&mut *tx, reseller).await?;
        let ids = choose(&mut tx, bouquet).await?;
        replace(&mut tx, "reseller_categories", "reseller_id", r.id.0, &ids).await?;
        audit::record(
            &mut tx,
            actor,
            Entry {
                action: "reseller.bouquet",
                reseller: Some(r.id),
                target: Some(&r.username),
                details: serde_json::json!({ "categories": ids }),
            },
        )
        .await?;
        tx.commit().await?;
        // Every one of the reseller's subscribers may see a different list now.
        self.access.clear();
        Ok(ids.len())
    }

    /// A reseller (or an admin, for their own) sets a subscriber's categories, among those the
    /// reseller may sell.
    pub async fn set_subscriber_bouquet(
        &self,
        actor: &Actor,
        username: &Username,
        bouquet: &Bouquet,
    ) -> Result<usize> {
        let mut tx = self.db.begin_write().await?;
        let (sub, owner) =
            subscribers::for_change(&mut tx, actor, username, Permission::CanEditUsers).await?;
        let ids = choose(&mut tx, bouquet).await?;
        if let Some(r) = &owner {
            let sellable: Vec<i64> = sqlx::query_scalar(
                "SELECT category_id FROM reseller_categories WHERE reseller_id = $1",
            )
            .bind(r.id.0)
            .fetch_all(&mut *tx)
            .await?;
            if !sellable.is_empty() && ids.iter().any(|c| !sellable.contains(c)) {
                return Err(CoreError::Invalid(ParseError(
                    "You may only give categories your admin allows you to sell.".into(),
                )));
            }
        }
        replace(
            &mut tx,
            "subscriber_categories",
            "subscriber_id",
            sub.id.0,
            &ids,
        )
        .await?;
        audit::record(
            &mut tx,
            actor,
            Entry {
                action: "subscriber.bouquet",
                reseller: sub.reseller_id,
                target: Some(&sub.username),
                details: serde_json::json!({ "categories": ids }),
            },
        )
        .await?;
        tx.commit().await?;
        self.access.forget(&sub.username);
        Ok(ids.len())
    }
}
