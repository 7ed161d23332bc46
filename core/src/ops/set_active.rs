use crate::audit::{self, Entry};
use crate::domain::{OperationId, Permission, Username};
use crate::idempotency::Claim;
use crate::queries::subscribers;
use crate::sync::JobKind;
use crate::{Actor, Core, Done, Result};

impl Core {
    /// Disables (`active = false`) or re-enables a subscriber. The expiry keeps running.
    /// Returns whether anything changed.
    pub async fn set_subscriber_active(
        &self,
        actor: &Actor,
        op: &OperationId,
        username: &Username,
        active: bool,
    ) -> Result<Done<bool>> {
        let mut claimed = match self.claim(op, actor).await? {
            Claim::Fresh(tx) => tx,
            Claim::Replayed(done) => return Ok(done),
        };
        let tx = &mut claimed;
        let (sub, _) =
            subscribers::for_change(tx, actor, username, Permission::CanEditUsers).await?;
        if sub.active == active {
            return self.finish(claimed, op, false).await;
        }
        sqlx::query("UPDATE subscribers SET active = $1 WHERE id = $2")
            .bind(i64::from(active))
            .bind(sub.id.0)
            .execute(&mut **tx)
            .await?;
        let kind = if active {
            JobKind::Enable
        } else {
            JobKind::Disable
        };
        crate::sync::enqueue(
            tx,
            self.policy.sync_enabled,
            &sub.username,
            sub.reseller_id,
            kind,
            0,
        )
        .await?;
        audit::record(
            tx,
            actor,
            Entry {
                action: if active {
                    "subscriber.enable"
                } else {
                    "subscriber.disable"
                },
                reseller: sub.reseller_id,
                target: Some(&sub.username),
                details: serde_json::json!({}),
            },
        )
        .await?;
        self.publish(tx, &crate::bus::Event::Access(sub.username.clone()))
            .await?;
        let done = self.finish(claimed, op, true).await?;
        self.access.forget(username.as_str());
        Ok(done)
    }
}
