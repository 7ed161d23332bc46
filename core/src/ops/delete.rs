use crate::audit::{self, Entry};
use crate::core::now;
use crate::domain::{OperationId, Permission, Username};
use crate::idempotency::Claim;
use crate::queries::subscribers;
use crate::sync::JobKind;
use crate::{Actor, Core, Done, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deleted {
    pub username: String,
    /// Paid days that were left and are not refunded.
    pub days_left: i64,
}

impl Core {
    /// Deletes a subscriber for good. Remaining days are not refunded; the ledger keeps the
    /// subscriber's name on its past rows.
    pub async fn delete_subscriber(
        &self,
        actor: &Actor,
        op: &OperationId,
        username: &Username,
    ) -> Result<Done<Deleted>> {
        let mut claimed = match self.claim(op, actor).await? {
            Claim::Fresh(tx) => tx,
            Claim::Replayed(done) => return Ok(done),
        };
        let tx = &mut claimed;
        let (sub, _) =
            subscribers::for_change(tx, actor, username, Permission::CanDeleteUsers).await?;
        sqlx::query("DELETE FROM subscribers WHERE id = $1")
            .bind(sub.id.0)
            .execute(&mut **tx)
            .await?;
        let days_left = sub.days_left(crate::core::to_time(now()));
        crate::sync::enqueue(
            tx,
            self.policy.sync_enabled,
            &sub.username,
            sub.reseller_id,
            JobKind::Delete,
            0,
        )
        .await?;
        audit::record(
            tx,
            actor,
            Entry {
                action: "subscriber.delete",
                reseller: sub.reseller_id,
                target: Some(&sub.username),
                details: serde_json::json!({ "expires_at": sub.expires_at.timestamp(), "days_left": days_left }),
            },
        )
        .await?;
        let value = Deleted {
            username: sub.username,
            days_left,
        };
        self.publish(tx, &crate::bus::Event::Access(value.username.clone()))
            .await?;
        let done = self.finish(claimed, op, value).await?;
        self.access.forget(username.as_str());
        Ok(done)
    }
}
