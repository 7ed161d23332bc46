use super::subresellers::{check_within_parent, not_a_subreseller, require_manager};
use crate::audit::{self, Entry};
use crate::db::Tx;
use crate::domain::{Limit, LimitValue, Permission, Setting, Username};
use crate::queries::resellers::{self, Reseller};
use crate::{Actor, Core, CoreError, Result};

impl Core {
    /// Suspends (`active = false`) or reinstates a reseller, by an admin or by the reseller's
    /// parent. A suspended reseller, and every sub-reseller below them, can neither read nor
    /// change anything; their subscribers keep working.
    pub async fn set_reseller_active(
        &self,
        actor: &Actor,
        reseller: &Username,
        active: bool,
    ) -> Result<Reseller> {
        let action = if active {
            "reseller.unsuspend"
        } else {
            "reseller.suspend"
        };
        self.set_reseller_column(actor, reseller, "active", i64::from(active), action)
            .await
    }

    /// Sets an explicit override of one permission: it holds whatever the reseller's template
    /// says, until the admin applies a template with `reset`. An admin or the reseller's parent
    /// sets it; a sub-reseller is never given a permission their parent lacks.
    pub async fn set_permission(
        &self,
        actor: &Actor,
        reseller: &Username,
        p: Permission,
        on: bool,
    ) -> Result<Reseller> {
        self.set_override(
            actor,
            reseller,
            Setting::Permission(p, on),
            "reseller.permission",
        )
        .await
    }

    /// Sets an explicit override of one limit, like [`Core::set_permission`].
    pub async fn set_limit(
        &self,
        actor: &Actor,
        reseller: &Username,
        limit: Limit,
        value: LimitValue,
    ) -> Result<Reseller> {
        self.set_override(
            actor,
            reseller,
            Setting::Limit(limit, value),
            "reseller.limit",
        )
        .await
    }

    /// Removes a reseller's override of one permission, so their template's value applies.
    pub async fn clear_permission(
        &self,
        actor: &Actor,
        reseller: &Username,
        p: Permission,
    ) -> Result<Reseller> {
        self.clear_override(actor, reseller, p.column(), "reseller.permission")
            .await
    }

    /// Removes a reseller's override of one limit, like [`Core::clear_permission`].
    pub async fn clear_limit(
        &self,
        actor: &Actor,
        reseller: &Username,
        limit: Limit,
    ) -> Result<Reseller> {
        self.clear_override(actor, reseller, limit.column(), "reseller.limit")
            .await
    }

    /// Sets one override column back to NULL; audited only when there was one. `column` is one
    /// of our own constant names, never input.
    async fn clear_override(
        &self,
        actor: &Actor,
        reseller: &Username,
        column: &'static str,
        action: &str,
    ) -> Result<Reseller> {
        actor.require_admin()?;
        let mut tx = self.db.begin_write().await?;
        let r = resellers::by_username(&mut *tx, reseller).await?;
        let cleared = sqlx::query(&format!(
            "UPDATE reseller_overrides SET {column} = NULL WHERE reseller_id = $1 AND {column} IS NOT NULL"
        ))
        .bind(r.id.0)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !cleared {
            return Ok(r);
        }
        audited(
            tx,
            actor,
            &r,
            action,
            serde_json::json!({ "setting": column, "override": false }),
        )
        .await
    }

    /// One override column, upserted on its own so concurrent changes of two settings both hold;
    /// audited only when it changed.
    async fn set_override(
        &self,
        actor: &Actor,
        reseller: &Username,
        setting: Setting,
        action: &str,
    ) -> Result<Reseller> {
        if let Setting::Limit(..) = setting {
            actor.require_admin()?;
        }
        let column = setting.column();
        let mut tx = self.db.begin_write().await?;
        let r = managed(&mut tx, actor, reseller).await?;
        if let Setting::Permission(p, on) = setting {
            check_within_parent(&mut tx, &r, p, on).await?;
        }
        let changed = sqlx::query(&format!(
            "INSERT INTO reseller_overrides (reseller_id, {column}) VALUES ($1, $2) \
             ON CONFLICT (reseller_id) DO UPDATE SET {column} = excluded.{column} \
             WHERE reseller_overrides.{column} IS DISTINCT FROM excluded.{column}"
        ))
        .bind(r.id.0)
        .bind(setting.value())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !changed {
            return Ok(r);
        }
        audited(
            tx,
            actor,
            &r,
            action,
            serde_json::json!({ "setting": column, "value": setting.value(), "override": true }),
        )
        .await
    }

    /// `column` is always one of our own constant names, never input.
    async fn set_reseller_column(
        &self,
        actor: &Actor,
        reseller: &Username,
        column: &'static str,
        value: i64,
        action: &str,
    ) -> Result<Reseller> {
        let mut tx = self.db.begin_write().await?;
        let r = managed(&mut tx, actor, reseller).await?;
        let changed = sqlx::query(&format!(
            "UPDATE resellers SET {column} = $1 WHERE id = $2 AND {column} <> $1"
        ))
        .bind(value)
        .bind(r.id.0)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !changed {
            return Ok(r);
        }
        audited(
            tx,
            actor,
            &r,
            action,
            serde_json::json!({ "setting": column, "value": value }),
        )
        .await
    }
}

/// Records the change of one of `r`'s settings in the audit log and commits `tx`; returns `r` as
/// it now reads.
async fn audited(
    mut tx: Tx,
    actor: &Actor,
    r: &Reseller,
    action: &str,
    details: serde_json::Value,
) -> Result<Reseller> {
    audit::record(
        &mut tx,
        actor,
        Entry {
            action,
            reseller: Some(r.id),
            target: Some(&r.username),
            details,
        },
    )
    .await?;
    let updated = resellers::by_id(&mut *tx, r.id).await?;
    tx.commit().await?;
    Ok(updated)
}

/// The reseller `username` if `actor` manages them (see [`require_manager`]); to a parent,
/// anyone else is "not found", whether they exist or not.
async fn managed(tx: &mut Tx, actor: &Actor, username: &Username) -> Result<Reseller> {
    let r = match resellers::by_username(&mut **tx, username).await {
        Err(CoreError::NotFound { .. }) if !actor.is_admin() => {
            return Err(not_a_subreseller(username.as_str()));
        }
        other => other?,
    };
    require_manager(tx, actor, &r).await?;
    Ok(r)
}
