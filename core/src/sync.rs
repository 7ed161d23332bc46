//! The outbox towards an external streaming panel. Every subscriber change writes a job in its
//! own transaction (so nothing is lost); a worker outside core delivers the jobs in order per
//! subscriber and reports back here. A creation the panel refuses for good on its first attempt
//! gives the credits back, once, and disables the subscriber they paid for.

use crate::core::now;
use crate::db::Tx;
use crate::domain::ResellerId;
use crate::lease::{Lease, Outbox, held};
use crate::ledger::{self, Kind, Posting};
use crate::queries::thousands;
use crate::{Actor, Core, CoreError, Result, audit, notify};
use sqlx::Row;

/// What happened to a subscriber, for the panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Create,
    Extend,
    Reset,
    Enable,
    Disable,
    Delete,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Create => "create",
            JobKind::Extend => "extend",
            JobKind::Reset => "reset",
            JobKind::Enable => "enable",
            JobKind::Disable => "disable",
            JobKind::Delete => "delete",
        }
    }

    fn parse(s: &str) -> JobKind {
        match s {
            "create" => JobKind::Create,
            "extend" => JobKind::Extend,
            "reset" => JobKind::Reset,
            "enable" => JobKind::Enable,
            "disable" => JobKind::Disable,
            _ => JobKind::Delete,
        }
    }
}

/// A job as the worker claimed it, with the subscriber's state right after the change (`None`
/// for a deletion). Its results are recorded only under its lease.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub kind: JobKind,
    pub username: String,
    pub attempts: i64,
    pub current: Option<SubscriberState>,
    pub lease: Lease,
}

#[derive(Clone)]
pub struct SubscriberState {
    pub password: String,
    pub expires_at: i64,
    pub max_connections: i64,
    pub active: bool,
}

/// The password is never printed.
impl std::fmt::Debug for SubscriberState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriberState")
            .field("password", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("max_connections", &self.max_connections)
            .field("active", &self.active)
            .finish()
    }
}

