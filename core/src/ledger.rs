//! The credit ledger: every balance change is a row carrying the balance before and after, written
//! in the same transaction as the change, so that the balances can always be re-derived and checked.

use crate::db::Tx;
use crate::domain::{ResellerId, SubscriberId};
use crate::{Core, Result};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

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
    /// Credits a reseller moved to another in the hierarchy (a parent giving, or taking back).
    TransferOut,
    /// The other side of a [`Kind::TransferOut`], in the same transaction.
    TransferIn,
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
            Kind::TransferOut => "transfer_out",
            Kind::TransferIn => "transfer_in",
        }
    }

    pub(crate) fn parse(s: &str) -> Kind {
        match s {
            "credit" => Kind::Credit,
            "debit" => Kind::Debit,
            "refund" => Kind::Refund,
            "bonus" => Kind::Bonus,
            "purchase" => Kind::Purchase,
            "transfer_out" => Kind::TransferOut,
            "transfer_in" => Kind::TransferIn,
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
    .bind(&p.key)
    .bind(crate::core::now())
    .execute(&mut **tx)
    .await?;
    crate::metrics::credit_transaction(p.kind);
    // Every debit path comes through here, so each inherits the low-credit alert.
    crate::notify::check_low_credit(tx, p.reseller.0, p.amount < 0).await?;
    Ok(Some(movement))
}

/// Links the two rows of the transfer `op` (posted under [`transfer_key`]) by `transfer_id`, so
/// that `verify` can check they pair up.
pub(crate) async fn pair_transfer(tx: &mut Tx, op: &str) -> Result<()> {
    let linked = sqlx::query(
        "UPDATE credit_transactions SET transfer_id = $1 WHERE idempotency_key IN ($2, $3)",
    )
    .bind(op)
    .bind(transfer_key(op, Kind::TransferOut))
    .bind(transfer_key(op, Kind::TransferIn))
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if linked != 2 {
        return Err(crate::CoreError::Internal(
            format!("transfer {op} has {linked} ledger rows, not 2").into(),
        ));
    }
    Ok(())
}

/// The ledger key of one side of the transfer `op`.
pub(crate) fn transfer_key(op: &str, kind: Kind) -> String {
    format!("{op}:{}", kind.as_str())
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

/// Checks, in one consistent snapshot of a live database:
/// - every balance equals the sum of its transactions, and each row's
///   `balance_after = balance_before + amount` chains from the previous one;
/// - no balance is negative except through a refund (a reversed payment leaves a debt);
/// - each row's sign fits its kind, and no row names a reseller that does not exist;
/// - a `purchase` or payment `refund` row belongs to an order that was paid (or since refunded);
/// - every transfer is one `transfer_out` and one `transfer_in` of the same amount, opposite
///   sign, on two resellers, sharing a `transfer_id`;
/// - the maintained counters (subscribers per reseller, enabled subscribers per expiry bucket)
///   match the subscribers table.
pub async fn verify(db: &crate::Db) -> Result<Report> {
    let mut snapshot = db.read().begin().await?;
    if db.backend() == crate::Backend::Postgres {
        // Without this each statement sees its own moment, and a payment landing between two
        // reads looks like a broken balance.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *snapshot)
            .await?;
    }
    let mut report = Report::default();
    let balances: Vec<(i64, String, i64)> =
        sqlx::query_as("SELECT id, username, balance FROM resellers ORDER BY id")
            .fetch_all(&mut *snapshot)
            .await?;
    report.resellers = balances.len();
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, reseller_id, amount, balance_before, balance_after, kind, idempotency_key \
         FROM credit_transactions ORDER BY reseller_id, id",
    )
    .fetch_all(&mut *snapshot)
    .await?;
    report.transactions = rows.len();
    let orders: HashMap<i64, String> = sqlx::query_as("SELECT id, status FROM orders")
        .fetch_all(&mut *snapshot)
        .await?
        .into_iter()
        .collect();
    let known: HashSet<i64> = balances.iter().map(|b| b.0).collect();
    let chains = check_rows(&rows, &known, &orders, &mut report.violations);
    for (id, username, balance) in &balances {
        let chain = chains.get(id).copied().unwrap_or_default();
        if *balance != chain.sum {
            report.violations.push(format!(
                "reseller {id} ({username}): balance {balance} is not the sum of its transactions {}",
                chain.sum
            ));
        }
        if *balance < 0 && !chain.refunded {
            report.violations.push(format!(
                "reseller {id} ({username}): balance {balance} is negative without a refund to explain it"
            ));
        }
    }
    let transfers: Vec<TransferRow> = sqlx::query_as(
        "SELECT id, reseller_id, amount, kind, transfer_id FROM credit_transactions \
         WHERE kind IN ('transfer_out', 'transfer_in') OR transfer_id IS NOT NULL ORDER BY id",
    )
    .fetch_all(&mut *snapshot)
    .await?;
    check_transfers(&transfers, &mut report.violations);
    check_counters(&mut snapshot, &mut report.violations).await?;
    snapshot.rollback().await?;
    Ok(report)
}

/// A ledger row as `verify` reads it.
type Row = (i64, i64, i64, i64, i64, String, String);

/// What one reseller's rows add up to.
#[derive(Clone, Copy, Default)]
struct Chain {
    sum: i64,
    last: i64,
    refunded: bool,
}

/// Checks each row on its own and as a link of its reseller's chain; returns the chains.
fn check_rows(
    rows: &[Row],
    resellers: &HashSet<i64>,
    orders: &HashMap<i64, String>,
    violations: &mut Vec<String>,
) -> HashMap<i64, Chain> {
    let mut chains: HashMap<i64, Chain> = HashMap::new();
    for (id, reseller, amount, before, after, kind, key) in rows {
        let (id, reseller, amount, before, after) = (*id, *reseller, *amount, *before, *after);
        if before + amount != after {
            violations.push(format!(
                "transaction {id}: balance_before {before} + amount {amount} is not balance_after {after}"
            ));
        }
        if !resellers.contains(&reseller) {
            violations.push(format!(
                "transaction {id}: reseller {reseller} does not exist"
            ));
        }
        if let Some(sign) = wrong_sign(kind, amount) {
            violations.push(format!(
                "transaction {id} of reseller {reseller}: a {kind} of {amount} credits {sign}"
            ));
        }
        if let Some(order) = order_of(key) {
            let status = orders.get(&order).map(String::as_str);
            if !matches!(status, Some("paid" | "refunded")) {
                violations.push(format!(
                    "transaction {id} of reseller {reseller}: a {kind} for order {order}, which is {}",
                    status.unwrap_or("missing")
                ));
            }
        } else if kind == "purchase" {
            violations.push(format!(
                "transaction {id} of reseller {reseller}: a purchase that names no order"
            ));
        }
        if amount < 0 && after < 0 && kind != "refund" {
            violations.push(format!(
                "transaction {id} of reseller {reseller}: a {kind} took the balance below zero ({after})"
            ));
        }
        let chain = chains.entry(reseller).or_default();
        if before != chain.last {
            violations.push(format!(
                "transaction {id} of reseller {reseller}: balance_before {before} does not follow the previous balance_after {}",
                chain.last
            ));
        }
        chain.refunded |= kind == "refund";
        chain.sum += amount;
        chain.last = after;
    }
    chains
}

/// Why `amount` cannot be a row of `kind`, if it cannot: grants, bonuses and purchases add,
/// spending and deductions take, a refund goes either way (credits back, or a payment
/// reversed), and nothing moves zero credits.
fn wrong_sign(kind: &str, amount: i64) -> Option<&'static str> {
    match kind {
        _ if amount == 0 => Some("moves nothing"),
        "credit" | "bonus" | "purchase" if amount < 0 => Some("should add credits"),
        "debit" | "adjustment" | "transfer_out" if amount > 0 => Some("should take credits"),
        "transfer_in" if amount < 0 => Some("should add credits"),
        "credit" | "bonus" | "purchase" | "debit" | "adjustment" | "refund" | "transfer_out"
        | "transfer_in" => None,
        _ => Some("is of an unknown kind"),
    }
}

