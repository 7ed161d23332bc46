//! What lets several instances share one bot: the ids of updates already received, so one
//! delivered twice (a webhook retry, a poller taking over from another) is answered once, and
//! the lock that lets exactly one instance poll. Only ids here; the bot owns the updates.

use crate::core::now;
use crate::{Core, Result};
use sqlx::Connection as _;
use sqlx::postgres::PgConnection;
use std::time::Duration;

/// How often a held poller lock checks that its connection is still up.
const LOCK_CHECK: Duration = Duration::from_secs(1);

impl Core {
    /// Records that update `update_id` arrived; `false` if it was recorded before, so the
    /// caller drops it instead of answering it again.
    pub async fn record_update(&self, update_id: i64) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO telegram_updates (update_id, received_at) VALUES ($1, $2) \
             ON CONFLICT (update_id) DO NOTHING",
        )
        .bind(update_id)
        .bind(now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(inserted == 1)
    }

    /// Forgets update ids recorded more than `age` ago (Telegram stops redelivering long
    /// before); returns how many.
    pub async fn prune_updates(&self, age: Duration) -> Result<u64> {
        let cutoff = now() - i64::try_from(age.as_secs()).unwrap_or(i64::MAX);
        let mut tx = self.db.begin_write().await?;
        let pruned = sqlx::query("DELETE FROM telegram_updates WHERE received_at < $1")
            .bind(cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(pruned)
    }

    /// Tries to become the one instance that polls for bot `key`; `None` while another holds it.
    ///
    /// On PostgreSQL this is a session advisory lock on a connection of its own, outside the
    /// pool: if this process dies its connection closes and the lock is free for the next
    /// instance. SQLite has one process, so the lock is always granted.
    pub async fn try_poller_lock(&self, key: i64) -> Result<Option<PollerLock>> {
        let Some(url) = self.db.postgres_url() else {
            return Ok(Some(PollerLock { conn: None }));
        };
        let mut conn = PgConnection::connect(url).await?;
        let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut conn)
            .await?;
        if held {
            Ok(Some(PollerLock { conn: Some(conn) }))
        } else {
            conn.close().await?;
            Ok(None)
        }
    }
}

/// The right to poll, held while its connection lives (PostgreSQL) or always (SQLite).
pub struct PollerLock {
    conn: Option<PgConnection>,
}

impl std::fmt::Debug for PollerLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PollerLock")
            .field("postgres", &self.conn.is_some())
            .finish()
    }
}

impl PollerLock {
    /// Completes once the lock may have been lost: its connection stopped answering, so
    /// PostgreSQL may already have given it to another instance. Never completes on SQLite.
    pub async fn lost(&mut self) {
        let Some(conn) = self.conn.as_mut() else {
            return std::future::pending().await;
        };
        loop {
            tokio::time::sleep(LOCK_CHECK).await;
            let alive = tokio::time::timeout(LOCK_CHECK * 2, conn.ping()).await;
            if !matches!(alive, Ok(Ok(()))) {
                return;
            }
        }
    }

    /// Gives the lock up now (closing its connection releases it), rather than when the
    /// connection is noticed gone.
    pub async fn release(self) {
        if let Some(conn) = self.conn {
            let _ = conn.close().await;
        }
    }
}
