//! Permission templates: adding and editing them, and putting a reseller on one. A reseller's
//! effective settings are computed on read (override, else template), so editing a template
//! changes every reseller on it in one statement and never touches their overrides.

use crate::audit::{self, Entry};
use crate::core::now;
use crate::domain::{Label, ParseError, Setting, TemplateName, Username};
use crate::queries::resellers::{self, Reseller};
use crate::queries::templates::{self, Template};
use crate::{Actor, Core, CoreError, Result};

/// The longest title of a template.
pub const TEMPLATE_TITLE_MAX: usize = 64;

/// The settings as an audit detail: `{"can_delete_users": 1, "max_users": 100}`.
fn settings_json(settings: &[Setting]) -> serde_json::Value {
    settings
        .iter()
        .map(|s| (s.column().to_string(), serde_json::json!(s.value())))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Refuses a setting given twice, which would leave which one holds to chance.
fn check_distinct(settings: &[Setting]) -> Result<()> {
    for (i, s) in settings.iter().enumerate() {
        if settings[..i].iter().any(|t| t.column() == s.column()) {
            return Err(CoreError::Invalid(ParseError(format!(
                "{} is given twice; give each setting once.",
                s.column()
            ))));
        }
    }
    Ok(())
}

impl Core {
    /// A new template: today's defaults (the Basic reseller's) changed by `settings`.
    pub async fn add_template(
        &self,
        actor: &Actor,
        name: &TemplateName,
        title: Option<&Label>,
        settings: &[Setting],
    ) -> Result<Template> {
        actor.require_admin()?;
        check_distinct(settings)?;
        let title = title.map_or_else(|| name.to_string(), |t| t.as_str().to_string());
        let mut tx = self.db.begin_write().await?;
        sqlx::query("INSERT INTO permission_templates (name, title, created_at) VALUES ($1, $2, $3)")
            .bind(name.as_str())
            .bind(&title)
            .bind(now())
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                super::unique_or(
                    e,
                    CoreError::Invalid(ParseError(format!(
                        "A template named “{name}” already exists; change it with /template edit {name} ..."
                    ))),
                )
            })?;
        write_settings(&mut tx, name, None, settings).await?;
        audit::record(
            &mut tx,
            actor,
            Entry {
                action: "template.add",
                reseller: None,
                target: Some(name.as_str()),
                details: serde_json::json!({ "title": title, "settings": settings_json(settings) }),
            },
        )
        .await?;
        let template = templates::by_name(&mut *tx, name).await?;
        tx.commit().await?;
        Ok(template)
    }

    /// Changes a template, and so every reseller on it, except where they have an override.
    pub async fn edit_template(
        &self,
        actor: &Actor,
        name: &TemplateName,
        title: Option<&Label>,
        settings: &[Setting],
    ) -> Result<Template> {
        actor.require_admin()?;
        check_distinct(settings)?;
        if title.is_none() && settings.is_empty() {
            return Err(CoreError::Invalid(ParseError(format!(
                "Nothing to change in template “{name}”: give a title or settings such as max_users=100."
            ))));
        }
        let mut tx = self.db.begin_write().await?;
        // Refuses an unknown name before anything is written.
        templates::by_name(&mut *tx, name).await?;
        write_settings(&mut tx, name, title, settings).await?;
        audit::record(
            &mut tx,
            actor,
            Entry {
                action: "template.edit",
                reseller: None,
                target: Some(name.as_str()),
                details: serde_json::json!({
                    "title": title.map(Label::as_str),
                    "settings": settings_json(settings),
                }),
            },
        )
        .await?;
        let template = templates::by_name(&mut *tx, name).await?;
        tx.commit().await?;
        Ok(template)
    }

    /// Puts a reseller on a template. Their explicit overrides stay unless `reset`, which
    /// clears them all so the template's values apply throughout.
    pub async fn apply_template(
        &self,
        actor: &Actor,
        reseller: &Username,
        name: &TemplateName,
        reset: bool,
    ) -> Result<Reseller> {
        actor.require_admin()?;
        let mut tx = self.db.begin_write().await?;
        let r = resellers::by_username(&mut *tx, reseller).await?;
        let template = templates::by_name(&mut *tx, name).await?;
        let cleared = templates::overrides(&mut *tx, r.id).await?;
        sqlx::query("UPDATE resellers SET template_id = $1 WHERE id = $2")
            .bind(template.id)
            .bind(r.id.0)
            .execute(&mut *tx)
            .await?;
        if reset {
            sqlx::query("DELETE FROM reseller_overrides WHERE reseller_id = $1")
                .bind(r.id.0)
                .execute(&mut *tx)
                .await?;
        }
        let cleared: Vec<&str> = if reset {
            cleared
                .permissions
                .iter()
                .map(|(p, _)| p.column())
                .chain(cleared.limits.iter().map(|(l, _)| l.column()))
                .collect()
        } else {
            Vec::new()
        };
        audit::record(
            &mut tx,
            actor,
            Entry {
                action: "reseller.template",
                reseller: Some(r.id),
                target: Some(&r.username),
                details: serde_json::json!({
                    "from": r.template,
                    "template": template.name,
                    "reset": reset,
                    "cleared": cleared,
                }),
            },
        )
        .await?;
        let updated = resellers::by_id(&mut *tx, r.id).await?;
        tx.commit().await?;
        Ok(updated)
    }
}

