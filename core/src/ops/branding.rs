//! Branding (what a reseller's subscribers see: panel name, logo, support line, credentials
//! template) and subscriber notes.

use crate::audit::{self, Entry};
use crate::domain::{
    CredentialsTemplate, Label, OperationId, ParseError, Permission, ResellerId, Username,
};
use crate::idempotency::Claim;
use crate::queries::subscribers::Credentials;
use crate::queries::{resellers, subscribers};
use crate::{Actor, Core, CoreError, Done, Result};

/// The longest support line, in characters.
pub const SUPPORT_MAX: usize = 200;

/// One part of a reseller's branding, changed on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrandChange {
    PanelName(Label),
    /// Telegram's file id of the logo photo: the bot sends it again by id.
    Logo(String),
    /// A line telling subscribers how to reach the reseller.
    Support(Label),
    Template(CredentialsTemplate),
}

impl BrandChange {
    /// The column it writes, the key its audit row names (the activity log reads it back) and
    /// the value: the reseller's own text, kept so an admin can see what subscribers were sent.
    fn parts(&self) -> (&'static str, &'static str, &str) {
        match self {
            BrandChange::PanelName(n) => ("panel_name", "panel_name", n.as_str()),
            BrandChange::Logo(id) => ("brand_logo", "logo", id.as_str()),
            BrandChange::Support(s) => ("brand_support", "support", s.as_str()),
            BrandChange::Template(t) => ("brand_template", "template", t.as_str()),
        }
    }
}

/// A reseller's branding as their subscribers see it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Branding {
    pub logo: Option<String>,
    pub support: Option<String>,
    pub template: Option<CredentialsTemplate>,
}

/// Reads a reseller's branding columns. A stored template was valid when saved; one that no
/// longer parses (a placeholder renamed since) falls back to the standard message.
pub(crate) async fn load(conn: &mut sqlx::AnyConnection, reseller: ResellerId) -> Result<Branding> {
    let (logo, support, template): (Option<String>, Option<String>, Option<String>) =
        sqlx::query_as(
            "SELECT brand_logo, brand_support, brand_template FROM resellers WHERE id = $1",
        )
        .bind(reseller.0)
        .fetch_one(&mut *conn)
        .await?;
    let template = template.and_then(|t| match CredentialsTemplate::parse(&t) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!(reseller = reseller.0, error = %e, "stored credentials template no longer parses");
            None
        }
    });
    Ok(Branding {
        logo,
        support,
        template,
    })
}

impl Core {
    /// Sets the panel name shown on a reseller's credentials: their own (with
    /// `can_customize_branding`), or any reseller's for admins.
    pub async fn set_panel_name(
        &self,
        actor: &Actor,
        reseller: Option<&Username>,
        name: &Label,
    ) -> Result<String> {
        self.set_branding(actor, reseller, &BrandChange::PanelName(name.clone()))
            .await
    }

    /// Changes one part of a reseller's branding, with its audit row: their own (with
    /// `can_customize_branding`), or any reseller's for admins. Returns the reseller's name.
    pub async fn set_branding(
        &self,
        actor: &Actor,
        reseller: Option<&Username>,
        change: &BrandChange,
    ) -> Result<String> {
        if let BrandChange::Logo(id) = change
            && (id.is_empty() || id.len() > 256 || id.chars().any(char::is_control))
        {
            return Err(CoreError::Invalid(ParseError(format!(
                "A logo must be a Telegram file id of 1 to 256 characters; this one has {}.",
                id.len()
            ))));
        }
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
        let (column, key, value) = change.parts();
        sqlx::query(&format!("UPDATE resellers SET {column} = $1 WHERE id = $2"))
            .bind(value)
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
                details: serde_json::json!({ key: value }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(r.username)
    }

    /// What a subscriber of the asking reseller gets, with made-up values: the preview of
    /// their branding. Needs `can_customize_branding`.
    pub async fn brand_preview(&self, actor: &Actor) -> Result<Credentials> {
        let Actor::Reseller(id) = actor else {
            return Err(CoreError::ResellersOnly);
        };
        let mut conn = self.db.read().acquire().await?;
        let me = resellers::by_id(&mut *conn, *id).await?;
        me.require(Permission::CanCustomizeBranding)?;
        let branding = load(&mut conn, me.id).await?;
        Ok(Credentials {
            username: "demo.user".into(),
            password: "Xy7&k<9Qp2"
                .chars()
                .cycle()
                .take(self.policy.password_length.max(1))
                .collect(),
            token: String::new(),
            expires_at: crate::core::to_time(crate::core::now() + 30 * 86_400),
            max_connections: me.max_connections_per_user,
            brand: me.brand().to_string(),
            branding,
        })
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
