//! The series behind the charts, each from grouped queries over an indexed time range.
//!
//! Active subscribers per day are reconstructed from the subscribers that exist now: one is
//! counted active on a day when it is enabled, was created before the day's end and its
//! current expiry is after it. That is exact for subscribers renewed before they lapsed;
//! it leaves out what the table no longer holds: a subscriber renewed after a lapse counts
//! through its gap (the renewal moved its expiry), a deleted one is missing from its past
//! days, and a disabled one from all of them.

use super::{Month, Scope};
use crate::core::{now, to_time};
use crate::{Actor, Core, Result};
use chrono::{Datelike, Duration, NaiveTime};
use std::collections::BTreeMap;

/// Days of subscriber growth.
pub const GROWTH_DAYS: i64 = 90;
/// Weeks of credits spent.
pub const CREDIT_WEEKS: i64 = 12;
/// Months of revenue.
pub const REVENUE_MONTHS: usize = 12;

const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;

/// One x position: its label (an ISO date or a month) and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub label: String,
    pub value: f64,
}

/// A chart's data: one or more named lines over the same labels.
#[derive(Debug, Clone)]
pub struct Series {
    pub title: String,
    /// What the values count (“subscribers”, “credits”, a currency).
    pub lines: Vec<(String, Vec<Point>)>,
}

impl Core {
    /// Active subscribers at the end of each of the last 90 days (now, for today).
    pub async fn growth_series(&self, actor: &Actor) -> Result<Series> {
        let scope = self.report_scope(actor).await?;
        let now = now();
        let today = to_time(now)
            .date_naive()
            .and_time(NaiveTime::MIN)
            .and_utc()
            .timestamp();
        let first = today - (GROWTH_DAYS - 1) * DAY;
        let created_before = self.count_before(scope, "created_at", first).await?;
        let expired_before = self.count_before(scope, "expires_at", first).await?;
        let created = self
            .per_bucket(scope, "created_at", first, now, DAY)
            .await?;
        let expired = self
            .per_bucket(scope, "expires_at", first, now, DAY)
            .await?;
        let mut active = created_before - expired_before;
        let points = (0..GROWTH_DAYS)
            .map(|day| {
                active += created.get(&day).copied().unwrap_or(0)
                    - expired.get(&day).copied().unwrap_or(0);
                Point {
                    label: to_time(first + day * DAY).format("%Y-%m-%d").to_string(),
                    value: active as f64,
                }
            })
            .collect();
        Ok(Series {
            title: format!("Active subscribers, last {GROWTH_DAYS} days"),
            lines: vec![("subscribers".into(), points)],
        })
    }

    /// Credits spent on subscribers in each of the last 12 weeks (Monday to Sunday, UTC).
    pub async fn credits_series(&self, actor: &Actor) -> Result<Series> {
        let scope = self.report_scope(actor).await?;
        let now = now();
        let date = to_time(now).date_naive();
        let monday = date - Duration::days(i64::from(date.weekday().num_days_from_monday()));
        let first =
            monday.and_time(NaiveTime::MIN).and_utc().timestamp() - (CREDIT_WEEKS - 1) * WEEK;
        let (mine, id) = scope.filter("reseller_id", 1);
        let rows: Vec<(i64, i64)> = sqlx::query_as(&format!(
            "SELECT (created_at - $2) / {WEEK} AS week, CAST(SUM(-amount) AS BIGINT) FROM credit_transactions \
             WHERE {mine} AND kind = 'debit' AND created_at >= $2 GROUP BY (created_at - $2) / {WEEK}"
        ))
        .bind(id)
        .bind(first)
        .fetch_all(self.db.read())
        .await?;
        let spent: BTreeMap<i64, i64> = rows.into_iter().collect();
        let points = (0..CREDIT_WEEKS)
            .map(|w| Point {
                label: to_time(first + w * WEEK).format("%Y-%m-%d").to_string(),
                value: spent.get(&w).copied().unwrap_or(0) as f64,
            })
            .collect();
        Ok(Series {
            title: format!("Credits spent per week, last {CREDIT_WEEKS} weeks"),
            lines: vec![("credits".into(), points)],
        })
    }

    /// Revenue from paid orders in each of the last 12 months, one line per currency, in the
    /// currency's major unit. Grouped by day in SQL (months have no portable arithmetic), then
    /// the few hundred days into months here.
    pub async fn revenue_series(&self, actor: &Actor) -> Result<Series> {
        let scope = self.report_scope(actor).await?;
        let mut months = vec![Month::current()];
        while months.len() < REVENUE_MONTHS {
            let earlier = months[months.len() - 1].previous();
            months.push(earlier);
        }
        months.reverse();
        let first = months[0].start();
        let (mine, id) = scope.filter("reseller_id", 1);
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(&format!(
            "SELECT (paid_at - $2) / {DAY} AS day, currency, CAST(SUM(amount_minor) AS BIGINT) FROM orders \
             WHERE {mine} AND status = 'paid' AND paid_at >= $2 GROUP BY (paid_at - $2) / {DAY}, currency"
        ))
        .bind(id)
        .bind(first)
        .fetch_all(self.db.read())
        .await?;
        let mut by_currency = BTreeMap::<String, Vec<i64>>::new();
        for (day, currency, minor) in rows {
            let at = first + day * DAY;
            let slot = months.iter().rposition(|m| m.start() <= at).unwrap_or(0);
            by_currency
                .entry(currency)
                .or_insert_with(|| vec![0; months.len()])[slot] += minor;
        }
        let lines = by_currency
            .into_iter()
            .map(|(currency, sums)| {
                let scale = 10f64.powi(crate::payments::exponent(&currency) as i32);
                let points = months
                    .iter()
                    .zip(sums)
                    .map(|(m, minor)| Point {
                        label: m.to_string(),
                        value: minor as f64 / scale,
                    })
                    .collect();
                (currency, points)
            })
            .collect();
        Ok(Series {
            title: format!("Revenue per month, last {REVENUE_MONTHS} months"),
            lines,
        })
    }

    /// Enabled subscribers whose `column` is before `at`.
    async fn count_before(&self, scope: Scope, column: &str, at: i64) -> Result<i64> {
        let (mine, id) = scope.filter("reseller_id", 1);
        Ok(sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM subscribers WHERE {mine} AND active = 1 AND {column} < $2"
        ))
        .bind(id)
        .bind(at)
        .fetch_one(self.db.read())
        .await?)
    }

    /// Enabled subscribers whose `column` falls in each `width`-second bucket from `from`
    /// up to `to`.
    async fn per_bucket(
        &self,
        scope: Scope,
        column: &str,
        from: i64,
        to: i64,
        width: i64,
    ) -> Result<BTreeMap<i64, i64>> {
        let (mine, id) = scope.filter("reseller_id", 1);
        let rows: Vec<(i64, i64)> = sqlx::query_as(&format!(
            "SELECT ({column} - $2) / {width} AS bucket, COUNT(*) FROM subscribers \
             WHERE {mine} AND active = 1 AND {column} >= $2 AND {column} < $3 \
             GROUP BY ({column} - $2) / {width}"
        ))
        .bind(id)
        .bind(from)
        .bind(to)
        .fetch_all(self.db.read())
        .await?;
        Ok(rows.into_iter().collect())
    }
}
