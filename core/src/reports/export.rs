//! CSV exports: UTF-8, a header row, dates in ISO 8601 (UTC), amounts as integers (credits,
//! or an order's currency's minor unit, named in the header). Subscribers go out without
//! passwords or tokens.

use super::{Month, Scope};
use crate::core::to_time;
use crate::{Actor, Core, CoreError, Result};
use serde::Serialize;

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    Subscribers,
    Ledger,
    Summary,
    Orders,
}

impl Export {
    pub fn parse(word: &str) -> Result<Export> {
        match word.trim().to_ascii_lowercase().as_str() {
            "subscribers" => Ok(Export::Subscribers),
            "ledger" => Ok(Export::Ledger),
            "summary" => Ok(Export::Summary),
            "orders" => Ok(Export::Orders),
            other => Err(CoreError::Invalid(crate::domain::ParseError(format!(
                "There is no “{other}” export: choose subscribers, ledger, summary or orders."
            )))),
        }
    }

    /// The file name, with the month for the exports that cover one.
    pub fn file_name(self, month: Month) -> String {
        match self {
            Export::Subscribers => "subscribers.csv".into(),
            Export::Ledger => format!("ledger-{month}.csv"),
            Export::Summary => format!("summary-{month}.csv"),
            Export::Orders => format!("orders-{month}.csv"),
        }
    }
}

fn iso(secs: i64) -> String {
    to_time(secs).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[derive(Serialize, sqlx::FromRow)]
struct SubscriberRow {
    username: String,
    reseller: Option<String>,
    #[sqlx(skip)]
    status: &'static str,
    #[sqlx(skip)]
    created: String,
    #[sqlx(skip)]
    expires: String,
    max_connections: i64,
    trial: i64,
    notes: String,
    #[serde(skip)]
    active: i64,
    #[serde(skip)]
    created_at: i64,
    #[serde(skip)]
    expires_at: i64,
}

#[derive(Serialize, sqlx::FromRow)]
struct LedgerRow {
    id: i64,
    #[sqlx(skip)]
    date: String,
    reseller: String,
    kind: String,
    amount: i64,
    balance_before: i64,
    balance_after: i64,
    actor: String,
    subscriber: Option<String>,
    note: Option<String>,
    #[serde(skip)]
    created_at: i64,
}

#[derive(Serialize, sqlx::FromRow)]
struct OrderRow {
    order: String,
    reseller: String,
    #[sqlx(skip)]
    created: String,
    #[sqlx(skip)]
    paid: String,
    status: String,
    credits: i64,
    amount_minor: i64,
    currency: String,
    provider: String,
    #[serde(skip)]
    created_at: i64,
    #[serde(skip)]
    paid_at: Option<i64>,
}

#[derive(Serialize)]
struct SummaryRow<'a> {
    month: String,
    reseller: &'a str,
    bought: i64,
    granted: i64,
    spent: i64,
    taken_back: i64,
    left: i64,
    created: i64,
    extended: i64,
    expired: i64,
    deleted: i64,
    churned: i64,
    active_at_end: i64,
    revenue: String,
}

impl Core {
    /// The export as CSV bytes, for `actor`'s scope; `month` for the ledger, the summary and
    /// the orders.
    pub async fn export_csv(&self, actor: &Actor, what: Export, month: Month) -> Result<Vec<u8>> {
        let scope = self.report_scope(actor).await?;
        let mut out = csv::Writer::from_writer(Vec::new());
        let db = self.db.read();
        match what {
            Export::Subscribers => {
                let (mine, id) = scope.filter("s.reseller_id", 1);
                let now = crate::core::now();
                let rows: Vec<SubscriberRow> = sqlx::query_as(&format!(
                    "SELECT s.username, r.username AS reseller, s.max_connections, s.is_trial AS trial, s.notes, \
                     s.active, s.created_at, s.expires_at FROM subscribers s LEFT JOIN resellers r ON r.id = s.reseller_id \
                     WHERE {mine} ORDER BY s.id"
                ))
                .bind(id)
                .fetch_all(db)
                .await?;
                for mut row in rows {
                    row.status = match (row.active, row.expires_at > now) {
                        (0, _) => "disabled",
                        (_, true) => "active",
                        _ => "expired",
                    };
                    row.created = iso(row.created_at);
                    row.expires = iso(row.expires_at);
                    out.serialize(&row).map_err(internal)?;
                }
            }
            Export::Ledger => {
                let (mine, id) = scope.filter("t.reseller_id", 1);
                let rows: Vec<LedgerRow> = sqlx::query_as(&format!(
                    "SELECT t.id, r.username AS reseller, t.kind, t.amount, t.balance_before, t.balance_after, t.actor, \
                     t.subscriber_username AS subscriber, t.note, t.created_at FROM credit_transactions t \
                     JOIN resellers r ON r.id = t.reseller_id \
                     WHERE {mine} AND t.created_at >= $2 AND t.created_at < $3 ORDER BY t.id"
                ))
                .bind(id)
                .bind(month.start())
                .bind(month.end())
                .fetch_all(db)
                .await?;
                for mut row in rows {
                    row.date = iso(row.created_at);
                    out.serialize(&row).map_err(internal)?;
                }
            }
            Export::Orders => {
                let (mine, id) = scope.filter("o.reseller_id", 1);
                let rows: Vec<OrderRow> = sqlx::query_as(&format!(
                    "SELECT o.public_id AS \"order\", r.username AS reseller, o.status, o.credits, o.amount_minor, \
                     o.currency, o.provider, o.created_at, o.paid_at FROM orders o JOIN resellers r ON r.id = o.reseller_id \
                     WHERE {mine} AND o.created_at >= $2 AND o.created_at < $3 ORDER BY o.id"
                ))
                .bind(id)
                .bind(month.start())
                .bind(month.end())
                .fetch_all(db)
                .await?;
                for mut row in rows {
                    row.created = iso(row.created_at);
                    row.paid = row.paid_at.map(iso).unwrap_or_default();
                    out.serialize(&row).map_err(internal)?;
                }
            }
            Export::Summary => {
                let report = self.month_report(actor, month).await?;
                let own;
                let lines: Vec<(&str, &super::Figures, &[super::Money])> = match scope {
                    Scope::All => report
                        .ranking
                        .iter()
                        .map(|l| (l.username.as_str(), &l.figures, l.revenue.as_slice()))
                        .collect(),
                    Scope::Reseller(id) => {
                        own = crate::queries::resellers::by_id(db, crate::domain::ResellerId(id))
                            .await?
                            .username;
                        vec![(own.as_str(), &report.totals, report.revenue.as_slice())]
                    }
                };
                for (reseller, f, revenue) in lines {
                    out.serialize(SummaryRow {
                        month: month.to_string(),
                        reseller,
                        bought: f.bought,
                        granted: f.granted,
                        spent: f.spent,
                        taken_back: f.taken_back,
                        left: f.left,
                        created: f.created,
                        extended: f.extended,
                        expired: f.expired,
                        deleted: f.deleted,
                        churned: f.churned(),
                        active_at_end: f.active_end,
                        revenue: revenue
                            .iter()
                            .map(|m| crate::payments::format_money(m.minor, &m.currency))
                            .collect::<Vec<_>>()
                            .join(" + "),
                    })
                    .map_err(internal)?;
                }
            }
        }
        out.into_inner().map_err(|e| internal(e.into_error()))
    }
}

fn internal(e: impl std::error::Error + Send + Sync + 'static) -> CoreError {
    CoreError::Internal(Box::new(e))
}
