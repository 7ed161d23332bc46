//! Who is asking, and what they may do.

use crate::domain::{Permission, ResellerId, TelegramId};
use crate::queries::resellers::Reseller;
use crate::{CoreError, Result};
use serde::{Deserialize, Serialize};

/// The party behind a request, resolved from their Telegram id by [`crate::Core::identify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Actor {
    Admin(TelegramId),
    Reseller(ResellerId),
}

impl Actor {
    /// How the actor is written in the ledger and the audit log.
    pub(crate) fn label(&self) -> String {
        match self {
            Actor::Admin(t) => format!("admin:{}", t.0),
            Actor::Reseller(r) => format!("reseller:{}", r.0),
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Actor::Admin(_))
    }

    pub(crate) fn require_admin(&self) -> Result<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(CoreError::AdminOnly)
        }
    }
}

impl Reseller {
    /// Refuses a suspended reseller, and one lacking `permission`.
    pub(crate) fn require(&self, permission: Permission) -> Result<()> {
        if !self.active {
            return Err(CoreError::Suspended);
        }
        if !self.permissions.allows(permission) {
            return Err(CoreError::Forbidden(permission));
        }
        Ok(())
    }
}
