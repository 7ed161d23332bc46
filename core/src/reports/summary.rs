//! The month report: a reseller's figures, or everyone's with each reseller's line, a ranking
//! and the operator's KPIs. Definitions are in the [module above](super).

use super::{Month, Scope};
use crate::core::now;
use crate::{Actor, Core, Result};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};

/// One month's figures for a reseller, or summed over everyone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    pub bought: i64,
    pub granted: i64,
    pub spent: i64,
    pub taken_back: i64,
    /// Balance at the month's end (now, for the current month).
    pub left: i64,
    pub created: i64,
    pub extended: i64,
    pub expired: i64,
    pub deleted: i64,
    pub active_end: i64,
}

impl Figures {
    /// Expired plus deleted.
    pub fn churned(&self) -> i64 {
        self.expired + self.deleted
    }

    /// A reseller is active in a month when they created or extended a subscriber.
    pub fn active(&self) -> bool {
        self.created + self.extended > 0
    }

    fn add(&mut self, o: &Figures) {
        self.bought += o.bought;
        self.granted += o.granted;
        self.spent += o.spent;
        self.taken_back += o.taken_back;
        self.left += o.left;
        self.created += o.created;
        self.extended += o.extended;
        self.expired += o.expired;
        self.deleted += o.deleted;
        self.active_end += o.active_end;
    }
}

/// An amount in a currency's minor unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    pub currency: String,
    pub minor: i64,
}

/// One reseller's line in the admins' report.
#[derive(Debug, Clone)]
pub struct ResellerLine {
    pub username: String,
    pub figures: Figures,
    /// What the reseller paid for credits this month, per currency.
    pub revenue: Vec<Money>,
}

/// The operator's KPIs for a month.
#[derive(Debug, Clone)]
pub struct Kpis {
    /// Enabled resellers.
    pub resellers: i64,
    /// Resellers who created or extended a subscriber in the month.
    pub active_resellers: i64,
    /// Active subscribers at month end per enabled reseller.
    pub subscribers_per_reseller: f64,
    /// Credits bought through paid orders.
    pub purchase_volume: i64,
    /// Resellers active in the previous month but not in this one, as a share of the
    /// previous month's active resellers; `None` when none were active.
    pub reseller_churn: Option<f64>,
    /// Subscriber creations pushed to the panel that it accepted, of those finished in the
    /// month; `None` without finished jobs (no external panel).
    pub creation_success: Option<f64>,
    /// Every panel change accepted, of those finished in the month.
    pub sync_success: Option<f64>,
}

/// A month's report.
#[derive(Debug, Clone)]
pub struct MonthReport {
    pub month: Month,
    /// The reseller's figures, or everyone's (admin-owned subscribers included).
    pub totals: Figures,
    /// The same for the month before, to compare.
    pub previous: Figures,
    /// Paid orders' amounts, per currency.
    pub revenue: Vec<Money>,
    /// Admins only: every reseller, ranked by credits bought, then spent, then active
    /// subscribers.
    pub ranking: Vec<ResellerLine>,
    /// Admins only.
    pub kpis: Option<Kpis>,
}

/// Figures per owner (`None`: admin-owned subscribers).
type ByOwner = HashMap<Option<i64>, Figures>;

impl Core {
    /// The month report `actor` may see.
    pub async fn month_report(&self, actor: &Actor, month: Month) -> Result<MonthReport> {
        let scope = self.report_scope(actor).await?;
        let current = self.figures(scope, month).await?;
        let before = self.figures(scope, month.previous()).await?;
        let total = |by: &ByOwner| {
            by.values().fold(Figures::default(), |mut t, f| {
                t.add(f);
                t
            })
        };
        let revenue = self.revenue(scope, month).await?;
        let mut all = BTreeMap::<String, i64>::new();
        for money in revenue.values().flatten() {
            *all.entry(money.currency.clone()).or_default() += money.minor;
        }
        let (ranking, kpis) = match scope {
            Scope::Reseller(_) => (Vec::new(), None),
            Scope::All => {
                let ranking = self.ranking(&current, &revenue).await?;
                let kpis = self.kpis(month, &current, &before).await?;
                (ranking, Some(kpis))
            }
        };
        Ok(MonthReport {
            month,
            totals: total(&current),
            previous: total(&before),
            revenue: all
                .into_iter()
                .map(|(currency, minor)| Money { currency, minor })
                .collect(),
            ranking,
            kpis,
        })
    }

