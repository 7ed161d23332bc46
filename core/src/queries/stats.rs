use crate::core::{now, to_time};
use crate::domain::Permission;
use crate::queries::history::Entry;
use crate::queries::resellers;
use crate::{Actor, Core, Result};
use chrono::{DateTime, Datelike, TimeZone, Utc};
use sqlx::Row;

/// Subscriber counts, for one reseller or everyone.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub total: i64,
    pub active: i64,
    pub expired: i64,
    pub disabled: i64,
    pub expiring_soon: i64,
    /// Live connections; `None` for resellers not allowed to view connections.
    pub connections: Option<i64>,
    pub created_this_month: i64,
}

/// One line of recent activity, from the audit log.
#[derive(Debug, Clone)]
pub struct Activity {
    pub action: String,
    pub target: Option<String>,
    pub actor: String,
    pub at: DateTime<Utc>,
}

/// A reseller's dashboard.
#[derive(Debug, Clone)]
pub struct ResellerStats {
    pub counts: Counts,
    pub balance: i64,
    pub recent: Recent,
}

/// What a reseller's dashboard lists as recent: the activity log only with `can_view_logs`,
/// otherwise their own credit movements, which `/history` shows them anyway.
#[derive(Debug, Clone)]
pub enum Recent {
    Log(Vec<Activity>),
    Credits(Vec<Entry>),
}

/// The operator's dashboard.
#[derive(Debug, Clone)]
pub struct GlobalStats {
    pub counts: Counts,
    pub resellers: i64,
    pub suspended_resellers: i64,
    /// Credits held by all resellers together.
    pub outstanding_credits: i64,
    /// Credits spent on subscribers since the first of the month.
    pub spent_this_month: i64,
    pub recent: Vec<Activity>,
}

/// Lines of recent activity on a dashboard.
const RECENT: usize = 5;

fn month_start() -> i64 {
    let now = Utc::now();
    Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

impl Core {
    async fn counts(&self, reseller: Option<i64>) -> Result<Counts> {
        let now = now();
        let soon = now + self.policy.expiring_soon_days * 86_400;
        let scope = if reseller.is_some() {
            "WHERE reseller_id = $5"
        } else {
            "WHERE $5 = $5"
        };
        let row = sqlx::query(&format!(
            "SELECT COUNT(*) AS total, \
             CAST(COALESCE(SUM(CASE WHEN active = 1 AND expires_at > $1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS active, \
             CAST(COALESCE(SUM(CASE WHEN expires_at <= $1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS expired, \
             CAST(COALESCE(SUM(CASE WHEN active = 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS disabled, \
             CAST(COALESCE(SUM(CASE WHEN active = 1 AND expires_at > $2 AND expires_at <= $3 THEN 1 ELSE 0 END), 0) AS BIGINT) AS soon, \
             CAST(COALESCE(SUM(active_connections), 0) AS BIGINT) AS connections, \
             CAST(COALESCE(SUM(CASE WHEN created_at >= $4 THEN 1 ELSE 0 END), 0) AS BIGINT) AS created \
             FROM subscribers {scope}"
        ))
        .bind(now)
        .bind(now)
        .bind(soon)
        .bind(month_start())
        .bind(reseller.unwrap_or(0))
        .fetch_one(self.db.read())
        .await?;
        Ok(Counts {
            total: row.try_get("total")?,
            active: row.try_get("active")?,
            expired: row.try_get("expired")?,
            disabled: row.try_get("disabled")?,
            expiring_soon: row.try_get("soon")?,
            connections: Some(row.try_get("connections")?),
            created_this_month: row.try_get("created")?,
        })
    }

    async fn recent(&self, reseller: Option<i64>) -> Result<Vec<Activity>> {
        let scope = if reseller.is_some() {
            "WHERE reseller_id = $1"
        } else {
            "WHERE $1 = $1"
        };
        let rows = sqlx::query(&format!(
            "SELECT action, target, actor, created_at FROM audit_log {scope} ORDER BY id DESC LIMIT {RECENT}"
        ))
        .bind(reseller.unwrap_or(0))
        .fetch_all(self.db.read())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Activity {
                    action: r.try_get("action")?,
                    target: r.try_get("target")?,
                    actor: r.try_get("actor")?,
                    at: to_time(r.try_get("created_at")?),
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// The reseller's dashboard, without the figures their permissions hide.
    pub async fn reseller_stats(&self, actor: &Actor) -> Result<ResellerStats> {
        let Actor::Reseller(id) = actor else {
            return Err(crate::CoreError::ResellersOnly);
        };
        let me = resellers::by_id(self.db.read(), *id).await?;
        me.require(Permission::CanViewStatistics)?;
        let mut counts = self.counts(Some(id.0)).await?;
        if !me.permissions.allows(Permission::CanViewConnections) {
            counts.connections = None;
        }
        let recent = if me.permissions.allows(Permission::CanViewLogs) {
            Recent::Log(self.recent(Some(id.0)).await?)
        } else {
            let mut latest = self.history(actor, None, 0).await?.items;
            latest.truncate(RECENT);
            Recent::Credits(latest)
        };
        Ok(ResellerStats {
            counts,
            balance: me.balance,
            recent,
        })
    }

    /// The operator's dashboard.
    pub async fn global_stats(&self, actor: &Actor) -> Result<GlobalStats> {
        actor.require_admin()?;
        let (resellers, suspended, outstanding): (i64, i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN active = 0 THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(balance), 0) AS BIGINT) FROM resellers",
        )
        .fetch_one(self.db.read())
        .await?;
        let spent: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(-amount), 0) AS BIGINT) FROM credit_transactions \
             WHERE kind = 'debit' AND created_at >= $1",
        )
        .bind(month_start())
        .fetch_one(self.db.read())
        .await?;
        Ok(GlobalStats {
            counts: self.counts(None).await?,
            resellers,
            suspended_resellers: suspended,
            outstanding_credits: outstanding,
            spent_this_month: spent,
            recent: self.recent(None).await?,
        })
    }
}
