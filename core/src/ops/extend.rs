use crate::audit::{self, Entry};
use crate::core::{now, to_time};
use crate::db::Tx;
use crate::domain::{Days, OperationId, Permission, Username};
use crate::idempotency::Claim;
use crate::ledger::{self, Kind, Posting};
use crate::queries::subscribers;
use crate::sync::JobKind;
use crate::{Actor, Core, CoreError, Done, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Extended {
    pub username: String,
    pub expires_at: DateTime<Utc>,
    pub charged: i64,
    pub balance: Option<i64>,
}

impl Core {
    /// Adds `days` to the later of now and the current expiry, so early renewals keep their
    /// remaining days; a reseller pays `days` credits. A trial is converted to a paid
    /// subscriber, its days counted from now.
    pub async fn extend(
        &self,
        actor: &Actor,
        op: &OperationId,
        username: &Username,
        days: Days,
    ) -> Result<Done<Extended>> {
        let mut claimed = match self.claim(op, actor).await? {
            Claim::Fresh(tx) => tx,
            Claim::Replayed(done) => return Ok(done),
        };
        let value = self
            .extend_line(&mut claimed, actor, username, days, format!("{op}:debit"))
            .await?;
        let done = self.finish(claimed, op, value).await?;
        self.access.forget(username.as_str());
        Ok(done)
    }

    /// One extension inside the caller's transaction: rights, the debit (ledger row `key`),
    /// the new expiry, its sync job, audit row and news.
    pub(super) async fn extend_line(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        username: &Username,
        days: Days,
        key: String,
    ) -> Result<Extended> {
        let (sub, owner) =
            subscribers::for_change(tx, actor, username, Permission::CanExtendUsers).await?;
        let mut balance = None;
        if let Some(r) = &owner {
            let posting = Posting {
                reseller: r.id,
                amount: -days.get(),
                kind: Kind::Debit,
                actor: actor.label(),
                subscriber: Some((sub.id, &sub.username)),
                note: Some("extension"),
                key,
            };
            let Some(moved) = ledger::post(tx, posting, false).await? else {
                return Err(CoreError::InsufficientCredits {
                    action: format!("extend {} by {days} days", sub.username),
                    needed: days.get(),
                    balance: ledger::balance(tx, r.id).await?,
                });
            };
            balance = Some(moved.after);
        }
        let now = now();
        let trial: i64 = sqlx::query_scalar("SELECT is_trial FROM subscribers WHERE id = $1")
            .bind(sub.id.0)
            .fetch_one(&mut **tx)
            .await?;
        // A trial becomes a paid subscriber: its paid days count from now, not from its end.
        let expires_at: i64 = sqlx::query_scalar(
            "UPDATE subscribers SET expires_at = CASE WHEN is_trial = 0 AND expires_at > $1 THEN expires_at ELSE $1 END + $2, \
             is_trial = 0 WHERE id = $3 RETURNING expires_at",
        )
        .bind(now)
        .bind(days.seconds())
        .bind(sub.id.0)
        .fetch_one(&mut **tx)
        .await?;
        crate::sync::enqueue(
            tx,
            self.policy.sync_enabled,
            &sub.username,
            sub.reseller_id,
            JobKind::Extend,
            0,
        )
        .await?;
        audit::record(
            tx,
            actor,
            Entry {
                action: "subscriber.extend",
                reseller: sub.reseller_id,
                target: Some(&sub.username),
                details: serde_json::json!({
                    "days": days.get(),
                    "expires_before": sub.expires_at.timestamp(),
                    "expires_at": expires_at,
                    "converted_trial": trial != 0,
                }),
            },
        )
        .await?;
        let value = Extended {
            username: sub.username,
            expires_at: to_time(expires_at),
            charged: if owner.is_some() { days.get() } else { 0 },
            balance,
        };
        self.publish(tx, &crate::bus::Event::Access(value.username.clone()))
            .await?;
        Ok(value)
    }
}