/// A line of `/syncstatus`.
#[derive(Debug, Clone)]
pub struct JobSummary {
    pub id: i64,
    pub kind: String,
    pub username: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// Writes a job for `username`, in the change's transaction, if a panel is configured.
pub(crate) async fn enqueue(
    tx: &mut Tx,
    enabled: bool,
    username: &str,
    reseller: Option<ResellerId>,
    kind: JobKind,
    refund_credits: i64,
) -> Result<()> {
    if !enabled {
        return Ok(());
    }
    let state: Option<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT password_enc, expires_at, max_connections, active FROM subscribers WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(&mut **tx)
    .await?;
    // The password stays encrypted, as in the subscribers table.
    let payload = state.map(|(password_enc, expires_at, max_connections, active)| {
        serde_json::json!({
            "password_enc": password_enc, "expires_at": expires_at,
            "max_connections": max_connections, "active": active != 0,
        })
        .to_string()
    });
    sqlx::query(
        "INSERT INTO sync_jobs (subscriber, reseller_id, kind, payload, refund_credits, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(username)
    .bind(reseller.map(|r| r.0))
    .bind(kind.as_str())
    .bind(payload)
    .bind(refund_credits)
    .bind(now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Core {
    /// Claims the jobs due now for this instance, under a lease (see [`crate::lease`]): oldest
    /// first, at most one per subscriber, and only a subscriber's oldest unfinished job, so a
    /// later change never overtakes an earlier one, a job in another instance's hands (leased)
    /// holds back the subscriber's later ones, and a failed job holds them back until an admin
    /// retries or drops it. Jobs another instance holds are skipped; one whose lease ran out
    /// (its owner died mid-delivery) is claimed again, its attempt already counted.
    ///
    /// A subscriber whose creation the panel refused and we refunded (refused on its first
    /// attempt, typically because the username belongs to another line there) has no line of
    /// ours on the panel until a creation gets through: until then a later change is sent as a
    /// creation (persisted, so its success counts as one), and a deletion is finished without
    /// being sent. Otherwise an enable, extension or deletion would reach a stranger's line of
    /// the same name.
    pub async fn claim_sync_jobs(&self, limit: i64) -> Result<Vec<Job>> {
        let lease = self.lease();
        let claim = format!(
            "UPDATE sync_jobs SET lease_owner = $1, lease_until = $2 WHERE id IN (\
             SELECT j.id FROM sync_jobs j \
             WHERE j.status IN ('pending', 'retrying') AND j.next_attempt_at <= $3 \
             AND (j.lease_until IS NULL OR j.lease_until < $3) \
             AND NOT EXISTS (SELECT 1 FROM sync_jobs e WHERE e.subscriber = j.subscriber AND e.id < j.id \
                             AND e.status IN ('pending', 'retrying', 'failed')) \
             ORDER BY j.id LIMIT $4{}) \
             RETURNING id, kind, subscriber, attempts, payload",
            self.skip_locked()
        );
        let mut tx = self.db.begin_write().await?;
        let mut rows = sqlx::query(&claim)
            .bind(&*lease.owner)
            .bind(self.lease_until(Outbox::SyncJobs))
            .bind(now())
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.sort_by_key(|r| r.try_get::<i64, _>("id").unwrap_or_default());
        let mut jobs = Vec::with_capacity(rows.len());
        for r in rows {
            let id: i64 = r.try_get("id")?;
            let username: String = r.try_get("subscriber")?;
            let payload: Option<String> = r.try_get("payload")?;
            let mut kind = JobKind::parse(&r.try_get::<String, _>("kind")?);
            if kind != JobKind::Create && self.refused_by_panel(&username, id).await? {
                if kind == JobKind::Delete {
                    self.set_job(
                        id,
                        &lease,
                        "done",
                        Some("not sent: the panel never created this line"),
                        None,
                    )
                    .await?;
                    continue;
                }
                self.sync_as_creation(id, &lease).await?;
                kind = JobKind::Create;
            }
            jobs.push(Job {
                id,
                kind,
                current: self.subscriber_state(&username, payload.as_deref())?,
                attempts: r.try_get("attempts")?,
                username,
                lease: lease.clone(),
            });
        }
        Ok(jobs)
    }

    /// Whether the panel holds no line of ours for `username` as of job `before`: a creation
    /// of it was refused and refunded, and no creation since got through.
    async fn refused_by_panel(&self, username: &str, before: i64) -> Result<bool> {
        let refused: Option<i64> = sqlx::query_scalar(
            "SELECT c.id FROM sync_jobs c JOIN credit_transactions t \
             ON t.idempotency_key = 'sync:' || CAST(c.id AS TEXT) || ':refund' \
             WHERE c.subscriber = $1 AND c.kind = 'create' AND c.id < $2 ORDER BY c.id DESC LIMIT 1",
        )
        .bind(username)
        .bind(before)
        .fetch_optional(self.db.read())
        .await?;
        let Some(refused) = refused else {
            return Ok(false);
        };
        let created: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM sync_jobs WHERE subscriber = $1 AND kind = 'create' AND status = 'done' \
             AND id > $2 AND id < $3 LIMIT 1",
        )
        .bind(username)
        .bind(refused)
        .bind(before)
        .fetch_optional(self.db.read())
        .await?;
        Ok(created.is_none())
    }

    /// Turns an open job we hold into the creation of the line on the panel (see
    /// [`Core::claim_sync_jobs`]).
    async fn sync_as_creation(&self, id: i64, lease: &Lease) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query(&format!(
            "UPDATE sync_jobs SET kind = 'create' WHERE id = $1 AND status IN ('pending', 'retrying') AND {}",
            held(2, 3)
        ))
        .bind(id)
        .bind(&*lease.owner)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The state recorded with the change (`None` for a deletion).
    fn subscriber_state(
        &self,
        username: &str,
        payload: Option<&str>,
    ) -> Result<Option<SubscriberState>> {
        let Some(p) = payload.and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        else {
            return Ok(None);
        };
        Ok(Some(SubscriberState {
            password: self
                .cipher
                .decrypt(username, p["password_enc"].as_str().unwrap_or_default())?,
            expires_at: p["expires_at"].as_i64().unwrap_or_default(),
            max_connections: p["max_connections"].as_i64().unwrap_or_default(),
            active: p["active"].as_bool().unwrap_or(false),
        }))
    }

    /// Records that an attempt is about to be sent, in its own committed write **before** the
    /// request: if the process dies after the panel applied the change but before the answer
    /// was recorded, the job still shows an attempt that may have reached the panel, so a later
    /// refusal is never taken for "never got there" (and refunded). `false` if the job is no
    /// longer open (an admin dropped it meanwhile) or no longer ours (the lease ran out and
    /// another instance may have it): then it must not be sent. Renews the job's lease, so the
    /// request has a full lease to get its answer in.
    pub async fn sync_attempt_started(&self, job: &Job) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let started = sqlx::query(&format!(
            "UPDATE sync_jobs SET attempts = attempts + 1, lease_until = $1 \
             WHERE id = $2 AND status IN ('pending', 'retrying') AND {}",
            held(3, 4)
        ))
        .bind(self.lease_until(Outbox::SyncJobs))
        .bind(job.id)
        .bind(&*job.lease.owner)
        .bind(now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(started == 1)
    }

    /// The panel applied the job. `false` if the answer came too late to count: the lease ran
    /// out, and the job is someone else's to decide (or already decided).
    pub async fn sync_delivered(&self, job: &Job) -> Result<bool> {
        self.set_job(job.id, &job.lease, "done", None, None).await
    }

    /// The panel could not be reached or failed for now: try again after `delay_secs`. `false`
    /// if the lease ran out first (a late failure never reopens a job).
    pub async fn sync_retry_later(&self, job: &Job, error: &str, delay_secs: i64) -> Result<bool> {
        self.set_job(
            job.id,
            &job.lease,
            "retrying",
            Some(&clip(error)),
            Some(now() + delay_secs),
        )
        .await
    }

    /// A job's outcome, recorded only under a live lease, which it gives back. Attempts were
    /// counted when they started; a dropped job stays dropped.
    async fn set_job(
        &self,
        id: i64,
        lease: &Lease,
        status: &str,
        error: Option<&str>,
        next: Option<i64>,
    ) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let recorded = sqlx::query(&format!(
            "UPDATE sync_jobs SET status = $1, last_error = COALESCE($2, last_error), \
             next_attempt_at = COALESCE($3, next_attempt_at), finished_at = CASE WHEN $1 = 'done' THEN $4 ELSE finished_at END, \
             lease_owner = NULL, lease_until = NULL \
             WHERE id = $5 AND status IN ('pending', 'retrying') AND {}",
            held(6, 4)
        ))
        .bind(status)
        .bind(error)
        .bind(next)
        .bind(now())
        .bind(id)
        .bind(&*lease.owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(recorded == 1)
    }

    /// The panel refused the job for good. A refused creation gives its credits back, once,
    /// and takes back what they paid for in the same transaction: the subscriber is disabled
    /// and loses the refunded days, so no working line is left that nobody paid for. Only a
    /// refusal of the first attempt is refunded: after an earlier attempt (answered or not,
    /// even one cut short by a crash) the refusal may be the panel refusing our own line, so
    /// the admins decide. The reseller is told about a refund; the admins always are.
    /// Recorded only under a live lease (`false` otherwise): a late refusal never closes a job
    /// another instance delivered, nor refunds one twice.
    pub async fn sync_rejected(&self, job: &Job, error: &str) -> Result<bool> {
        let id = job.id;
        let error = clip(error);
        let now = now();
        let mut tx = self.db.begin_write().await?;
        let row: Option<(String, String, Option<i64>, i64, i64)> = sqlx::query_as(&format!(
            "SELECT kind, subscriber, reseller_id, refund_credits, attempts FROM sync_jobs \
             WHERE id = $1 AND status IN ('pending', 'retrying') AND {}",
            held(2, 3)
        ))
        .bind(id)
        .bind(&*job.lease.owner)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((kind, username, reseller, credits, attempts)) = row else {
            return Ok(false);
        };
        let key = refund_key(id);
        let refunded: Option<i64> =
            sqlx::query_scalar("SELECT id FROM credit_transactions WHERE idempotency_key = $1")
                .bind(&key)
                .fetch_optional(&mut *tx)
                .await?;
        let paid_creation = kind == "create" && credits > 0 && refunded.is_none();
        let ambiguous = paid_creation && attempts > 1;
        let error = if ambiguous {
            format!(
                "{error} (after an earlier attempt that may have reached the panel: check the line there, then retry or drop this job; no credits were refunded)"
            )
        } else {
            error
        };
        // Conditional again: on PostgreSQL the lease may have run out and been claimed since
        // the read above; then nothing here is recorded.
        let closed = sqlx::query(&format!(
            "UPDATE sync_jobs SET status = 'failed', last_error = $1, finished_at = $2, \
             lease_owner = NULL, lease_until = NULL \
             WHERE id = $3 AND status IN ('pending', 'retrying') AND {}",
            held(4, 2)
        ))
        .bind(&error)
        .bind(now)
        .bind(id)
        .bind(&*job.lease.owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if closed != 1 {
            return Ok(false);
        }
        let refund_to = reseller.filter(|_| paid_creation && !ambiguous);
        if let Some(reseller) = refund_to {
            let moved = ledger::post(
                &mut tx,
                Posting {
                    reseller: ResellerId(reseller),
                    amount: credits,
                    kind: Kind::Refund,
                    actor: "sync".into(),
                    subscriber: None,
                    note: Some(&format!("{username} refused by the streaming panel")),
                    key,
                },
                true,
            )
            .await?
            .expect("an unconditional posting always applies");
            // A creation costs a credit per day: the refunded days go with the credits.
            sqlx::query(
                "UPDATE subscribers SET active = 0, expires_at = expires_at - $1 WHERE username = $2",
            )
            .bind(credits * 86_400)
            .bind(&username)
            .execute(&mut *tx)
            .await?;
            notify::to_reseller(
                &mut tx,
                reseller,
                &format!(
                    "The streaming panel refused subscriber {username} ({error}). Your {} credits were refunded; balance {}. {username} is disabled and its {} days are taken back.",
                    thousands(credits),
                    thousands(moved.after),
                    thousands(credits)
                ),
            )
            .await?;
        }
        notify::to_admins_as(&mut tx, notify::Kind::SyncFailure, &format!("⚠️ Sync job {id} ({kind} {username}) was refused by the panel: {error}. See /syncstatus.")).await?;
        audit::record_as(
            &mut tx,
            "sync",
            audit::Entry {
                action: "sync.rejected",
                reseller: reseller.map(ResellerId),
                target: Some(&username),
                details: serde_json::json!({ "job": id, "kind": kind, "error": error, "refunded": refund_to.is_some() }),
            },
        )
        .await?;
        if refund_to.is_some() {
            self.publish(&mut tx, &crate::bus::Event::Access(username.clone()))
                .await?;
        }
        tx.commit().await?;
        if refund_to.is_some() {
            self.access.forget(&username);
        }
        Ok(true)
    }

    /// Jobs not delivered yet, and the ones that failed, newest first (admins).
    pub async fn sync_status(&self, actor: &Actor) -> Result<Vec<JobSummary>> {
        actor.require_admin()?;
        let rows: Vec<(i64, String, String, String, i64, Option<String>)> = sqlx::query_as(
            "SELECT id, kind, subscriber, status, attempts, last_error FROM sync_jobs \
             WHERE status IN ('pending', 'retrying', 'failed') ORDER BY id DESC LIMIT 30",
        )
        .fetch_all(self.db.read())
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, kind, username, status, attempts, last_error)| JobSummary {
                    id,
                    kind,
                    username,
                    status,
                    attempts,
                    last_error,
                },
            )
            .collect())
    }

    /// An admin sends a failed or waiting job again now (`retry`) or gives up on it (`drop`).
    /// A creation whose credits were refunded is never sent again: the line would work for
    /// free. It can only be dropped (and the subscriber created and paid for again).
    pub async fn sync_decide(&self, actor: &Actor, id: i64, retry: bool) -> Result<()> {
        actor.require_admin()?;
        let mut tx = self.db.begin_write().await?;
        if retry {
            let refunded: Option<(i64, String)> = sqlx::query_as(
                "SELECT t.amount, j.subscriber FROM credit_transactions t JOIN sync_jobs j ON j.id = $2 \
                 WHERE t.idempotency_key = $1",
            )
            .bind(refund_key(id))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((credits, subscriber)) = refunded {
                return Err(CoreError::SyncJobRefunded {
                    job: id,
                    subscriber,
                    credits,
                });
            }
        }
        let sql = if retry {
            "UPDATE sync_jobs SET status = 'pending', next_attempt_at = $1 WHERE id = $2 AND status IN ('pending', 'retrying', 'failed')"
        } else {
            "UPDATE sync_jobs SET status = 'dropped', finished_at = $1 WHERE id = $2 AND status IN ('pending', 'retrying', 'failed')"
        };
        let changed = sqlx::query(sql)
            .bind(now())
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(CoreError::NotFound {
                kind: "open sync job",
                name: id.to_string(),
            });
        }
        tx.commit().await?;
        Ok(())
    }
}

