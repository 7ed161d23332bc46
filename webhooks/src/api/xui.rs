//! XUI.one's reseller API, for tools written against XUI: `GET|POST /api/xui/?api_key=KEY&
//! action=...`, parameters in the query or a form body, answers `{"status": "STATUS_SUCCESS",
//! "data": ...}` or `{"status": "STATUS_...", "error": "..."}` with XUI's field names (numbers
//! as strings, as XUI's rows come from MySQL). Shapes follow the XUI.ONE API documentation
//! (github.com/worldofiptvcom/xui-one-api-docs, docs/categories/03-line-api.md: `get_line`,
//! `create_line` answering `line_id`/`username`/`password`, `edit_line`, `enable_line`, ...)
//! and XUI's reseller API (ottpanel.tv/xm_reseller_api_doc.html: `user_info`, `packages`,
//! `create_line` with `package` and `trial`).
//!
//! Lines are subscribers, named by their id. Packages are durations, since resellerbot prices
//! a line at 1 credit a day: package 1 is 1 month (30 days, 30 credits), 2 is 3 months (90),
//! 3 is 6 months (180) and 4 is 12 months (365); `trial=1` makes a trial of the configured
//! length instead. `edit_line` with a `package` extends the line by it. The password a tool
//! sends is not used: resellerbot generates every password, and answers it as XUI does.
//! Same rules, ledger and action budget as every other path: this only translates.

use super::auth::{authenticate, spend_action};
use super::errors::ApiError;
use crate::AppState;
use crate::player_api::Params;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use reseller_core::api_keys::ApiCaller;
use reseller_core::domain::{Days, OperationId, Username};
use reseller_core::queries::subscribers::{Filter, Subscriber};
use reseller_core::{Actor, CoreError};
use serde_json::{Value, json};

/// XUI package id → (name, days).
const PACKAGES: [(i64, &str, i64); 4] = [
    (1, "1 Month", 30),
    (2, "3 Months", 90),
    (3, "6 Months", 180),
    (4, "12 Months", 365),
];

pub(crate) async fn handle(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    params: Params,
) -> Response {
    match act(&state, &method, &headers, &params).await {
        Ok(data) => Json(json!({ "status": "STATUS_SUCCESS", "data": data })).into_response(),
        Err(e) => {
            e.log();
            let status = match e.code().1 {
                s @ (StatusCode::UNAUTHORIZED
                | StatusCode::TOO_MANY_REQUESTS
                | StatusCode::INTERNAL_SERVER_ERROR) => s,
                // XUI answers refusals with 200 and the status string.
                _ => StatusCode::OK,
            };
            let body = json!({ "status": e.xui_status(), "error": e.message() });
            e.with_retry_after((status, Json(body)).into_response())
        }
    }
}

