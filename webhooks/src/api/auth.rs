//! Who is calling: the key from `Authorization: Bearer` (or XUI's `api_key` parameter),
//! verified by core, then this key's request rate.

use super::errors::ApiError;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use reseller_core::api_keys::ApiCaller;

/// The verified caller of a `/api/v1` request.
pub(crate) struct Caller(pub ApiCaller);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(ApiError::MissingKey)?;
        authenticate(state, key).await.map(Caller)
    }
}

/// Verifies `key` and spends one of its requests.
pub(crate) async fn authenticate(state: &AppState, key: &str) -> Result<ApiCaller, ApiError> {
    if key.is_empty() {
        return Err(ApiError::MissingKey);
    }
    let caller = state.core.authenticate_api_key(key).await?;
    if let Err(not_until) = state.api.limiter.check_key(&caller.key_id) {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        return Err(ApiError::RateLimited {
            wait_secs: wait.as_secs() + 1,
        });
    }
    Ok(caller)
}

/// Spends one of the reseller's changing actions (core's budget, shared by every instance and
/// by the bot).
pub(crate) async fn spend_action(state: &AppState, caller: &ApiCaller) -> Result<(), ApiError> {
    Ok(state
        .core
        .spend_action(caller.reseller, state.api.actions)
        .await?)
}
