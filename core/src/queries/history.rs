use super::{PER_PAGE, Page, clamp_page};
use crate::core::to_time;
use crate::domain::{ResellerId, Username};
use crate::ledger::Kind;
use crate::queries::resellers;
use crate::{Actor, Core, Result};
use chrono::{DateTime, Utc};
use sqlx::Row;

/// One ledger row, for display.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: i64,
    pub amount: i64,
    pub kind: Kind,
    pub balance_before: i64,
    pub balance_after: i64,
    pub actor: String,
    pub subscriber: Option<String>,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Core {
    /// A page of a reseller's ledger, newest first: their own, or any reseller's for admins.
    pub async fn history(
        &self,
        actor: &Actor,
        of: Option<&Username>,
        page: i64,
    ) -> Result<Page<Entry>> {
        let reseller: ResellerId = match (actor, of) {
            (Actor::Reseller(id), _) => {
                let me = resellers::by_id(self.db.read(), *id).await?;
                if !me.active {
                    return Err(crate::CoreError::Suspended);
                }
                me.id
            }
            (Actor::Admin(_), Some(name)) => resellers::by_username(self.db.read(), name).await?.id,
            (Actor::Admin(_), None) => {
                return Err(crate::CoreError::NotFound {
                    kind: "reseller",
                    name: String::new(),
                });
            }
        };
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM credit_transactions WHERE reseller_id = $1")
                .bind(reseller.0)
                .fetch_one(self.db.read())
                .await?;
        let page = clamp_page(page, total);
        let rows = sqlx::query(&format!(
            "SELECT id, amount, kind, balance_before, balance_after, actor, subscriber_username, note, created_at \
             FROM credit_transactions WHERE reseller_id = $1 ORDER BY id DESC LIMIT {PER_PAGE} OFFSET {}",
            page * PER_PAGE
        ))
        .bind(reseller.0)
        .fetch_all(self.db.read())
        .await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(Entry {
                    id: r.try_get("id")?,
                    amount: r.try_get("amount")?,
                    kind: Kind::parse(&r.try_get::<String, _>("kind")?),
                    balance_before: r.try_get("balance_before")?,
                    balance_after: r.try_get("balance_after")?,
                    actor: r.try_get("actor")?,
                    subscriber: r.try_get("subscriber_username")?,
                    note: r.try_get("note")?,
                    created_at: to_time(r.try_get("created_at")?),
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()?;
        Ok(Page {
            items,
            page,
            per_page: PER_PAGE,
            total,
        })
    }
}
