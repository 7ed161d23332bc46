use super::subresellers::{not_a_subreseller, require_manager};
use crate::audit::{self, Entry};
use crate::db::Tx;
use crate::domain::{Days, OperationId, ResellerId, Username};
use crate::idempotency::Claim;
use crate::ledger::{self, Kind, Posting, transfer_key};
use crate::queries::resellers;
use crate::{Actor, Backend, Core, CoreError, Done, Result};
use serde::{Deserialize, Serialize};

/// Credits a parent moved to or from one of their sub-resellers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Transferred {
    pub subreseller: String,
    pub days: i64,
    /// True when the parent took unused credits back.
    pub back: bool,
    /// The parent's balance after the transfer.
    pub balance: i64,
    pub subreseller_balance: i64,
}

impl Core {
    /// A parent moves `days` credits to their sub-reseller `sub`, or with `back` takes that many
    /// unused credits back. One transaction writes both ledger rows (`transfer_out` on the giver,
    /// `transfer_in` on the receiver, linked by the operation id), the audit row and a message
    /// to the sub-reseller. The giver's balance is taken by a conditional `UPDATE`, so it never
    /// goes below zero, whatever spends it at the same moment.
    pub async fn transfer(
        &self,
        actor: &Actor,
        op: &OperationId,
        sub: &Username,
        days: Days,
        back: bool,
    ) -> Result<Done<Transferred>> {
        if actor.is_admin() {
            // Admins move credits with grant and deduct; a transfer is between two resellers.
            return Err(CoreError::ResellersOnly);
        }
        let mut claimed = match self.claim(op, actor).await? {
            Claim::Fresh(tx) => tx,
            Claim::Replayed(done) => return Ok(done),
        };
        let tx = &mut claimed;
        let child = match resellers::by_username(&mut **tx, sub).await {
            Err(CoreError::NotFound { .. }) => return Err(not_a_subreseller(sub.as_str())),
            other => other?,
        };
        let Some(parent) = require_manager(tx, actor, &child).await? else {
            return Err(CoreError::ResellersOnly);
        };
        lock_pair(tx, self.db.backend(), parent.id, child.id).await?;
        let (giver, receiver) = if back {
            (child.id, parent.id)
        } else {
            (parent.id, child.id)
        };
        let amount = days.get();
        let key = op.as_str();
        let out = Posting {
            reseller: giver,
            amount: -amount,
            kind: Kind::TransferOut,
            actor: actor.label(),
            subscriber: None,
            note: None,
            key: transfer_key(key, Kind::TransferOut),
        };
        let Some(given) = ledger::post(tx, out, false).await? else {
            let balance = ledger::balance(tx, giver).await?;
            return Err(if back {
                CoreError::DeductBelowZero {
                    reseller: child.username,
                    amount,
                    balance,
                }
            } else {
                CoreError::InsufficientCredits {
                    action: format!("transfer {amount} days to {}", child.username),
                    needed: amount,
                    balance,
                }
            });
        };
        let into = Posting {
            reseller: receiver,
            amount,
            kind: Kind::TransferIn,
            actor: actor.label(),
            subscriber: None,
            note: None,
            key: transfer_key(key, Kind::TransferIn),
        };
        // Receiving always applies: it only adds.
        let received = ledger::post(tx, into, true)
            .await?
            .ok_or_else(|| CoreError::Internal("the receiving reseller is gone".into()))?;
        ledger::pair_transfer(tx, key).await?;
        let (balance, subreseller_balance) = if back {
            (received.after, given.after)
        } else {
            (given.after, received.after)
        };
        audit::record(
            tx,
            actor,
            Entry {
                action: if back {
                    "credits.transfer_back"
                } else {
                    "credits.transfer"
                },
                reseller: Some(child.id),
                target: Some(&child.username),
                details: serde_json::json!({
                    "amount": amount,
                    "parent": parent.username,
                    "parent_balance_after": balance,
                    "balance_after": subreseller_balance,
                }),
            },
        )
        .await?;
        let text = if back {
            format!(
                "{} took back {amount} unused credits from you. Your balance is {subreseller_balance}.",
                parent.username
            )
        } else {
            format!(
                "{} transferred {amount} credits to you. Your balance is {subreseller_balance}.",
                parent.username
            )
        };
        crate::notify::to_reseller(tx, child.id.0, &text).await?;
        self.finish(
            claimed,
            op,
            Transferred {
                subreseller: child.username,
                days: amount,
                back,
                balance,
                subreseller_balance,
            },
        )
        .await
    }
}

/// Locks both rows in id order before either balance moves, so a transfer and a transfer back
/// between the same two resellers cannot deadlock on PostgreSQL (SQLite's single writer already
/// orders them). `NO KEY UPDATE` is the lock the balance updates take anyway; a plain `FOR
/// UPDATE` would also wait on the key-share locks that the foreign keys of a concurrent
/// subscriber insert hold on the row, and deadlock with it.
async fn lock_pair(tx: &mut Tx, backend: Backend, a: ResellerId, b: ResellerId) -> Result<()> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT id FROM resellers WHERE id IN ($1, $2) ORDER BY id FOR NO KEY UPDATE")
            .bind(a.0)
            .bind(b.0)
            .fetch_all(&mut **tx)
            .await?;
    }
    Ok(())
}