async fn act(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Value, ApiError> {
    let key = params.get("api_key");
    if key.is_empty() {
        return Err(ApiError::MissingKey);
    }
    let caller = authenticate(state, key).await?;
    let actor = caller.actor();
    let core = &state.core;
    match params.get("action") {
        "user_info" => {
            let r = core.me(caller.reseller).await?;
            Ok(json!({
                "id": r.id.0.to_string(),
                "username": r.username,
                "credits": r.balance.to_string(),
                "status": if r.active { "1" } else { "0" },
                "email": r.email.unwrap_or_default(),
                "notes": r.display_name,
            }))
        }
        "packages" => Ok(packages(state)),
        "get_lines" => {
            let mut lines = Vec::new();
            let mut page = 0;
            loop {
                let p = core.subscribers(&actor, Filter::All, None, page).await?;
                for s in p.items.iter() {
                    lines.push(line(state, &actor, s).await?);
                }
                if !p.has_next() {
                    return Ok(Value::Array(lines));
                }
                page += 1;
            }
        }
        "get_line" => {
            let name = line_name(state, &actor, params).await?;
            let s = core.subscriber(&actor, &name).await?;
            line(state, &actor, &s).await
        }
        "create_line" => {
            let name = Username::parse(params.get("username")).map_err(CoreError::from)?;
            let trial = params.get("trial") == "1" || params.get("is_trial") == "1";
            let days = if trial { None } else { Some(package(params)?) };
            let op = operation(state, &caller, method, headers, params).await?;
            let created = match days {
                Some(days) => core.create_subscriber(&actor, &op, &name, days).await?,
                None => core.create_trial(&actor, &op, &name, None).await?,
            };
            let s = core.subscriber(&actor, &name).await?;
            let password = core.credentials(&actor, &name).await?.password;
            Ok(json!({
                "line_id": s.id.0.to_string(),
                "username": created.value.username,
                "password": password,
                "exp_date": created.value.expires_at.timestamp().to_string(),
            }))
        }
        "edit_line" => {
            let name = line_name(state, &actor, params).await?;
            let days = package(params)?;
            let op = operation(state, &caller, method, headers, params).await?;
            let done = core.extend(&actor, &op, &name, days).await?;
            Ok(json!({
                "message": "Line updated successfully",
                "exp_date": done.value.expires_at.timestamp().to_string(),
            }))
        }
        "delete_line" => {
            let name = line_name(state, &actor, params).await?;
            let op = operation(state, &caller, method, headers, params).await?;
            core.delete_subscriber(&actor, &op, &name).await?;
            Ok(json!({ "message": "Line deleted successfully" }))
        }
        action @ ("enable_line" | "disable_line") => {
            let name = line_name(state, &actor, params).await?;
            let op = operation(state, &caller, method, headers, params).await?;
            let enable = action == "enable_line";
            core.set_subscriber_active(&actor, &op, &name, enable)
                .await?;
            Ok(json!({
                "message": if enable { "Line enabled successfully" } else { "Line disabled successfully" }
            }))
        }
        other => Err(ApiError::BadRequest(format!(
            "Unknown action “{}”. This API answers user_info, packages, get_lines, get_line, create_line, edit_line, delete_line, enable_line and disable_line.",
            reseller_core::domain::shorten(other)
        ))),
    }
}

fn packages(state: &AppState) -> Value {
    let trial_hours = state.core.policy().trial_default_hours.to_string();
    PACKAGES
        .iter()
        .map(|(id, name, days)| {
            json!({
                "id": id.to_string(),
                "package_name": name,
                "is_trial": "1",
                "is_official": "1",
                "trial_credits": "0",
                "official_credits": days.to_string(),
                "trial_duration": trial_hours,
                "trial_duration_in": "hours",
                "official_duration": days.to_string(),
                "official_duration_in": "days",
            })
        })
        .collect()
}

/// The days of the `package` parameter.
fn package(params: &Params) -> Result<Days, ApiError> {
    let asked = params.get("package");
    PACKAGES
        .iter()
        .find(|(id, _, _)| id.to_string() == asked.trim())
        .map(|(_, _, days)| Days::try_from(*days).map_err(|e| CoreError::from(e).into()))
        .unwrap_or_else(|| {
            Err(ApiError::BadRequest(format!(
                "“{}” is not a package: use 1 (1 month), 2 (3 months), 3 (6 months) or 4 (12 months).",
                reseller_core::domain::shorten(asked)
            )))
        })
}

/// The username of the line the `id` parameter names, if the caller owns it.
async fn line_name(state: &AppState, actor: &Actor, params: &Params) -> Result<Username, ApiError> {
    let id = params.id("id").ok_or_else(|| {
        ApiError::BadRequest(format!(
            "“{}” is not a line id: give the line's number as id.",
            reseller_core::domain::shorten(params.get("id"))
        ))
    })?;
    Ok(state.core.subscriber_username(actor, id).await?)
}

/// A line as XUI shows it.
async fn line(state: &AppState, actor: &Actor, s: &Subscriber) -> Result<Value, ApiError> {
    let name = Username::parse(&s.username).map_err(CoreError::from)?;
    let password = state.core.credentials(actor, &name).await?.password;
    let flag = |b: bool| if b { "1" } else { "0" };
    Ok(json!({
        "id": s.id.0.to_string(),
        "username": s.username,
        "password": password,
        "exp_date": s.expires_at.timestamp().to_string(),
        "max_connections": s.max_connections.to_string(),
        "is_trial": flag(s.is_trial),
        "enabled": flag(s.active),
        "admin_enabled": "1",
        "is_restreamer": "0",
        "reseller_notes": s.notes,
        "created_at": s.created_at.timestamp().to_string(),
    }))
}

/// Spends an action and gives the change its operation id: from an `Idempotency-Key` header
/// when the tool sends one (over the action's parameters, the key left out), else fresh.
async fn operation(
    state: &AppState,
    caller: &ApiCaller,
    method: &Method,
    headers: &HeaderMap,
    params: &Params,
) -> Result<OperationId, ApiError> {
    let described = params.described_without("api_key");
    let op = super::idempotency::operation(
        state,
        caller,
        headers,
        method,
        "/api/xui/",
        described.as_bytes(),
    )
    .await?;
    spend_action(state, caller).await?;
    Ok(op)
}
