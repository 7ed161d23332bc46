//! The caller's account, the packages they can buy, and their credit history.

use super::page_index;
use crate::AppState;
use crate::api::auth::Caller;
use crate::api::errors::{ApiError, ErrorBody};
use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use reseller_core::domain::{Limit, Permission};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Account {
    pub username: String,
    pub display_name: String,
    /// Credits: 1 credit = 1 day of a subscriber.
    pub balance: i64,
    /// The permissions the reseller holds, by name (`can_create_users`, ...).
    pub permissions: Vec<&'static str>,
    pub limits: Limits,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Limits {
    pub max_users: i64,
    pub max_connections_per_user: i64,
    pub trial_quota: i64,
}

/// The caller's balance, permissions and limits.
#[utoipa::path(get, path = "/api/v1/account", tag = "account",
    responses((status = 200, body = Account), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn account(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<Account>, ApiError> {
    let r = state.core.me(caller.reseller).await?;
    Ok(Json(Account {
        permissions: Permission::ALL
            .into_iter()
            .filter(|p| r.permissions.allows(*p))
            .map(Permission::column)
            .collect(),
        limits: Limits {
            max_users: r.limit(Limit::MaxUsers),
            max_connections_per_user: r.limit(Limit::MaxConnectionsPerUser),
            trial_quota: r.limit(Limit::TrialQuota),
        },
        username: r.username,
        display_name: r.display_name,
        balance: r.balance,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Package {
    pub id: i64,
    pub name: String,
    pub credits: i64,
    /// In the currency's usual decimal form, e.g. "180.00".
    pub price: String,
    pub currency: String,
    /// The price in Telegram Stars, when sold for Stars.
    pub stars_price: Option<i64>,
}

/// The credit packages on sale, at the caller's own prices (their discounts applied).
#[utoipa::path(get, path = "/api/v1/packages", tag = "account",
    responses((status = 200, body = [Package]), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn packages(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<Vec<Package>>, ApiError> {
    let packages = state.core.packages_for(&caller.actor()).await?;
    Ok(Json(
        packages
            .into_iter()
            .map(|p| Package {
                price: reseller_core::payments::to_decimal(p.price_minor, &p.package.currency),
                id: p.package.id,
                name: p.package.name,
                credits: p.package.credits,
                currency: p.package.currency,
                stars_price: p.stars_price,
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct PageQuery {
    /// From 1; past the end gives the last page.
    pub page: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HistoryPage {
    pub items: Vec<HistoryEntry>,
    pub page: i64,
    pub pages: i64,
    pub total: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HistoryEntry {
    pub id: i64,
    /// Positive for credits in, negative for credits out.
    pub amount: i64,
    /// `credit`, `debit`, `refund`, `adjustment`, `bonus` or `purchase`.
    pub kind: &'static str,
    pub balance_before: i64,
    pub balance_after: i64,
    pub subscriber: Option<String>,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The caller's ledger, newest first.
#[utoipa::path(get, path = "/api/v1/history", tag = "account", params(PageQuery),
    responses((status = 200, body = HistoryPage), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn history(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Query(q): Query<PageQuery>,
) -> Result<Json<HistoryPage>, ApiError> {
    let page = state
        .core
        .history(&caller.actor(), None, page_index(q.page))
        .await?;
    Ok(Json(HistoryPage {
        page: page.page + 1,
        pages: page.pages(),
        total: page.total,
        items: page
            .items
            .into_iter()
            .map(|e| HistoryEntry {
                id: e.id,
                amount: e.amount,
                kind: e.kind.as_str(),
                balance_before: e.balance_before,
                balance_after: e.balance_after,
                subscriber: e.subscriber,
                note: e.note,
                created_at: e.created_at,
            })
            .collect(),
    }))
}
