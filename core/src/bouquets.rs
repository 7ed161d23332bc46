//! Bouquets: which channel categories a reseller may sell (set by admins), and which of those a
//! subscriber gets (set by their reseller). An empty choice means "everything allowed above".

use crate::access::Access;
use crate::audit::{self, Entry};
use crate::catalogue::Stream;
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

/// The category ids allowed to a subscriber: their own bouquet within their reseller's;
/// `None` for all of them. A restriction that lost all its categories allows nothing.
pub(crate) async fn allowed_categories(
    conn: &mut sqlx::AnyConnection,
    subscriber_id: i64,
    reseller_id: Option<i64>,
) -> Result<Option<Vec<i64>>> {
    let own = restriction(conn, Owner::Subscriber(subscriber_id)).await?;
    let reseller = match reseller_id {
        Some(r) => restriction(conn, Owner::Reseller(r)).await?,
        None => None,
    };
    Ok(match (own, reseller) {
        (None, None) => None,
        (Some(only), None) | (None, Some(only)) => Some(only),
        (Some(own), Some(reseller)) => {
            Some(own.into_iter().filter(|c| reseller.contains(c)).collect())
        }
    })
}

/// Whose bouquet a row belongs to. The table and column names are our own constants.
#[derive(Clone, Copy)]
enum Owner {
    Reseller(i64),
    Subscriber(i64),
}

impl Owner {
    /// (owner table, bouquet table, bouquet's owner column, owner id)
    fn names(self) -> (&'static str, &'static str, &'static str, i64) {
        match self {
            Owner::Reseller(id) => ("resellers", "reseller_categories", "reseller_id", id),
            Owner::Subscriber(id) => ("subscribers", "subscriber_categories", "subscriber_id", id),
        }
    }
}

/// The categories of one bouquet; `None` when it does not restrict.
async fn restriction(conn: &mut sqlx::AnyConnection, owner: Owner) -> Result<Option<Vec<i64>>> {
    let (owners, table, column, id) = owner.names();
    let restricted: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT bouquet_restricted FROM {owners} WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    if restricted.unwrap_or(0) == 0 {
        return Ok(None);
    }
    let ids = sqlx::query_scalar(&format!(
        "SELECT category_id FROM {table} WHERE {column} = $1"
    ))
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(ids))
}

/// Whether a subscriber may open a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamRight {
    Allowed,
    /// The stream's category is not in the subscriber's bouquet or their reseller's.
    NotInBouquet,
    /// No channel, movie or episode has this id.
    UnknownStream,
}

impl Core {
    /// Checks a channel, movie or episode against the bouquets in `access`, from memory.
    pub async fn stream_right(&self, access: &Access, stream: Stream) -> Result<StreamRight> {
        Ok(match self.stream_category(stream).await? {
            None => StreamRight::UnknownStream,
            Some(category) if access.may_watch(category) => StreamRight::Allowed,
            Some(_) => StreamRight::NotInBouquet,
        })
    }
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

/// The category ids a bouquet names, without repeats; `None` for `all`.
async fn choose(tx: &mut Tx, bouquet: &Bouquet) -> Result<Option<Vec<i64>>> {
    match bouquet {
        Bouquet::All => Ok(None),
        Bouquet::Only(names) if names.is_empty() => Err(CoreError::Invalid(ParseError(
            "Name at least one category, or “all” for every category.".into(),
        ))),
        Bouquet::Only(names) => {
            let mut ids = resolve(tx, names).await?;
            ids.sort_unstable();
            ids.dedup();
            Ok(Some(ids))
        }
    }
}

/// Makes `owner`'s bouquet exactly `ids` (`None`: no restriction).
async fn replace(tx: &mut Tx, owner: Owner, ids: Option<&[i64]>) -> Result<()> {
    let (owners, table, column, id) = owner.names();
    sqlx::query(&format!("DELETE FROM {table} WHERE {column} = $1"))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    for category in ids.unwrap_or_default() {
        sqlx::query(&format!(
            "INSERT INTO {table} ({column}, category_id) VALUES ($1, $2)"
        ))
        .bind(id)
        .bind(category)
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query(&format!(
        "UPDATE {owners} SET bouquet_restricted = $1 WHERE id = $2"
    ))
    .bind(i64::from(ids.is_some()))
    .bind(id)
    .execute(&mut **tx)
    .await?;
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
        replace(&mut tx, Owner::Reseller(r.id.0), ids.as_deref()).await?;
        audit::record(
            &mut tx,
            actor,
            Entry {
                action: "reseller.bouquet",
                reseller: Some(r.id),
                target: Some(&r.username),
                details: serde_json::json!({ "categories": ids.as_deref().unwrap_or_default() }),
            },
        )
        .await?;
        self.publish(&mut tx, &crate::bus::Event::AccessAll).await?;
        tx.commit().await?;
        // Every one of the reseller's subscribers may see a different list now.
        self.access.clear();
        Ok(ids.map_or(0, |ids| ids.len()))
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
        if let (Some(r), Some(ids)) = (&owner, &ids)
            && let Some(sellable) = restriction(&mut tx, Owner::Reseller(r.id.0)).await?
            && ids.iter().any(|c| !sellable.contains(c))
        {
            return Err(CoreError::Invalid(ParseError(
                "You may only give categories your admin allows you to sell.".into(),
            )));
        }
        replace(&mut tx, Owner::Subscriber(sub.id.0), ids.as_deref()).await?;
        audit::record(
            &mut tx,
            actor,
            Entry {
                action: "subscriber.bouquet",
                reseller: sub.reseller_id,
                target: Some(&sub.username),
                details: serde_json::json!({ "categories": ids.as_deref().unwrap_or_default() }),
            },
        )
        .await?;
        self.publish(&mut tx, &crate::bus::Event::Access(sub.username.clone()))
            .await?;
        tx.commit().await?;
        self.access.forget(&sub.username);
        Ok(ids.map_or(0, |ids| ids.len()))
    }
}
