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

/// Width of an expiry bucket in seconds (30 days), as in migration 0012's triggers.
const EXPIRY_BUCKET: i64 = 2_592_000;

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
    /// Subscriber counts for one reseller or everyone, from maintained counters and partial
    /// indexes: the cost follows the current expiry bucket, disabled subscribers and live
    /// connections, never the whole table. Statuses partition the total like [`Status`] does:
    /// disabled first, then expired, else active.
    ///
    /// [`Status`]: crate::queries::subscribers::Status
    pub(crate) async fn counts(&self, reseller: Option<i64>) -> Result<Counts> {
        let db = self.db.read();
        let now = now();
        let soon = now + self.policy.expiring_soon_days * 86_400;
        // `$1` is the reseller, or matches every row when counting for everyone.
        let (mine, bound) = match reseller {
            Some(id) => ("reseller_id = $1", id),
            None => ("$1 = $1", 0),
        };
        let count = |condition: &str| {
            format!("SELECT COUNT(*) FROM subscribers WHERE {mine} AND {condition}")
        };
        let total: i64 = match reseller {
            Some(id) => {
                sqlx::query_scalar("SELECT subscriber_count FROM resellers WHERE id = $1")
                    .bind(id)
                    .fetch_one(db)
                    .await?
            }
            None => {
                let owned: i64 = sqlx::query_scalar(
                    "SELECT CAST(COALESCE(SUM(subscriber_count), 0) AS BIGINT) FROM resellers",
                )
                .fetch_one(db)
                .await?;
                let admins: i64 = sqlx::query_scalar(&count("reseller_id IS NULL"))
                    .bind(bound)
                    .fetch_one(db)
                    .await?;
                owned + admins
            }
        };
        let active = self.watching(reseller, now).await?;
        let scalar = |sql: String, a: i64, b: i64| async move {
            sqlx::query_scalar::<_, i64>(&sql)
                .bind(bound)
                .bind(a)
                .bind(b)
                .fetch_one(db)
                .await
        };
        let disabled = scalar(count("active = 0 AND $2 = $3"), 0, 0).await?;
        let expiring_soon = scalar(
            count("active = 1 AND expires_at > $2 AND expires_at <= $3"),
            now,
            soon,
        )
        .await?;
        let connections = scalar(
            format!(
                "SELECT CAST(COALESCE(SUM(active_connections), 0) AS BIGINT) FROM subscribers \
                 WHERE {mine} AND active_connections > $2 AND $3 = $3"
            ),
            0,
            0,
        )
        .await?;
        let created_this_month =
            scalar(count("created_at >= $2 AND $3 = $3"), month_start(), 0).await?;
        Ok(Counts {
            total,
            active,
            expired: total - active - disabled,
            disabled,
            expiring_soon,
            connections: Some(connections),
            created_this_month,
        })
    }

    /// Enabled subscribers whose access has not expired: the expiry buckets after the current
    /// one, plus the current bucket's subscribers counted through the index.
    pub(crate) async fn watching(&self, reseller: Option<i64>, now: i64) -> Result<i64> {
        let bucket = now / EXPIRY_BUCKET;
        let (owner, mine, bound) = match reseller {
            Some(id) => ("owner = $1", "reseller_id = $1", id),
            None => ("$1 = $1", "$1 = $1", 0),
        };
        let later: i64 = sqlx::query_scalar(&format!(
            "SELECT CAST(COALESCE(SUM(enabled), 0) AS BIGINT) FROM expiry_buckets WHERE {owner} AND bucket > $2"
        ))
        .bind(bound)
        .bind(bucket)
        .fetch_one(self.db.read())
        .await?;
        let current: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM subscribers WHERE {mine} AND active = 1 AND expires_at > $2 AND expires_at < $3"
        ))
        .bind(bound)
        .bind(now)
        .bind((bucket + 1) * EXPIRY_BUCKET)
        .fetch_one(self.db.read())
        .await?;
        Ok(later + current)
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