/// The ledger key of a job's refund: at most one per job (`refused_by_panel` joins on it in SQL).
fn refund_key(id: i64) -> String {
    format!("sync:{id}:refund")
}

/// Errors are stored, shown and sent at most this long: a panel's answer can be a whole page.
const MAX_ERROR_CHARS: usize = 300;

fn clip(error: &str) -> String {
    match error.char_indices().nth(MAX_ERROR_CHARS) {
        Some((cut, _)) => format!("{}…", &error[..cut]),
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use crate::db::{Backend, Db};

    #[test]
    fn a_job_state_never_prints_the_password() {
        let state = super::SubscriberState {
            password: "pw-secret-77".into(),
            expires_at: 1,
            max_connections: 2,
            active: true,
        };
        let shown = format!("{state:?}");
        assert!(
            !shown.contains("pw-secret-77") && shown.contains("max_connections: 2"),
            "{shown}"
        );
    }

    #[tokio::test]
    async fn migration_0006_removes_stored_errors_that_name_a_url() {
        let db = Db::connect(&crate::testing::fresh_database_url().await, 2)
            .await
            .expect("connects");
        let all = match db.backend() {
            Backend::Sqlite => sqlx::migrate!("../migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("../migrations/postgres"),
        };
        let before_0006 = sqlx::migrate::Migrator {
            migrations: all
                .migrations
                .iter()
                .filter(|m| m.version < 6)
                .cloned()
                .collect::<Vec<_>>()
                .into(),
            ignore_missing: false,
            locking: true,
            no_tx: false,
        };
        before_0006.run(db.read()).await.expect("0001..0005 apply");
        let leaked = "error sending request for url (http://panel:8080/api/?api_key=k3y&action=create_line&username=u&password=pw)";
        for (subscriber, error) in [("leaked", leaked), ("kept", "HTTP 503")] {
            sqlx::query(
                "INSERT INTO sync_jobs (subscriber, kind, status, attempts, last_error, next_attempt_at, created_at) \
                 VALUES ($1, 'create', 'retrying', 1, $2, 0, 0)",
            )
            .bind(subscriber)
            .bind(error)
            .execute(db.read())
            .await
            .expect("insert");
        }
        db.migrate().await.expect("0006 applies");
        let stored: Vec<(String, String)> =
            sqlx::query_as("SELECT subscriber, last_error FROM sync_jobs ORDER BY id")
                .fetch_all(db.read())
                .await
                .expect("select");
        assert_eq!(stored[1], ("kept".to_string(), "HTTP 503".to_string()));
        assert!(
            !stored[0].1.contains("k3y") && !stored[0].1.contains("pw)"),
            "{}",
            stored[0].1
        );
        assert!(
            stored[0].1.contains("could not be reached"),
            "{}",
            stored[0].1
        );
    }
}
