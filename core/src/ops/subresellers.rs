//! Who manages a reseller: admins manage everyone, a reseller manages their own sub-resellers
//! (the ones whose `parent_id` is theirs) while they may act themselves. Every operation on a
//! reseller that a parent may also do asks here, so the bot never decides it.

use crate::domain::Permission;
use crate::queries::resellers::{self, Reseller};
use crate::{Actor, CoreError, Result};

/// Refuses `actor` unless they manage `target`: an admin, or `target`'s parent, not suspended
/// (nor under a suspended reseller). To anyone else a reseller who is not theirs is "not found".
/// Returns the parent when the actor is one.
pub(crate) async fn require_manager(
    conn: &mut sqlx::AnyConnection,
    actor: &Actor,
    target: &Reseller,
) -> Result<Option<Reseller>> {
    let Actor::Reseller(id) = actor else {
        return Ok(None);
    };
    let me = resellers::by_id(&mut *conn, *id).await?;
    if !me.active {
        return Err(CoreError::Suspended);
    }
    if target.parent_id != Some(me.id.0) {
        return Err(not_a_subreseller(&target.username));
    }
    Ok(Some(me))
}

/// The refusal for a reseller who is not the asker's sub-reseller: it tells nothing about them.
pub(crate) fn not_a_subreseller(username: &str) -> CoreError {
    CoreError::NotFound {
        kind: "sub-reseller",
        name: username.to_string(),
    }
}

/// Refuses turning on a permission for a sub-reseller that their parent does not hold: a
/// sub-reseller's permissions never exceed their parent's (and are narrowed again at use).
pub(crate) async fn check_within_parent(
    conn: &mut sqlx::AnyConnection,
    target: &Reseller,
    permission: Permission,
    on: bool,
) -> Result<()> {
    let Some(parent) = target.parent_id.filter(|_| on) else {
        return Ok(());
    };
    let parent = resellers::by_id(&mut *conn, crate::domain::ResellerId(parent)).await?;
    if parent.permissions.allows(permission) {
        Ok(())
    } else {
        Err(CoreError::BeyondParent {
            permission,
            reseller: target.username.clone(),
            parent: parent.username,
        })
    }
}

/// Refuses a reseller who may not create a sub-reseller: suspended, without
/// `can_create_subresellers`, or with no nesting depth left below them.
pub(crate) fn check_may_create(parent: &Reseller) -> Result<()> {
    parent.require(Permission::CanCreateSubresellers)?;
    if parent.subreseller_depth < 1 {
        return Err(CoreError::SubresellerDepth {
            depth: parent.subreseller_depth.max(0),
        });
    }
    Ok(())
}