    /// Each owner's figures for `month`, in five grouped queries over indexed ranges.
    async fn figures(&self, scope: Scope, month: Month) -> Result<ByOwner> {
        let db = self.db.read();
        let (start, end) = (month.start(), month.end());
        let cut = end.min(now());
        let mut by = ByOwner::new();

        let (mine, id) = scope.filter("reseller_id", 1);
        let rows = sqlx::query(&format!(
            "SELECT reseller_id, \
             CAST(COALESCE(SUM(CASE WHEN kind = 'purchase' THEN amount ELSE 0 END), 0) AS BIGINT) AS bought, \
             CAST(COALESCE(SUM(CASE WHEN kind <> 'purchase' AND amount > 0 THEN amount ELSE 0 END), 0) AS BIGINT) AS granted, \
             CAST(COALESCE(SUM(CASE WHEN kind = 'debit' THEN -amount ELSE 0 END), 0) AS BIGINT) AS spent, \
             CAST(COALESCE(SUM(CASE WHEN kind <> 'debit' AND amount < 0 THEN -amount ELSE 0 END), 0) AS BIGINT) AS taken \
             FROM credit_transactions WHERE {mine} AND created_at >= $2 AND created_at < $3 GROUP BY reseller_id"
        ))
        .bind(id)
        .bind(start)
        .bind(end)
        .fetch_all(db)
        .await?;
        for r in rows {
            let f = by.entry(r.try_get("reseller_id")?).or_default();
            f.bought = r.try_get("bought")?;
            f.granted = r.try_get("granted")?;
            f.spent = r.try_get("spent")?;
            f.taken_back = r.try_get("taken")?;
        }

        // The balance then: today's less what moved after the month (nothing, for the
        // current one).
        let (mine, id) = scope.filter("r.id", 1);
        let (theirs, _) = scope.filter("reseller_id", 1);
        let rows = sqlx::query(&format!(
            "SELECT r.id, r.balance - COALESCE(m.moved, 0) AS left_then FROM resellers r \
             LEFT JOIN (SELECT reseller_id, CAST(SUM(amount) AS BIGINT) AS moved FROM credit_transactions \
             WHERE {theirs} AND created_at >= $2 GROUP BY reseller_id) m ON m.reseller_id = r.id \
             WHERE {mine} AND r.created_at < $2"
        ))
        .bind(id)
        .bind(end)
        .fetch_all(db)
        .await?;
        for r in rows {
            by.entry(Some(r.try_get("id")?)).or_default().left = r.try_get("left_then")?;
        }

        let (mine, id) = scope.filter("reseller_id", 1);
        let rows = sqlx::query(&format!(
            "SELECT reseller_id, \
             CAST(COALESCE(SUM(CASE WHEN action = 'subscriber.extend' THEN 0 WHEN action = 'subscriber.delete' THEN 0 ELSE 1 END), 0) AS BIGINT) AS created, \
             CAST(COALESCE(SUM(CASE WHEN action = 'subscriber.extend' THEN 1 ELSE 0 END), 0) AS BIGINT) AS extended, \
             CAST(COALESCE(SUM(CASE WHEN action = 'subscriber.delete' THEN 1 ELSE 0 END), 0) AS BIGINT) AS deleted \
             FROM audit_log WHERE {mine} AND created_at >= $2 AND created_at < $3 \
             AND action IN ('subscriber.create', 'subscriber.trial', 'subscriber.extend', 'subscriber.delete') \
             GROUP BY reseller_id"
        ))
        .bind(id)
        .bind(start)
        .bind(end)
        .fetch_all(db)
        .await?;
        for r in rows {
            let f = by.entry(r.try_get("reseller_id")?).or_default();
            f.created = r.try_get("created")?;
            f.extended = r.try_get("extended")?;
            f.deleted = r.try_get("deleted")?;
        }

        for (column, condition, lo) in [
            ("expired", "expires_at >= $2 AND expires_at < $3", start),
            // Every row was created before `end`; its expiry is compared with now in the
            // current month.
            (
                "active",
                "active = 1 AND created_at < $2 AND expires_at >= $3",
                end,
            ),
        ] {
            let rows = sqlx::query(&format!(
                "SELECT reseller_id, COUNT(*) AS n FROM subscribers WHERE {mine} AND {condition} \
                 GROUP BY reseller_id"
            ))
            .bind(id)
            .bind(lo)
            .bind(cut)
            .fetch_all(db)
            .await?;
            for r in rows {
                let f = by.entry(r.try_get("reseller_id")?).or_default();
                let n: i64 = r.try_get("n")?;
                if column == "expired" {
                    f.expired = n;
                } else {
                    f.active_end = n;
                }
            }
        }
        Ok(by)
    }