/// A ledger row of a transfer as `verify` reads it: id, reseller, amount, kind, transfer id.
type TransferRow = (i64, i64, i64, String, Option<String>);

/// Checks that the transfer rows pair up: each `transfer_id` has exactly one `transfer_out` and
/// one `transfer_in`, of opposite amounts, on two resellers; no transfer row lacks the id and
/// no other kind carries one.
fn check_transfers(rows: &[TransferRow], violations: &mut Vec<String>) {
    let mut pairs: HashMap<&str, Vec<&TransferRow>> = HashMap::new();
    for row in rows {
        let (id, reseller, _, kind, transfer) = row;
        let is_transfer = matches!(kind.as_str(), "transfer_out" | "transfer_in");
        match transfer {
            Some(t) if is_transfer => pairs.entry(t.as_str()).or_default().push(row),
            Some(t) => violations.push(format!(
                "transaction {id} of reseller {reseller}: a {kind} that names transfer {t}"
            )),
            None => violations.push(format!(
                "transaction {id} of reseller {reseller}: a {kind} that names no transfer"
            )),
        }
    }
    let mut ids: Vec<&&str> = pairs.keys().collect();
    ids.sort();
    for t in ids {
        let rows = &pairs[*t];
        let out = rows.iter().filter(|r| r.3 == "transfer_out").count();
        let inn = rows.iter().filter(|r| r.3 == "transfer_in").count();
        if out != 1 || inn != 1 {
            violations.push(format!(
                "transfer {t}: {out} transfer_out and {inn} transfer_in rows, not one of each"
            ));
            continue;
        }
        let (a, b) = (rows[0], rows[1]);
        if a.2 + b.2 != 0 {
            violations.push(format!(
                "transfer {t}: transaction {} moves {} and transaction {} moves {}, which do not cancel",
                a.0, a.2, b.0, b.2
            ));
        }
        if a.1 == b.1 {
            violations.push(format!("transfer {t}: both rows are on reseller {}", a.1));
        }
    }
}

