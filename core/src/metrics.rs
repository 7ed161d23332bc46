//! What resellerbot measures, in one place: every metric's name and labels, recorded through
//! the `metrics` facade (a no-op until the binary installs a recorder), and the gauges read
//! from the database for `/metrics`.
//!
//! Counters and histograms are per process. The gauges are computed by SQL over the whole
//! database, so with several instances each reports the same figures (take `max`, not `sum`);
//! each instance refreshes its own copy, at most once a minute.

use crate::core::now;
use crate::ledger::Kind;
use crate::{Core, Result};
use std::time::Duration;

/// Seconds, for every latency histogram: from a cached login (about a millisecond) to a slow
/// Telegram round trip or panel call (tens of seconds).
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How long one bot update took to handle (a dashboard, a button press), by update kind.
pub fn bot_update(kind: &'static str, took: Duration) {
    metrics::histogram!("resellerbot_bot_update_seconds", "kind" => kind).record(took);
}

/// A subscriber creation carried out (`created`) or refused or failed (`failed`); replays of
/// an earlier creation are not counted again.
pub(crate) fn subscriber_creation(created: bool) {
    let outcome = if created { "created" } else { "failed" };
    metrics::counter!("resellerbot_subscriber_creations_total", "outcome" => outcome).increment(1);
}

/// A ledger row was written, by kind. Counted when the row is inserted: the rare transaction
/// that fails after its posting (a creation over `max_users`, a database error) still counts.
pub(crate) fn credit_transaction(kind: Kind) {
    metrics::counter!("resellerbot_credit_transactions_total", "kind" => kind.as_str())
        .increment(1);
}

/// One delivery attempt of a sync job: `done`, `later` (retried) or `refused`, and its time.
pub fn sync_delivery(outcome: &'static str, took: Duration) {
    metrics::counter!("resellerbot_sync_deliveries_total", "outcome" => outcome).increment(1);
    metrics::histogram!("resellerbot_sync_delivery_seconds", "outcome" => outcome).record(took);
}

/// An operation failed on our side (logged as an error; users saw "something went wrong").
pub fn error(operation: &'static str) {
    metrics::counter!("resellerbot_errors_total", "operation" => operation).increment(1);
}

/// A payment webhook was answered: by provider, and `applied`, `duplicate`, `refused`
/// (signature or body), `disabled` or `error`.
pub fn webhook(provider: &'static str, outcome: &'static str) {
    metrics::counter!("resellerbot_webhooks_total", "provider" => provider, "outcome" => outcome)
        .increment(1);
}

/// A player API request was answered: by endpoint and HTTP status, with its time.
pub fn player_request(endpoint: &'static str, status: u16, took: Duration) {
    metrics::counter!(
        "resellerbot_player_requests_total",
        "endpoint" => endpoint,
        "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!("resellerbot_player_request_seconds", "endpoint" => endpoint).record(took);
}

/// Outbox depths and business figures, read from the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gauges {
    /// Sync jobs not delivered yet (pending or retrying), and the age of the oldest in seconds.
    pub sync_jobs_open: i64,
    pub sync_oldest_age: i64,
    /// Notifications neither sent nor failed, and the age of the oldest in seconds.
    pub notifications_unsent: i64,
    pub notifications_oldest_age: i64,
    /// Viewing sessions, as written to the database by every instance.
    pub live_sessions: i64,
    pub resellers_active: i64,
    /// Enabled and not expired; enabled and expired (disabled ones are in neither).
    pub subscribers_active: i64,
    pub subscribers_expired: i64,
    /// Credits held by all resellers together (debts count against it).
    pub credits_outstanding: i64,
}

impl Gauges {
    /// Sets the gauges to these figures.
    pub fn publish(&self) {
        let set = |name: &'static str, value: i64| metrics::gauge!(name).set(value as f64);
        set("resellerbot_sync_jobs_open", self.sync_jobs_open);
        set(
            "resellerbot_sync_oldest_open_age_seconds",
            self.sync_oldest_age,
        );
        set(
            "resellerbot_notifications_unsent",
            self.notifications_unsent,
        );
        set(
            "resellerbot_notifications_oldest_unsent_age_seconds",
            self.notifications_oldest_age,
        );
        set("resellerbot_live_sessions", self.live_sessions);
        set("resellerbot_resellers_active", self.resellers_active);
        metrics::gauge!("resellerbot_subscribers", "state" => "active")
            .set(self.subscribers_active as f64);
        metrics::gauge!("resellerbot_subscribers", "state" => "expired")
            .set(self.subscribers_expired as f64);
        set("resellerbot_credits_outstanding", self.credits_outstanding);
    }
}

impl Core {
    /// Reads the gauges: a few indexed queries (the subscriber figures come from the same
    /// counters as the admins' dashboard), so never a scan of the subscribers table.
    pub async fn gauges(&self) -> Result<Gauges> {
        let now = now();
        let age = |oldest: Option<i64>| oldest.map_or(0, |t| (now - t).max(0));
        let (sync_jobs_open, sync_oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(created_at) FROM sync_jobs WHERE status IN ('pending', 'retrying')",
        )
        .fetch_one(self.db.read())
        .await?;
        let (notifications_unsent, notifications_oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(created_at) FROM notifications WHERE sent_at IS NULL AND failed_at IS NULL",
        )
        .fetch_one(self.db.read())
        .await?;
        let (resellers_active, credits_outstanding): (i64, i64) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(active), 0) AS BIGINT), CAST(COALESCE(SUM(balance), 0) AS BIGINT) FROM resellers",
        )
        .fetch_one(self.db.read())
        .await?;
        let counts = self.counts(None).await?;
        Ok(Gauges {
            sync_jobs_open,
            sync_oldest_age: age(sync_oldest),
            notifications_unsent,
            notifications_oldest_age: age(notifications_oldest),
            live_sessions: counts.connections.unwrap_or(0),
            resellers_active,
            subscribers_active: counts.active,
            subscribers_expired: counts.expired,
            credits_outstanding,
        })
    }
}
