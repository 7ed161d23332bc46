use crate::audit::{self, Entry};
use crate::domain::{Label, OperationId, Permission, Username};
use crate::idempotency::Claim;
use crate::queries::{resellers, subscribers};
use crate::{Actor, Core, CoreError, Done, Result};

impl Core {
    /// Sets the panel name shown on a reseller's credentials: their own (with
    /// `can_customize_branding`), or any reseller's for admins.
    pub async fn set_panel_name(
        &self,
        actor: &Actor,
        reseller: Option<&Username>,
        name: &Label,
    ) -> Result<String> {
        let mut tx = self.db.begin_write().await?;
        let r = match (actor, reseller) {
            (Actor::Reseller(id), _) => {
                let me = resellers::by_id(&mut *tx, *id).await?;
                me.require(Permission::CanCustomizeBranding)?;
                me
            }
            (Actor::Admin(_), Some(name)) => resellers::by_username(&mut *tx, name).await?,
            (Actor::Admin(_), None) => {
                return Err(CoreError::NotFound {
                    kind: "reseller",
                    name: String::new(),
                });
            }
        };
        sqlx::query("UPDATE resellers SET panel_name = $1 WHERE id = $2")
            .bind(name.as_str())
            .bind(r.id.0)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            actor,
            Entry {
                action: "reseller.branding",
                reseller: Some(r.id),
                target: Some(&r.username),
                details: serde_json::json!({ "panel_name": name.as_str() }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(r.username)
    }

    /// Replaces a subscriber's notes (needs `can_edit_users`).
    pub async fn set_notes(
        &self,
        actor: &Actor,
        op: &OperationId,
        username: &Username,
        notes: &Label,
    ) -> Result<Done<String>> {
        let mut claimed = match self.claim(op, actor).await? {
            Claim::Fresh(tx) => tx,
            Claim::Replayed(done) => return Ok(done),
        };
        let tx = &mut claimed;
        let (sub, _) =
            subscribers::for_change(tx, actor, username, Permission::CanEditUsers).await?;
        sqlx::query("UPDATE subscribers SET notes = $1 WHERE id = $2")
            .bind(notes.as_str())
            .bind(sub.id.0)
            .execute(&mut **tx)
            .await?;
        audit::record(
            tx,
            actor,
            Entry {
                action: "subscriber.notes",
                reseller: sub.reseller_id,
                target: Some(&sub.username),
                details: serde_json::json!({ "notes": notes.as_str() }),
            },
        )
        .await?;
        self.finish(claimed, op, sub.username).await
    }
}
