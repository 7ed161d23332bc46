//! Per-reseller rate limit on actions that change something, so a stuck phone or a script cannot
//! hammer the ledger.
//!
//! The budget lives in the database ([`reseller_core::ratelimit`]), not in this process, so
//! the configured number holds however many instances serve the bot; the price is one write
//! per changing action. No in-process limiter sits in front of it: one that refused on its own
//! count would refuse actions the shared budget still allows (it cannot see what the other
//! instances spent, nor what the database refused after it let an action through).

use reseller_core::ratelimit::ActionBudget;
use reseller_core::{Actor, Core, Result};

pub(crate) struct ActionLimiter {
    budget: ActionBudget,
}

impl ActionLimiter {
    pub(crate) fn new(budget: ActionBudget) -> ActionLimiter {
        ActionLimiter { budget }
    }

    /// Spends one action of a reseller's budget; [`reseller_core::CoreError::TooFast`] says how
    /// long to wait. Admins are not limited.
    pub(crate) async fn check(&self, core: &Core, actor: &Actor) -> Result<()> {
        match actor {
            Actor::Admin(_) => Ok(()),
            Actor::Reseller(id) => core.spend_action(*id, self.budget).await,
        }
    }
}
