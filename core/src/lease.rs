//! Leases on outbox rows, so several instances over one database share the work without doing
//! any of it twice. A worker claims rows for a while (`lease_owner` = its instance, `lease_until`
//! in Unix seconds), renews its leases while it works, records a row's result only while its
//! lease is live, and gives back what it did not start when it stops. A lease that runs out (its
//! owner died or stalled) returns the row to whoever claims next; a late answer under it is then
//! ignored, so it can neither reopen a finished row nor close one someone else decided.
//!
//! [`Core::work_leased`] is the one shape every outbox worker has: claim, do each, stop cleanly.
//! A worker supplies only its claim and its "do".

use crate::core::now;
use crate::db::Backend;
use crate::{Core, Result};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// A table of work claimed with leases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outbox {
    /// Subscriber changes for the external panel (`crate::sync`).
    SyncJobs,
    /// Messages to people (`crate::notify`).
    Notifications,
    /// Admin broadcasts, each claimed whole (`crate::broadcast`).
    Broadcasts,
}

impl Outbox {
    pub(crate) fn table(self) -> &'static str {
        match self {
            Outbox::SyncJobs => "sync_jobs",
            Outbox::Notifications => "notifications",
            Outbox::Broadcasts => "broadcasts",
        }
    }
}

/// Proof of a claim: handed out with the claimed rows, handed back with their results. Only
/// the instance that claimed a row holds one for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub(crate) owner: Arc<str>,
}

/// What a worker does after one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// On to the next item.
    Next,
    /// Something outside is failing (Telegram unreachable, say): give back the rest of the batch
    /// and wait this long before claiming again.
    Pause(Duration),
}

/// The SQL condition "this lease is ours and still live", with the owner at `$owner` and the
/// current time at `$now` (placeholder numbers of the statement it goes into).
pub(crate) fn held(owner: usize, now: usize) -> String {
    format!("lease_owner = ${owner} AND lease_until >= ${now}")
}

impl Core {
    /// This instance's lease, as handed out with what it claims.
    pub(crate) fn lease(&self) -> Lease {
        Lease {
            owner: self.instance.clone(),
        }
    }

    /// How long a claim on `outbox` lasts unless renewed.
    pub fn lease_length(&self, outbox: Outbox) -> Duration {
        match outbox {
            Outbox::SyncJobs => self.policy.sync_lease,
            Outbox::Notifications | Outbox::Broadcasts => self.policy.notification_lease,
        }
    }

    /// When a lease on `outbox` taken now runs out, in Unix seconds (at least a second away).
    pub(crate) fn lease_until(&self, outbox: Outbox) -> i64 {
        now() + (self.lease_length(outbox).as_secs() as i64).max(1)
    }

    /// The clause that makes a claim skip rows another transaction is claiming: PostgreSQL's
    /// row locks; SQLite has one writer at a time, so its claims never overlap anyway.
    pub(crate) fn skip_locked(&self) -> &'static str {
        match self.db.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        }
    }

    /// Extends this instance's live leases on `outbox` by a full lease length. An expired lease
    /// is not revived: its rows may already be someone else's.
    pub async fn renew_leases(&self, outbox: Outbox) -> Result<u64> {
        let sql = format!(
            "UPDATE {} SET lease_until = $1 WHERE {}",
            outbox.table(),
            held(2, 3)
        );
        let mut tx = self.db.begin_write().await?;
        let renewed = sqlx::query(&sql)
            .bind(self.lease_until(outbox))
            .bind(&*self.instance)
            .bind(now())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(renewed)
    }

    /// Gives back every row of `outbox` this instance holds, for another instance (or this one)
    /// to claim at once: a stopping worker's unstarted work, or a batch it cannot finish now.
    pub async fn release_leases(&self, outbox: Outbox) -> Result<u64> {
        let sql = format!(
            "UPDATE {} SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1",
            outbox.table()
        );
        let mut tx = self.db.begin_write().await?;
        let released = sqlx::query(&sql)
            .bind(&*self.instance)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(released)
    }

    /// Runs an outbox worker until `stop` completes: claims a batch with `claim`, hands each
    /// item to `each` while renewing the batch's leases every third of a lease, and looks at an
    /// empty outbox again after `idle`. Once `stop` completes it finishes the item in hand,
    /// gives back the rest of its leases and returns.
    pub async fn work_leased<T, C, CF, E, EF>(
        &self,
        outbox: Outbox,
        idle: Duration,
        stop: impl Future<Output = ()>,
        mut claim: C,
        mut each: E,
    ) where
        C: FnMut() -> CF,
        CF: Future<Output = Result<Vec<T>>>,
        E: FnMut(T) -> EF,
        EF: Future<Output = Step>,
    {
        let mut stop = std::pin::pin!(stop);
        let mut stopped = false;
        while !stopped {
            let pause = match claim().await {
                Ok(batch) if batch.is_empty() => idle,
                Ok(batch) => {
                    let work = async {
                        for item in batch {
                            if completed(stop.as_mut(), &mut stopped).await {
                                return Duration::ZERO;
                            }
                            if let Step::Pause(wait) = each(item).await {
                                if let Err(e) = self.release_leases(outbox).await {
                                    tracing::error!(?outbox, error = ?e, "could not give back leases");
                                }
                                return wait;
                            }
                        }
                        Duration::ZERO
                    };
                    self.renewing(outbox, work).await
                }
                Err(e) => {
                    tracing::error!(?outbox, error = ?e, "could not claim outbox work");
                    idle * 4
                }
            };
            if !stopped && !pause.is_zero() {
                tokio::select! {
                    _ = stop.as_mut() => stopped = true,
                    _ = tokio::time::sleep(pause) => {}
                }
            }
            completed(stop.as_mut(), &mut stopped).await;
        }
        if let Err(e) = self.release_leases(outbox).await {
            tracing::error!(?outbox, error = ?e, "could not give back leases on stop");
        }
    }

    /// Runs `work`, renewing this instance's leases on `outbox` every third of a lease, so
    /// work that takes longer than one lease keeps what it claimed. The renewals run beside
    /// `work`, never instead of it: on SQLite both need the one write connection, and a renewal
    /// waiting for it while `work` held it unpolled would wait out the pool's timeout.
    async fn renewing<T>(&self, outbox: Outbox, work: impl Future<Output = T>) -> T {
        let every = (self.lease_length(outbox) / 3).max(Duration::from_millis(100));
        let renewals = async {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                if let Err(e) = self.renew_leases(outbox).await {
                    tracing::error!(?outbox, error = ?e, "could not renew leases");
                }
            }
        };
        tokio::select! {
            out = work => out,
            never = renewals => never,
        }
    }
}

/// Whether `stop` has completed, without waiting; remembered in `stopped`, since a completed
/// future must not be polled again.
async fn completed(stop: std::pin::Pin<&mut impl Future<Output = ()>>, stopped: &mut bool) -> bool {
    if !*stopped {
        *stopped = tokio::select! {
            biased;
            _ = stop => true,
            _ = std::future::ready(()) => false,
        };
    }
    *stopped
}
