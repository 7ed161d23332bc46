//! The credit ledger: every balance change is a row carrying the balance before and after, written
//! in the same transaction as the change, so that the balances can always be re-derived and checked.

use crate::db::Tx;
use crate::domain::{ResellerId, SubscriberId};
use crate::{Core, Result};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// Why credits moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An admin granted credits.
    Credit,
    /// Credits spent on a subscriber.
    Debit,
    /// Credits given back, or a payment reversed.
    Refund,
    /// An admin deducted credits.
    Adjustment,
    Bonus,
    Purchase,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Credit => "credit",
            Kind::Debit => "debit",
            Kind::Refund => "refund",
            Kind::Adjustment => "adjustment",
            Kind::Bonus => "bonus",
            Kind::Purchase => "purchase",
        }
    }

    pub(crate) fn parse(s: &str) -> Kind {
        match s {
            "credit" => Kind::Credit,
            "debit" => Kind::Debit,
            "refund" => Kind::Refund,
            "bonus" => Kind::Bonus,
            "purchase" => Kind::Purchase,
            _ => Kind::Adjustment,
        }
    }
}

/// One ledger row to write.
pub(crate) struct Posting<'a> {
    pub reseller: ResellerId,
    /// Signed: negative spends.
    pub amount: i64,
    pub kind: Kind,
    /// Who moved the credits, as written in the ledger (`admin:1`, `payment:stripe`).
    pub actor: String,
    pub subscriber: Option<(SubscriberId, &'a str)>,
    pub note: Option<&'a str>,
    /// Unique per posting; derived from the operation id so a replay cannot post twice.
    pub key: String,
}

/// Balances after a posting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Movement {
    pub before: i64,
    pub after: i64,
}

/// Moves credits with one conditional `UPDATE`, never read-then-write. With `allow_negative`
/// false the update only happens if the balance stays at or above zero; `None` means it did not.
pub(crate) async fn post(
    tx: &mut Tx,
    p: Posting<'_>,
    allow_negative: bool,
) -> Result<Option<Movement>> {
    let sql = if allow_negative {
        "UPDATE resellers SET balance = balance + $1 WHERE id = $2 RETURNING balance"
    } else {
        "UPDATE resellers SET balance = balance + $1 WHERE id = $2 AND balance + $1 >= 0 RETURNING balance"
    };
    let after: Option<i64> = sqlx::query_scalar(sql)
        .bind(p.amount)
        .bind(p.reseller.0)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(after) = after else { return Ok(None) };
    let movement = Movement {
        before: after - p.amount,
        after,
    };
    sqlx::query(
        "INSERT INTO credit_transactions (reseller_id, amount, kind, balance_before, balance_after, actor, \
         subscriber_id, subscriber_username, note, idempotency_key, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(p.reseller.0)
    .bind(p.amount)
    .bind(p.kind.as_str())
    .bind(movement.before)
    .bind(movement.after)
    .bind(&p.actor)
    .bind(p.subscriber.map(|s| s.0.0))
    .bind(p.subscriber.map(|s| s.1))
    .bind(p.note)
    .bind(p.key)
    .bind(crate::core::now())
    .execute(&mut **tx)
    .await?;
    Ok(Some(movement))
}

/// The current balance, read inside the transaction to explain a refusal with numbers.
pub(crate) async fn balance(tx: &mut Tx, reseller: ResellerId) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT balance FROM resellers WHERE id = $1")
            .bind(reseller.0)
            .fetch_one(&mut **tx)
            .await?,
    )
}

/// What `ledger verify` found.
#[derive(Debug, Default)]
pub struct Report {
    pub resellers: usize,
    pub transactions: usize,
    /// One sentence per broken invariant; empty when the ledger is sound.
    pub violations: Vec<String>,
}

impl Core {
    /// See [`verify`].
    pub async fn verify_ledger(&self) -> Result<Report> {
        verify(&self.db).await
    }
}

/// Checks that every balance equals the sum of its transactions, that each transaction's
/// `balance_after = balance_before + amount` and chains from the previous one, and that no
/// balance is negative except through a refund (a reversed payment leaves a debt).
pub async fn verify(db: &crate::Db) -> Result<Report> {
    {
        let mut report = Report::default();
        let balances: Vec<(i64, String, i64)> =
            sqlx::query_as("SELECT id, username, balance FROM resellers ORDER BY id")
                .fetch_all(db.read())
                .await?;
        report.resellers = balances.len();
        let rows = sqlx::query(
            "SELECT id, reseller_id, amount, balance_before, balance_after, kind FROM credit_transactions \
             ORDER BY reseller_id, id",
        )
        .fetch_all(db.read())
        .await?;
        report.transactions = rows.len();
        // Per reseller: (sum of amounts, balance_after of the last row).
        let mut seen: std::collections::HashMap<i64, (i64, i64)> = Default::default();
        // Resellers with a refund: only a reversed payment may leave a balance below zero (a debt).
        let mut refunded = std::collections::HashSet::new();
        for row in &rows {
            let (id, reseller, amount, before, after): (i64, i64, i64, i64, i64) = (
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                row.try_get(3)?,
                row.try_get(4)?,
            );
            if before + amount != after {
                report.violations.push(format!(
                    "transaction {id}: balance_before {before} + amount {amount} is not balance_after {after}"
                ));
            }
            let kind: String = row.try_get(5)?;
            if amount < 0 && after < 0 && kind != "refund" {
                report.violations.push(format!(
                    "transaction {id} of reseller {reseller}: a {kind} took the balance below zero ({after})"
                ));
            }
            let (sum, last) = seen.entry(reseller).or_insert((0, 0));
            if before != *last {
                report.violations.push(format!(
                    "transaction {id} of reseller {reseller}: balance_before {before} does not follow the previous balance_after {last}"
                ));
            }
            if kind == "refund" {
                refunded.insert(reseller);
            }
            *sum += amount;
            *last = after;
        }
        for (id, username, balance) in balances {
            let (sum, _) = seen.get(&id).copied().unwrap_or((0, 0));
            if balance != sum {
                report.violations.push(format!(
                    "reseller {id} ({username}): balance {balance} is not the sum of its transactions {sum}"
                ));
            }
            if balance < 0 && !refunded.contains(&id) {
                report.violations.push(format!(
                    "reseller {id} ({username}): balance {balance} is negative without a refund to explain it"
                ));
            }
        }
        Ok(report)
    }
}