/// The order a payment posting belongs to: its key is `order:<id>:...`.
fn order_of(key: &str) -> Option<i64> {
    key.strip_prefix("order:")?.split(':').next()?.parse().ok()
}

/// The counters the triggers of migration 0012 maintain, against the rows they count.
async fn check_counters(tx: &mut crate::db::Tx, violations: &mut Vec<String>) -> Result<()> {
    let owned: Vec<(i64, String, i64, i64)> = sqlx::query_as(
        "SELECT r.id, r.username, r.subscriber_count, COUNT(s.id) FROM resellers r \
         LEFT JOIN subscribers s ON s.reseller_id = r.id \
         GROUP BY r.id, r.username, r.subscriber_count HAVING r.subscriber_count <> COUNT(s.id)",
    )
    .fetch_all(&mut **tx)
    .await?;
    for (id, username, kept, counted) in owned {
        violations.push(format!(
            "reseller {id} ({username}): subscriber count {kept} but {counted} subscribers"
        ));
    }
    let buckets: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT COALESCE(b.owner, s.owner), COALESCE(b.bucket, s.bucket), COALESCE(b.enabled, 0), COALESCE(s.n, 0) \
         FROM expiry_buckets b FULL OUTER JOIN \
         (SELECT COALESCE(reseller_id, 0) AS owner, expires_at / 2592000 AS bucket, COUNT(*) AS n \
          FROM subscribers WHERE active = 1 GROUP BY COALESCE(reseller_id, 0), expires_at / 2592000) s \
         ON s.owner = b.owner AND s.bucket = b.bucket \
         WHERE COALESCE(b.enabled, 0) <> COALESCE(s.n, 0)",
    )
    .fetch_all(&mut **tx)
    .await?;
    for (owner, bucket, kept, counted) in buckets {
        violations.push(format!(
            "expiry bucket {bucket} of owner {owner}: {kept} enabled subscribers kept but {counted} counted"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_transfers;

    fn row(id: i64, reseller: i64, amount: i64, kind: &str, t: Option<&str>) -> super::TransferRow {
        (
            id,
            reseller,
            amount,
            kind.to_string(),
            t.map(str::to_string),
        )
    }

    #[test]
    fn transfers_must_pair_up() {
        let mut v = Vec::new();
        check_transfers(
            &[
                row(1, 1, -5, "transfer_out", Some("a")),
                row(2, 2, 5, "transfer_in", Some("a")),
            ],
            &mut v,
        );
        assert!(v.is_empty(), "{v:?}");

        let broken = [
            // Amounts that do not cancel.
            row(3, 1, -5, "transfer_out", Some("b")),
            row(4, 2, 4, "transfer_in", Some("b")),
            // A side missing.
            row(5, 1, -5, "transfer_out", Some("c")),
            // Both rows on one reseller.
            row(6, 1, -2, "transfer_out", Some("d")),
            row(7, 1, 2, "transfer_in", Some("d")),
            // No link, and a link on another kind.
            row(8, 2, 3, "transfer_in", None),
            row(9, 2, -3, "debit", Some("e")),
        ];
        let mut v = Vec::new();
        check_transfers(&broken, &mut v);
        assert_eq!(v.len(), 5, "{v:#?}");
        assert!(
            v.iter()
                .any(|m| m.contains("transfer b") && m.contains("do not cancel"))
        );
        assert!(
            v.iter()
                .any(|m| m.contains("transfer c: 1 transfer_out and 0 transfer_in"))
        );
        assert!(
            v.iter()
                .any(|m| m.contains("transfer d: both rows are on reseller 1"))
        );
        assert!(
            v.iter()
                .any(|m| m.contains("transaction 8") && m.contains("names no transfer"))
        );
        assert!(
            v.iter()
                .any(|m| m.contains("transaction 9") && m.contains("names transfer e"))
        );
    }
}
