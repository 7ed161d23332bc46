//! Scheduled messages: each reseller's daily digest of subscribers about to expire (at the
//! configured hour of their own time zone, with a button to extend each) and the admins' daily
//! summary. Every instance looks each minute; a run is recorded in `scheduled_runs` under the
//! key (job, local day) in the transaction that queues its messages, so a day's digest is
//! queued once whichever instance looks first, and a restart never repeats it.

use crate::core::now;
use crate::notify::{self, Action, Button, Kind};
use crate::{Actor, Core, Result};
use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;

/// At most this many extend buttons under a digest (the list itself is complete).
const BUTTONS_MAX: usize = 20;
/// Days an extend button under a digest proposes.
pub const EXTEND_DAYS: i64 = 30;

/// When digests go out and what they cover.
#[derive(Debug, Clone)]
pub struct NotificationPolicy {
    /// The local hour (0–23) the daily digest and summary are queued in.
    pub digest_hour: u32,
    /// A subscriber expiring within this many days is listed.
    pub digest_days: i64,
    /// The time zone of resellers who set none, and of the admins' summary.
    pub time_zone: Tz,
}

impl Default for NotificationPolicy {
    fn default() -> Self {
        NotificationPolicy {
            digest_hour: 9,
            digest_days: 3,
            time_zone: Tz::UTC,
        }
    }
}

impl NotificationPolicy {
    /// From configuration: an hour 0–23, 1–30 days, an IANA time zone name; a sentence
    /// naming the setting otherwise.
    pub fn new(digest_hour: u32, digest_days: i64, time_zone: &str) -> Result<Self, String> {
        if digest_hour > 23 {
            return Err(format!(
                "notifications.digest_hour must be from 0 to 23, it is {digest_hour}"
            ));
        }
        if !(1..=30).contains(&digest_days) {
            return Err(format!(
                "notifications.digest_days must be from 1 to 30, it is {digest_days}"
            ));
        }
        let time_zone = time_zone.parse::<Tz>().map_err(|_| {
            format!(
                "notifications.default_time_zone must be an IANA time zone such as Europe/Berlin, it is “{}”",
                crate::domain::shorten(time_zone)
            )
        })?;
        Ok(NotificationPolicy {
            digest_hour,
            digest_days,
            time_zone,
        })
    }
}

/// What one pass queued.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Queued {
    /// Digests with at least one subscriber in them.
    pub digests: usize,
    /// Admins' summaries (one run for all admins).
    pub summaries: usize,
}

impl Core {
    /// The scheduler's pass: queues today's digest of every reseller whose local time is in the
    /// digest hour, and the admins' summary in theirs, each unless already queued for that day.
    pub async fn queue_scheduled(&self, at: DateTime<Utc>) -> Result<Queued> {
        self.queue_runs(at, false).await
    }

    /// `/digest now`: today's digests (and summary) that were not queued yet, whatever the
    /// hour, for catching up after downtime. Never twice for one day.
    pub async fn queue_digests_now(&self, actor: &Actor) -> Result<Queued> {
        actor.require_admin()?;
        self.queue_runs(Utc::now(), true).await
    }

    async fn queue_runs(&self, at: DateTime<Utc>, any_hour: bool) -> Result<Queued> {
        let policy = &self.policy.notifications;
        let in_hour = |tz: Tz| any_hour || at.with_timezone(&tz).hour() == policy.digest_hour;
        let mut queued = Queued::default();
        let resellers: Vec<(i64, Option<String>)> = sqlx::query_as(
            "SELECT id, time_zone FROM resellers \
             WHERE telegram_id IS NOT NULL AND active = 1 ORDER BY id",
        )
        .fetch_all(self.db.read())
        .await?;
        for (id, zone) in resellers {
            let tz = zone
                .and_then(|z| z.parse::<Tz>().ok())
                .unwrap_or(policy.time_zone);
            if !in_hour(tz) {
                continue;
            }
            let day = at.with_timezone(&tz).date_naive().to_string();
            if self.digest(id, &day, at.timestamp()).await? {
                queued.digests += 1;
            }
        }
        if in_hour(policy.time_zone) {
            let day = at.with_timezone(&policy.time_zone).date_naive().to_string();
            if self.summary(&day, at.timestamp()).await? {
                queued.summaries += 1;
            }
        }
        Ok(queued)
    }

