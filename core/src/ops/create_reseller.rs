use super::invite::Invite;
use super::subresellers::check_may_create;
use crate::audit::{self, Entry};
use crate::core::now;
use crate::domain::{DISPLAY_NAME_MAX, Label, ResellerId, TemplateName, Username};
use crate::queries::{resellers, templates};
use crate::{Actor, Core, CoreError, Result};

/// A reseller just created, with the invite that links their Telegram account.
#[derive(Debug, Clone)]
pub struct NewReseller {
    pub id: ResellerId,
    pub username: String,
    pub invite: Invite,
}

impl Core {
    /// An admin creates a reseller on the Basic template, with an invite; a reseller allowed to
    /// (`can_create_subresellers`, with nesting depth left) creates a sub-reseller of their own
    /// the same way.
    pub async fn create_reseller(
        &self,
        actor: &Actor,
        username: &Username,
        display_name: Option<&str>,
    ) -> Result<NewReseller> {
        let basic = TemplateName::parse("basic")?;
        self.insert_reseller(actor, username, display_name, &basic)
            .await
    }

    /// An admin creates a reseller on `template` (no overrides), with an invite.
    ///
    /// Not keyed by an operation id: the unique username already makes a replay harmless, and
    /// the invite code must not be stored anywhere in clear.
    pub async fn create_reseller_on(
        &self,
        actor: &Actor,
        username: &Username,
        display_name: Option<&str>,
        template: &TemplateName,
    ) -> Result<NewReseller> {
        actor.require_admin()?;
        self.insert_reseller(actor, username, display_name, template)
            .await
    }

    /// The creation itself; a reseller's creation is their sub-reseller, checked in the same
    /// transaction that inserts it.
    async fn insert_reseller(
        &self,
        actor: &Actor,
        username: &Username,
        display_name: Option<&str>,
        template: &TemplateName,
    ) -> Result<NewReseller> {
        let display = match display_name.map(str::trim).filter(|d| !d.is_empty()) {
            Some(d) => Label::parse(d, "A display name", DISPLAY_NAME_MAX)?
                .as_str()
                .to_string(),
            None => username.to_string(),
        };
        let mut tx = self.db.begin_write().await?;
        let parent = match actor {
            Actor::Admin(_) => None,
            Actor::Reseller(id) => {
                let me = resellers::by_id(&mut *tx, *id).await?;
                check_may_create(&me)?;
                Some(me.id.0)
            }
        };
        let template = templates::by_name(&mut *tx, template).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO resellers (username, display_name, template_id, parent_id, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(username.as_str())
        .bind(&display)
        .bind(template.id)
        .bind(parent)
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| super::unique_or(e, CoreError::UsernameTaken(username.to_string())))?;
        let id = ResellerId(id);
        audit::record(
            &mut tx,
            actor,
            Entry {
                action: "reseller.create",
                reseller: Some(id),
                target: Some(username.as_str()),
                details: serde_json::json!({ "template": template.name, "parent": parent }),
            },
        )
        .await?;
        let invite = self.issue_invite(&mut tx, actor, id).await?;
        tx.commit().await?;
        Ok(NewReseller {
            id,
            username: username.to_string(),
            invite,
        })
    }
}
