//! Trials: a short subscriber, free unless the reseller's template prices it, limited to a quota
//! of trials per 24 hours. The quota counts the `trials` record, so deleting or converting a
//! trial does not give its slot back early.

use super::Created;
use crate::core::{now, to_time};
use crate::db::Tx;
use crate::domain::{OperationId, ResellerId, SubscriberId, Username};
use crate::idempotency::Claim;
use crate::ledger::{self, Kind, Posting};
use crate::queries::resellers::{self, Reseller};
use crate::{Actor, Backend, Core, CoreError, Done, Result};

/// The longest trial, in hours.
pub const TRIAL_MAX_HOURS: i64 = 72;

const WINDOW_SECS: i64 = 24 * 3600;

impl Core {
    /// The trial length for `asked` hours (the configured default if none), or a refusal.
    pub(crate) fn trial_hours(&self, asked: Option<i64>) -> Result<i64> {
        let hours = asked.unwrap_or(self.policy.trial_default_hours);
        if !(1..=TRIAL_MAX_HOURS).contains(&hours) {
            return Err(CoreError::TrialLength {
                max: TRIAL_MAX_HOURS,
                asked: hours,
            });
        }
        Ok(hours)
    }

    /// Creates a trial subscriber for `hours` (default `policy.trial_default_hours`). A reseller
    /// needs a trial quota, not `can_create_users`; the reseller's row is locked first, so two
    /// trials at once cannot both take the last slot.
    pub async fn create_trial(
        &self,
        actor: &Actor,
        op: &OperationId,
        username: &Username,
        hours: Option<i64>,
    ) -> Result<Done<Created>> {
        let hours = self.trial_hours(hours)?;
        let mut claimed = match self.claim(op, actor).await? {
            Claim::Fresh(tx) => tx,
            Claim::Replayed(done) => return Ok(done),
        };
        let tx = &mut claimed;
        let now = now();
        let owner = match actor {
            Actor::Reseller(id) => {
                let cost = lock_for_trial(tx, self.db.backend(), *id).await?;
                let r = resellers::by_id(&mut **tx, *id).await?;
                check_quota(tx, &r, now).await?;
                Some((r, cost))
            }
            Actor::Admin(_) => None,
        };
        let expires_at = now + hours * 3600;
        let id = self
            .insert_line(
                tx,
                actor,
                username,
                owner.as_ref().map(|(r, _)| r),
                expires_at,
                true,
            )
            .await?;
        let mut balance = None;
        let mut charged = 0;
        if let Some((r, cost)) = &owner {
            sqlx::query(
                "INSERT INTO trials (reseller_id, username, created_at) VALUES ($1, $2, $3)",
            )
            .bind(r.id.0)
            .bind(username.as_str())
            .bind(now)
            .execute(&mut **tx)
            .await?;
            if *cost > 0 {
                let posting = Posting {
                    reseller: r.id,
                    amount: -cost,
                    kind: Kind::Debit,
                    actor: actor.label(),
                    subscriber: Some((SubscriberId(id), username.as_str())),
                    note: Some("trial"),
                    key: format!("{op}:debit"),
                };
                let Some(moved) = ledger::post(tx, posting, false).await? else {
                    return Err(CoreError::InsufficientCredits {
                        action: format!("create this trial for {hours} hours"),
                        needed: *cost,
                        balance: ledger::balance(tx, r.id).await?,
                    });
                };
                charged = *cost;
                balance = Some(moved.after);
            } else {
                balance = Some(r.balance);
            }
        }
        let value = Created {
            username: username.to_string(),
            expires_at: to_time(expires_at),
            charged,
            balance,
            trial: true,
        };
        let details =
            serde_json::json!({ "hours": hours, "cost": charged, "expires_at": expires_at });
        let reseller = owner.map(|(r, _)| r.id);
        self.finish_line(
            claimed,
            op,
            actor,
            reseller,
            "subscriber.trial",
            details,
            value,
        )
        .await
    }
}

/// Locks the reseller's row for the rest of `tx` (on SQLite the write transaction already holds
/// the database) and returns what a trial costs them. `NO KEY UPDATE`, not `UPDATE`: inserting
/// a subscriber takes a key-share lock on its reseller's row, which `FOR UPDATE` conflicts with,
/// so a trial racing the same reseller's create could deadlock on PostgreSQL.
async fn lock_for_trial(tx: &mut Tx, backend: Backend, id: ResellerId) -> Result<i64> {
    let lock = match backend {
        Backend::Postgres => " FOR NO KEY UPDATE OF r",
        Backend::Sqlite => "",
    };
    let cost: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT t.trial_cost_credits FROM resellers r JOIN permission_templates t ON t.id = r.template_id \
         WHERE r.id = $1{lock}"
    ))
    .bind(id.0)
    .fetch_optional(&mut **tx)
    .await?;
    cost.ok_or(CoreError::NotFound {
        kind: "reseller",
        name: id.0.to_string(),
    })
}

/// What a trial costs reseller `id`, read without locking (for the confirmation card).
pub(crate) async fn trial_cost(conn: &mut sqlx::AnyConnection, id: ResellerId) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT t.trial_cost_credits FROM resellers r JOIN permission_templates t ON t.id = r.template_id \
         WHERE r.id = $1",
    )
    .bind(id.0)
    .fetch_one(conn)
    .await?)
}

/// Refuses a suspended reseller, one without a trial quota, and one whose quota is used up for
/// the last 24 hours, saying when the next trial is possible.
pub(crate) async fn check_quota(
    conn: &mut sqlx::AnyConnection,
    r: &Reseller,
    now: i64,
) -> Result<()> {
    if !r.active {
        return Err(CoreError::Suspended);
    }
    if r.trial_quota <= 0 {
        return Err(CoreError::NoTrials);
    }
    let since = now - WINDOW_SECS;
    let used: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM trials WHERE reseller_id = $1 AND created_at > $2",
    )
    .bind(r.id.0)
    .bind(since)
    .fetch_one(&mut *conn)
    .await?;
    if used < r.trial_quota {
        return Ok(());
    }
    // A slot frees when enough of the window's oldest trials have left it.
    let freeing: i64 = sqlx::query_scalar(
        "SELECT created_at FROM trials WHERE reseller_id = $1 AND created_at > $2 \
         ORDER BY created_at LIMIT 1 OFFSET $3",
    )
    .bind(r.id.0)
    .bind(since)
    .bind(used - r.trial_quota)
    .fetch_one(&mut *conn)
    .await?;
    Err(CoreError::TrialQuotaReached {
        used,
        quota: r.trial_quota,
        // Rounded up to the minute shown, so the time given is never too early.
        next: to_time((freeing + WINDOW_SECS + 59) / 60 * 60)
            .format("%Y-%m-%d %H:%M UTC")
            .to_string(),
    })
}