    /// Queues one reseller's digest for `day` unless it was; `true` if it listed anyone.
    async fn digest(&self, reseller: i64, day: &str, at: i64) -> Result<bool> {
        let job = format!("digest:{reseller}");
        if self.ran(&job, day).await? {
            return Ok(false);
        }
        let mut tx = self.db.begin_write().await?;
        if !claim_run(&mut tx, &job, day).await? {
            return Ok(false);
        }
        let days = self.policy.notifications.digest_days;
        let due: Vec<(String, i64)> = sqlx::query_as(
            "SELECT username, expires_at FROM subscribers \
             WHERE reseller_id = $1 AND active = 1 AND expires_at > $2 AND expires_at <= $3 \
             ORDER BY expires_at, username",
        )
        .bind(reseller)
        .bind(at)
        .bind(at + days * 86_400)
        .fetch_all(&mut *tx)
        .await?;
        if !due.is_empty() {
            let (text, buttons) = digest_text(&due, days, at);
            notify::to_reseller_as(&mut tx, reseller, Kind::ExpiryDigest, &text, &buttons).await?;
        }
        tx.commit().await?;
        Ok(!due.is_empty())
    }

    /// Queues the admins' summary of the 24 hours before `at` unless it was for `day`.
    async fn summary(&self, day: &str, at: i64) -> Result<bool> {
        if self.ran("summary", day).await? {
            return Ok(false);
        }
        let mut tx = self.db.begin_write().await?;
        if !claim_run(&mut tx, "summary", day).await? {
            return Ok(false);
        }
        let since = at - 86_400;
        let (sold, spent): (i64, i64) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(CASE WHEN kind = 'purchase' THEN amount ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN kind = 'debit' THEN -amount ELSE 0 END), 0) AS BIGINT) \
             FROM credit_transactions WHERE created_at > $1",
        )
        .bind(since)
        .fetch_one(&mut *tx)
        .await?;
        let created: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM subscribers WHERE created_at > $1")
                .bind(since)
                .fetch_one(&mut *tx)
                .await?;
        let low: Vec<String> = sqlx::query_scalar(
            "SELECT username FROM resellers WHERE active = 1 AND balance < low_credit_threshold \
             ORDER BY username LIMIT 21",
        )
        .fetch_all(&mut *tx)
        .await?;
        let low = match low.len() {
            0 => "none".to_string(),
            n if n > 20 => format!("{}, …", low[..20].join(", ")),
            _ => low.join(", "),
        };
        let text = format!(
            "📊 The last 24 hours: {sold} credits sold, {spent} spent, {created} new subscribers.\nLow on credits: {low}."
        );
        notify::to_admins_as(&mut tx, Kind::DailySummary, &text).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Whether `job` already ran for `day`: a read, so a pass that finds everything done
    /// takes no write lock.
    async fn ran(&self, job: &str, day: &str) -> Result<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM scheduled_runs WHERE job = $1 AND day = $2")
                .bind(job)
                .bind(day)
                .fetch_optional(self.db.read())
                .await?;
        Ok(found.is_some())
    }
}

/// Records the run in the transaction that queues its messages; `false` if another instance
/// (or an earlier pass) already did.
async fn claim_run(tx: &mut crate::db::Tx, job: &str, day: &str) -> Result<bool> {
    let claimed = sqlx::query(
        "INSERT INTO scheduled_runs (job, day, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (job, day) DO NOTHING",
    )
    .bind(job)
    .bind(day)
    .bind(now())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(claimed == 1)
}

/// The digest's text (every subscriber due, soonest first) and its extend buttons.
fn digest_text(due: &[(String, i64)], days: i64, at: i64) -> (String, Vec<Button>) {
    let mut text = format!(
        "📅 {} expiring within {days} days:",
        match due.len() {
            1 => "1 subscriber".to_string(),
            n => format!("{n} subscribers"),
        }
    );
    for (username, expires) in due {
        let hours = ((expires - at) / 3600).max(0);
        let left = if hours < 24 {
            format!("{hours} h left")
        } else {
            format!("{} d left", hours / 24)
        };
        text.push_str(&format!(
            "\n• {username}: {} ({left})",
            crate::core::to_time(*expires).format("%Y-%m-%d %H:%M UTC")
        ));
    }
    let buttons = due
        .iter()
        .take(BUTTONS_MAX)
        .map(|(username, _)| Button {
            label: format!("Extend {username} +{EXTEND_DAYS}d"),
            action: Action::Extend {
                username: username.clone(),
                days: EXTEND_DAYS,
            },
        })
        .collect();
    (text, buttons)
}