impl Core {
    /// Deletes a template no reseller is on. Refused while any is (it says how many), and for
    /// Basic, which new resellers are put on by default.
    pub async fn delete_template(&self, actor: &Actor, name: &TemplateName) -> Result<()> {
        actor.require_admin()?;
        let mut tx = self.db.begin_write().await?;
        let template = templates::by_name(&mut *tx, name).await?;
        if template.id == BASIC_TEMPLATE_ID {
            return Err(CoreError::Invalid(ParseError(format!(
                "Template “{name}” cannot be deleted: new resellers are put on it."
            ))));
        }
        // Counted in the deleting transaction: SQLite's single writer serialises it with every
        // template change; on PostgreSQL the foreign key refuses a reseller put on it meanwhile.
        let users: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM resellers WHERE template_id = $1")
                .bind(template.id)
                .fetch_one(&mut *tx)
                .await?;
        if users > 0 {
            return Err(CoreError::Invalid(ParseError(format!(
                "Template “{name}” is used by {users} reseller{}; move {} to another template with /template apply <template> <reseller> first.",
                if users == 1 { "" } else { "s" },
                if users == 1 { "them" } else { "each" }
            ))));
        }
        sqlx::query("DELETE FROM permission_templates WHERE id = $1")
            .bind(template.id)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            actor,
            Entry {
                action: "template.delete",
                reseller: None,
                target: Some(name.as_str()),
                details: serde_json::json!({ "title": template.title }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Basic (seeded by migration 0019) is `resellers.template_id`'s default.
const BASIC_TEMPLATE_ID: i64 = 1;

/// Writes a template's title and settings in one statement. Column names come from our own
/// enums, never from input.
async fn write_settings(
    tx: &mut crate::db::Tx,
    name: &TemplateName,
    title: Option<&Label>,
    settings: &[Setting],
) -> Result<()> {
    let mut sets: Vec<String> = Vec::new();
    let mut next = 2;
    if title.is_some() {
        sets.push(format!("title = ${next}"));
        next += 1;
    }
    for s in settings {
        sets.push(format!("{} = ${next}", s.column()));
        next += 1;
    }
    if sets.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE permission_templates SET {} WHERE name = $1",
        sets.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(name.as_str());
    if let Some(t) = title {
        q = q.bind(t.as_str());
    }
    for s in settings {
        q = q.bind(s.value());
    }
    q.execute(&mut **tx).await?;
    Ok(())
}
