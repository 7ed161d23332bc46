use crate::audit::{self, Entry};
use crate::domain::{Days, LEDGER_NOTE_MAX, Label, OperationId, Username};
use crate::idempotency::Claim;
use crate::ledger::{self, Kind, Movement, Posting};
use crate::queries::resellers;
use crate::{Actor, Core, CoreError, Done, Result};
use serde::{Deserialize, Serialize};

/// Credits an admin moved on a reseller's balance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Moved {
    pub reseller: String,
    /// Signed.
    pub amount: i64,
    pub movement: Movement,
}

/// Refuses a note on a credit movement over [`LEDGER_NOTE_MAX`] characters, with both numbers.
pub(crate) fn check_note(note: &str, what: &str) -> Result<()> {
    Label::parse(note, what, LEDGER_NOTE_MAX)?;
    Ok(())
}

impl Core {
    /// An admin adds `days` credits to a reseller, whatever the balance (one in debt too).
    pub async fn grant(
        &self,
        actor: &Actor,
        op: &OperationId,
        reseller: &Username,
        days: Days,
        note: Option<&str>,
    ) -> Result<Done<Moved>> {
        actor.require_admin()?;
        if let Some(note) = note {
            check_note(note, "A note")?;
        }
        self.adjust(actor, op, reseller, days.get(), Kind::Credit, note)
            .await
    }

    /// An admin takes `days` credits from a reseller, never below zero.
    pub async fn deduct(
        &self,
        actor: &Actor,
        op: &OperationId,
        reseller: &Username,
        days: Days,
        note: &str,
    ) -> Result<Done<Moved>> {
        actor.require_admin()?;
        check_note(note, "A reason")?;
        self.adjust(
            actor,
            op,
            reseller,
            -days.get(),
            Kind::Adjustment,
            Some(note),
        )
        .await
    }

    async fn adjust(
        &self,
        actor: &Actor,
        op: &OperationId,
        reseller: &Username,
        amount: i64,
        kind: Kind,
        note: Option<&str>,
    ) -> Result<Done<Moved>> {
        let mut claimed = match self.claim(op, actor).await? {
            Claim::Fresh(tx) => tx,
            Claim::Replayed(done) => return Ok(done),
        };
        let tx = &mut claimed;
        let r = resellers::by_username(&mut **tx, reseller).await?;
        let posting = Posting {
            reseller: r.id,
            amount,
            kind,
            actor: actor.label(),
            subscriber: None,
            note,
            key: format!("{op}:{}", kind.as_str()),
        };
        // A grant always applies, even to a balance in debt; a deduction never goes below zero.
        let Some(movement) = ledger::post(tx, posting, amount > 0).await? else {
            return Err(CoreError::DeductBelowZero {
                reseller: r.username,
                amount: -amount,
                balance: ledger::balance(tx, r.id).await?,
            });
        };
        audit::record(
            tx,
            actor,
            Entry {
                action: if amount > 0 { "credits.grant" } else { "credits.deduct" },
                reseller: Some(r.id),
                target: Some(&r.username),
                details: serde_json::json!({ "amount": amount, "note": note, "balance_after": movement.after }),
            },
        )
        .await?;
        let (verb, why) = if amount > 0 {
            (
                "granted you",
                note.map(|n| format!(" ({n})")).unwrap_or_default(),
            )
        } else {
            (
                "deducted",
                note.map(|n| format!(" from you ({n})")).unwrap_or_default(),
            )
        };
        crate::notify::to_reseller(
            tx,
            r.id.0,
            &format!(
                "An admin {verb} {} credits{why}; balance {}.",
                amount.abs(),
                movement.after
            ),
        )
        .await?;
        self.finish(
            claimed,
            op,
            Moved {
                reseller: r.username,
                amount,
                movement,
            },
        )
        .await
    }
}
