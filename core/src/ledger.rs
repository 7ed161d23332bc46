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
    .bind(&p.key)
    .bind(crate::core::now())
    .execute(&mut **tx)
    .await?;
    crate::metrics::credit_transaction(p.kind);
    // Every debit path comes through here, so each inherits the low-credit alert.
    crate::notify::check_low_credit(tx, p.reseller.0, p.amount < 0).await?;
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

/// Checks, in one consistent snapshot of a live database:
/// - every balance equals the sum of its transactions, and each row's
///   `balance_after = balance_before + amount` chains from the previous one;
/// - no balance is negative except through a refund (a reversed payment leaves a debt);
/// - each row's sign fits its kind, and no row names a reseller that does not exist;
/// - a `purchase` or payment `refund` row belongs to an order that was paid (or since refunded);
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
        "debit" | "adjustment" if amount > 0 => Some("should take credits"),
        "credit" | "bonus" | "purchase" | "debit" | "adjustment" | "refund" => None,
        _ => Some("is of an unknown kind"),
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
