use crate::audit::{self, Entry};
use crate::domain::{OperationId, Permission, Username};
use crate::idempotency::Claim;
use crate::queries::subscribers;
use crate::sync::JobKind;
use crate::{Actor, Core, Done, Result};

impl Core {
    /// Gives a subscriber a new password and token; the old ones stop working. Returns the
    /// username; the new credentials are read with [`Core::credentials`].
    pub async fn reset(
        &self,
        actor: &Actor,
        op: &OperationId,
        username: &Username,
    ) -> Result<Done<String>> {
        let mut claimed = match self.claim(op, actor).await? {
            Claim::Fresh(tx) => tx,
            Claim::Replayed(done) => return Ok(done),
        };
        let tx = &mut claimed;
        let (sub, _) =
            subscribers::for_change(tx, actor, username, Permission::CanResetTokens).await?;
        let (password, token) = super::new_credentials(self.policy.password_length);
        super::store_credentials(tx, &self.cipher, &sub.username, &password, &token).await?;
        crate::sync::enqueue(
            tx,
            self.policy.sync_enabled,
            &sub.username,
            sub.reseller_id,
            JobKind::Reset,
            0,
        )
        .await?;
        audit::record(
            tx,
            actor,
            Entry {
                action: "subscriber.reset",
                reseller: sub.reseller_id,
                target: Some(&sub.username),
                details: serde_json::json!({}),
            },
        )
        .await?;
        self.publish(tx, &crate::bus::Event::Access(sub.username.clone()))
            .await?;
        let done = self.finish(claimed, op, sub.username).await?;
        self.access.forget(&done.value);
        Ok(done)
    }
}