    /// Paid orders' amounts per reseller and currency.
    async fn revenue(&self, scope: Scope, month: Month) -> Result<HashMap<i64, Vec<Money>>> {
        let (mine, id) = scope.filter("reseller_id", 1);
        let rows = sqlx::query(&format!(
            "SELECT reseller_id, currency, CAST(SUM(amount_minor) AS BIGINT) AS minor FROM orders \
             WHERE {mine} AND status = 'paid' AND paid_at >= $2 AND paid_at < $3 \
             GROUP BY reseller_id, currency ORDER BY currency"
        ))
        .bind(id)
        .bind(month.start())
        .bind(month.end())
        .fetch_all(self.db.read())
        .await?;
        let mut by = HashMap::<i64, Vec<Money>>::new();
        for r in rows {
            by.entry(r.try_get("reseller_id")?)
                .or_default()
                .push(Money {
                    currency: r.try_get("currency")?,
                    minor: r.try_get("minor")?,
                });
        }
        Ok(by)
    }

    /// Every reseller's line, best first.
    async fn ranking(
        &self,
        figures: &ByOwner,
        revenue: &HashMap<i64, Vec<Money>>,
    ) -> Result<Vec<ResellerLine>> {
        let names: Vec<(i64, String)> = sqlx::query_as("SELECT id, username FROM resellers")
            .fetch_all(self.db.read())
            .await?;
        let mut lines: Vec<ResellerLine> = names
            .into_iter()
            .filter_map(|(id, username)| {
                let figures = *figures.get(&Some(id))?;
                Some(ResellerLine {
                    username,
                    figures,
                    revenue: revenue.get(&id).cloned().unwrap_or_default(),
                })
            })
            .collect();
        lines.sort_by(|a, b| {
            let key = |l: &ResellerLine| (l.figures.bought, l.figures.spent, l.figures.active_end);
            key(b)
                .cmp(&key(a))
                .then_with(|| a.username.cmp(&b.username))
        });
        Ok(lines)
    }

    async fn kpis(&self, month: Month, now: &ByOwner, before: &ByOwner) -> Result<Kpis> {
        let db = self.db.read();
        let resellers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM resellers WHERE active = 1")
            .fetch_one(db)
            .await?;
        let active = |by: &ByOwner, id: &Option<i64>| {
            id.is_some() && by.get(id).is_some_and(Figures::active)
        };
        let active_resellers = now.keys().filter(|id| active(now, id)).count() as i64;
        let was_active: Vec<_> = before.keys().filter(|id| active(before, id)).collect();
        let lost = was_active.iter().filter(|id| !active(now, id)).count();
        let active_subscribers: i64 = now.values().map(|f| f.active_end).sum();
        let share = |part: i64, whole: i64| (whole > 0).then(|| part as f64 / whole as f64);
        let (created_done, created_all, done, all): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT \
             CAST(COALESCE(SUM(CASE WHEN kind = 'create' AND status = 'done' THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN kind = 'create' THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN status = 'done' THEN 1 ELSE 0 END), 0) AS BIGINT), \
             COUNT(*) FROM sync_jobs WHERE finished_at >= $1 AND finished_at < $2 \
             AND status IN ('done', 'failed', 'dropped')",
        )
        .bind(month.start())
        .bind(month.end())
        .fetch_one(db)
        .await?;
        Ok(Kpis {
            resellers,
            active_resellers,
            subscribers_per_reseller: share(active_subscribers, resellers).unwrap_or(0.0),
            purchase_volume: now.values().map(|f| f.bought).sum(),
            reseller_churn: share(lost as i64, was_active.len() as i64),
            creation_success: share(created_done, created_all),
            sync_success: share(done, all),
        })
    }
}
