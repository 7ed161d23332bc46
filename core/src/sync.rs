//! The outbox towards an external streaming panel. Every subscriber change writes a job in its
//! own transaction (so nothing is lost); a worker outside core delivers the jobs in order per
//! subscriber and reports back here. A creation the panel refuses for good gives the credits
//! back, once.

use crate::core::now;
use crate::db::Tx;
use crate::domain::ResellerId;
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

/// A job as the worker sees it, with the subscriber's state right after the change (`None`
/// for a deletion).
#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub kind: JobKind,
    pub username: String,
    pub attempts: i64,
    pub current: Option<SubscriberState>,
}

#[derive(Debug, Clone)]
pub struct SubscriberState {
    pub password: String,
    pub expires_at: i64,
    pub max_connections: i64,
    pub active: bool,
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
    /// Jobs due now, oldest first, at most one per subscriber, and only a subscriber's oldest
    /// unfinished job: a later change never overtakes an earlier one, and a failed job holds
    /// back the subscriber's later ones until an admin retries or drops it.
    pub async fn due_sync_jobs(&self, limit: i64) -> Result<Vec<Job>> {
        let rows = sqlx::query(
            "SELECT j.id, j.kind, j.subscriber, j.attempts, j.payload FROM sync_jobs j \
             WHERE j.status IN ('pending', 'retrying') AND j.next_attempt_at <= $1 \
             AND NOT EXISTS (SELECT 1 FROM sync_jobs e WHERE e.subscriber = j.subscriber AND e.id < j.id \
                             AND e.status IN ('pending', 'retrying', 'failed')) \
             ORDER BY j.id LIMIT $2",
        )
        .bind(now())
        .bind(limit)
        .fetch_all(self.db.read())
        .await?;
        let mut jobs = Vec::with_capacity(rows.len());
        for r in rows {
            let username: String = r.try_get("subscriber")?;
            let payload: Option<String> = r.try_get("payload")?;
            jobs.push(Job {
                id: r.try_get("id")?,
                kind: JobKind::parse(&r.try_get::<String, _>("kind")?),
                current: self.subscriber_state(&username, payload.as_deref())?,
                attempts: r.try_get("attempts")?,
                username,
            });
        }
        Ok(jobs)
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

    pub async fn sync_delivered(&self, id: i64) -> Result<()> {
        self.set_job(id, "done", None, None).await
    }

    /// The panel could not be reached or failed for now: try again after `delay_secs`.
    pub async fn sync_retry_later(&self, id: i64, error: &str, delay_secs: i64) -> Result<()> {
        self.set_job(id, "retrying", Some(error), Some(now() + delay_secs))
            .await
    }

    async fn set_job(
        &self,
        id: i64,
        status: &str,
        error: Option<&str>,
        next: Option<i64>,
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "UPDATE sync_jobs SET status = $1, attempts = attempts + 1, last_error = COALESCE($2, last_error), \
             next_attempt_at = COALESCE($3, next_attempt_at), finished_at = CASE WHEN $1 = 'done' THEN $4 ELSE finished_at END \
             WHERE id = $5",
        )
        .bind(status)
        .bind(error)
        .bind(next)
        .bind(now())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The panel refused the job for good. A refused creation gives its credits back (with
    /// `refund`, and only once however often the job is retried and refused), and the
    /// reseller is told why; the admins always are.
    pub async fn sync_rejected(&self, id: i64, error: &str, refund: bool) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let row: Option<(String, String, Option<i64>, i64)> = sqlx::query_as(
            "UPDATE sync_jobs SET status = 'failed', attempts = attempts + 1, last_error = $1, finished_at = $2 \
             WHERE id = $3 AND status IN ('pending', 'retrying') RETURNING kind, subscriber, reseller_id, refund_credits",
        )
        .bind(error)
        .bind(now())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((kind, username, reseller, credits)) = row else {
            return Ok(());
        };
        let key = format!("sync:{id}:refund");
        let refunded: Option<i64> =
            sqlx::query_scalar("SELECT id FROM credit_transactions WHERE idempotency_key = $1")
                .bind(&key)
                .fetch_optional(&mut *tx)
                .await?;
        if let (Some(reseller), true) = (
            reseller,
            refund && refunded.is_none() && kind == "create" && credits > 0,
        ) {
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
            notify::to_reseller(
                &mut tx,
                reseller,
                &format!(
                    "The streaming panel refused subscriber {username} ({error}). Your {} credits were refunded; balance {}.",
                    thousands(credits),
                    thousands(moved.after)
                ),
            )
            .await?;
        }
        notify::to_admins(&mut tx, &format!("⚠️ Sync job {id} ({kind} {username}) was refused by the panel: {error}. See /syncstatus.")).await?;
        audit::record_as(
            &mut tx,
            "sync",
            audit::Entry {
                action: "sync.rejected",
                reseller: reseller.map(ResellerId),
                target: Some(&username),
                details: serde_json::json!({ "job": id, "kind": kind, "error": error }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
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
    pub async fn sync_decide(&self, actor: &Actor, id: i64, retry: bool) -> Result<()> {
        actor.require_admin()?;
        let mut tx = self.db.begin_write().await?;
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
