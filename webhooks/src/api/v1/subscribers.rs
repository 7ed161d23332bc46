//! The caller's subscribers: list, get, create, trial, extend, reset, enable, disable, delete and
//! credentials. Changes spend one of the reseller's actions and take an `Idempotency-Key`.

use super::{answer, body, page_index};
use crate::AppState;
use crate::api::auth::{Caller, spend_action};
use crate::api::errors::{ApiError, ErrorBody};
use crate::api::idempotency;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use reseller_core::api_keys::ApiCaller;
use reseller_core::domain::{Days, OperationId, Username};
use reseller_core::queries::subscribers::{Filter, Status, Subscriber as Line, parse_filter};
use reseller_core::{CoreError, Done};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Subscriber {
    pub id: i64,
    pub username: String,
    /// `active`, `expired` or `disabled`.
    pub status: &'static str,
    pub enabled: bool,
    pub trial: bool,
    pub expires_at: DateTime<Utc>,
    pub days_left: i64,
    pub max_connections: i64,
    /// Live connections; absent without `can_view_connections`.
    pub active_connections: Option<i64>,
    pub notes: String,
    pub created_at: DateTime<Utc>,
}

impl From<Line> for Subscriber {
    fn from(s: Line) -> Self {
        let now = Utc::now();
        Subscriber {
            id: s.id.0,
            status: match s.status(now) {
                Status::Active => "active",
                Status::Expired => "expired",
                Status::Disabled => "disabled",
            },
            days_left: s.days_left(now),
            enabled: s.active,
            trial: s.is_trial,
            expires_at: s.expires_at,
            max_connections: s.max_connections,
            active_connections: s.active_connections,
            notes: s.notes,
            created_at: s.created_at,
            username: s.username,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct ListQuery {
    /// `all` (default), `active`, `expired`, `expiring` or `disabled`.
    pub filter: Option<String>,
    /// Part of a username.
    pub search: Option<String>,
    /// From 1; past the end gives the last page.
    pub page: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SubscriberPage {
    pub items: Vec<Subscriber>,
    pub page: i64,
    pub pages: i64,
    pub total: i64,
}

/// The caller's subscribers, newest first, ten a page.
#[utoipa::path(get, path = "/api/v1/subscribers", tag = "subscribers", params(ListQuery),
    responses((status = 200, body = SubscriberPage), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<SubscriberPage>, ApiError> {
    let filter = q
        .filter
        .as_deref()
        .map(parse_filter)
        .transpose()
        .map_err(CoreError::from)?
        .unwrap_or(Filter::All);
    let page = state
        .core
        .subscribers(
            &caller.actor(),
            filter,
            q.search.as_deref(),
            page_index(q.page),
        )
        .await?;
    Ok(Json(SubscriberPage {
        page: page.page + 1,
        pages: page.pages(),
        total: page.total,
        items: page.items.into_iter().map(Subscriber::from).collect(),
    }))
}

fn username(name: &str) -> Result<Username, ApiError> {
    Ok(Username::parse(name).map_err(CoreError::from)?)
}

/// One subscriber.
#[utoipa::path(get, path = "/api/v1/subscribers/{username}", tag = "subscribers",
    params(("username" = String, Path)),
    responses((status = 200, body = Subscriber), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Json<Subscriber>, ApiError> {
    let line = state
        .core
        .subscriber(&caller.actor(), &username(&name)?)
        .await?;
    Ok(Json(line.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Credentials {
    pub username: String,
    pub password: String,
    /// For playlist and stream URLs that carry no password.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub max_connections: i64,
}

/// The subscriber's login again.
#[utoipa::path(get, path = "/api/v1/subscribers/{username}/credentials", tag = "subscribers",
    params(("username" = String, Path)),
    responses((status = 200, body = Credentials), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn credentials(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Result<Json<Credentials>, ApiError> {
    Ok(Json(
        fetch_credentials(&state, &caller, &username(&name)?).await?,
    ))
}

async fn fetch_credentials(
    state: &AppState,
    caller: &ApiCaller,
    username: &Username,
) -> Result<Credentials, CoreError> {
    let c = state.core.credentials(&caller.actor(), username).await?;
    Ok(Credentials {
        username: c.username,
        password: c.password,
        token: c.token,
        expires_at: c.expires_at,
        max_connections: c.max_connections,
    })
}

/// The parts of a changing request every handler needs.
struct Change {
    caller: ApiCaller,
    op: OperationId,
}

/// What a changing request sent, which its `Idempotency-Key` is checked against. Takes the
/// body, so it comes last among a handler's extractors.
pub(crate) struct Sent {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for Sent {
    type Rejection = BytesRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let method = request.method().clone();
        let uri = request.uri().clone();
        let headers = request.headers().clone();
        let bytes = Bytes::from_request(request, state).await?;
        Ok(Sent {
            method,
            uri,
            headers,
            bytes,
        })
    }
}

/// Spends an action and derives the operation id of a changing request.
async fn change(state: &AppState, caller: ApiCaller, sent: &Sent) -> Result<Change, ApiError> {
    let op = idempotency::operation(
        state,
        &caller,
        &sent.headers,
        &sent.method,
        sent.uri.path(),
        &sent.bytes,
    )
    .await?;
    spend_action(state, &caller).await?;
    Ok(Change { caller, op })
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct NewSubscriber {
    pub username: String,
    /// 1 to 3650; costs that many credits.
    pub days: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct NewTrial {
    pub username: String,
    /// 1 to 72; the configured default (24) when absent.
    pub hours: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Created {
    pub username: String,
    pub expires_at: DateTime<Utc>,
    /// Credits this creation cost.
    pub charged: i64,
    /// The balance right after it.
    pub balance: Option<i64>,
    pub trial: bool,
    /// The new login; absent for resellers without `can_view_users`.
    pub credentials: Option<Credentials>,
}

async fn created(
    state: &AppState,
    caller: &ApiCaller,
    done: Done<reseller_core::ops::Created>,
) -> Result<Response, ApiError> {
    let c = done.value;
    let name = username(&c.username)?;
    let credentials = match fetch_credentials(state, caller, &name).await {
        Ok(c) => Some(c),
        Err(CoreError::Forbidden(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let value = Created {
        username: c.username,
        expires_at: c.expires_at,
        charged: c.charged,
        balance: c.balance,
        trial: c.trial,
        credentials,
    };
    Ok(answer(StatusCode::CREATED, value, done.replayed))
}

/// Creates a subscriber for `days`, charging `days` credits.
#[utoipa::path(post, path = "/api/v1/subscribers", tag = "subscribers", request_body = NewSubscriber,
    params(("Idempotency-Key" = Option<String>, Header, description = "A replay returns the first result")),
    responses((status = 201, body = Created), (status = 402, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    sent: Sent,
) -> Result<Response, ApiError> {
    let req: NewSubscriber = body(&sent.bytes)?;
    let name = username(&req.username)?;
    let days = Days::try_from(req.days).map_err(CoreError::from)?;
    let c = change(&state, caller, &sent).await?;
    let done = state
        .core
        .create_subscriber(&c.caller.actor(), &c.op, &name, days)
        .await?;
    created(&state, &c.caller, done).await
}

/// Creates a trial subscriber, within the reseller's trial quota.
#[utoipa::path(post, path = "/api/v1/trials", tag = "subscribers", request_body = NewTrial,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Created), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn trial(
    State(state): State<AppState>,
    Caller(caller): Caller,
    sent: Sent,
) -> Result<Response, ApiError> {
    let req: NewTrial = body(&sent.bytes)?;
    let name = username(&req.username)?;
    let c = change(&state, caller, &sent).await?;
    let done = state
        .core
        .create_trial(&c.caller.actor(), &c.op, &name, req.hours)
        .await?;
    created(&state, &c.caller, done).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct Extension {
    /// 1 to 3650; costs that many credits.
    pub days: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Extended {
    pub username: String,
    pub expires_at: DateTime<Utc>,
    pub charged: i64,
    pub balance: Option<i64>,
}

/// Adds days (from the current expiry, or from now once expired), charging that many credits.
#[utoipa::path(post, path = "/api/v1/subscribers/{username}/extend", tag = "subscribers",
    params(("username" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = Extension,
    responses((status = 200, body = Extended), (status = 402, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn extend(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    sent: Sent,
) -> Result<Response, ApiError> {
    let req: Extension = body(&sent.bytes)?;
    let name = username(&name)?;
    let days = Days::try_from(req.days).map_err(CoreError::from)?;
    let c = change(&state, caller, &sent).await?;
    let done = state
        .core
        .extend(&c.caller.actor(), &c.op, &name, days)
        .await?;
    let e = done.value;
    let value = Extended {
        username: e.username,
        expires_at: e.expires_at,
        charged: e.charged,
        balance: e.balance,
    };
    Ok(answer(StatusCode::OK, value, done.replayed))
}

/// Gives the subscriber a new password and token.
#[utoipa::path(post, path = "/api/v1/subscribers/{username}/reset", tag = "subscribers",
    params(("username" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = Credentials), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn reset(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    sent: Sent,
) -> Result<Response, ApiError> {
    let name = username(&name)?;
    let c = change(&state, caller, &sent).await?;
    let done = state.core.reset(&c.caller.actor(), &c.op, &name).await?;
    let credentials = fetch_credentials(&state, &c.caller, &name).await?;
    Ok(answer(StatusCode::OK, credentials, done.replayed))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Switched {
    pub username: String,
    pub enabled: bool,
    /// False when it already was.
    pub changed: bool,
}

/// Re-enables a disabled subscriber.
#[utoipa::path(post, path = "/api/v1/subscribers/{username}/enable", tag = "subscribers",
    params(("username" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = Switched), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn enable(
    state: State<AppState>,
    caller: Caller,
    name: Path<String>,
    sent: Sent,
) -> Result<Response, ApiError> {
    switch(state, caller, name, sent, true).await
}

/// Disables a subscriber; the expiry keeps running.
#[utoipa::path(post, path = "/api/v1/subscribers/{username}/disable", tag = "subscribers",
    params(("username" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = Switched), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn disable(
    state: State<AppState>,
    caller: Caller,
    name: Path<String>,
    sent: Sent,
) -> Result<Response, ApiError> {
    switch(state, caller, name, sent, false).await
}

async fn switch(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    sent: Sent,
    enabled: bool,
) -> Result<Response, ApiError> {
    let name = username(&name)?;
    let c = change(&state, caller, &sent).await?;
    let done = state
        .core
        .set_subscriber_active(&c.caller.actor(), &c.op, &name, enabled)
        .await?;
    let value = Switched {
        username: name.to_string(),
        enabled,
        changed: done.value,
    };
    Ok(answer(StatusCode::OK, value, done.replayed))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Deleted {
    pub username: String,
    /// Paid days that were left; they are not refunded.
    pub days_left: i64,
}

/// Deletes a subscriber for good.
#[utoipa::path(delete, path = "/api/v1/subscribers/{username}", tag = "subscribers",
    params(("username" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    sent: Sent,
) -> Result<Response, ApiError> {
    let name = username(&name)?;
    let c = change(&state, caller, &sent).await?;
    let done = state
        .core
        .delete_subscriber(&c.caller.actor(), &c.op, &name)
        .await?;
    let value = Deleted {
        username: done.value.username,
        days_left: done.value.days_left,
    };
    Ok(answer(StatusCode::OK, value, done.replayed))
}
