//! `/api/v1`: JSON over HTTP for resellers' own tools. Reads answer from core's queries;
//! changes go through core's operations with an operation id from [`super::idempotency`].

pub(crate) mod account;
pub(crate) mod subscribers;

use super::errors::ApiError;
use crate::AppState;
use axum::Router;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;

pub(crate) fn routes() -> Router<AppState> {
    use subscribers as s;
    Router::new()
        .route("/api/v1/account", get(account::account))
        .route("/api/v1/packages", get(account::packages))
        .route("/api/v1/history", get(account::history))
        .route("/api/v1/subscribers", get(s::list).post(s::create))
        .route("/api/v1/trials", post(s::trial))
        .route(
            "/api/v1/subscribers/{username}",
            get(s::get).delete(s::delete),
        )
        .route("/api/v1/subscribers/{username}/extend", post(s::extend))
        .route("/api/v1/subscribers/{username}/reset", post(s::reset))
        .route("/api/v1/subscribers/{username}/enable", post(s::enable))
        .route("/api/v1/subscribers/{username}/disable", post(s::disable))
        .route(
            "/api/v1/subscribers/{username}/credentials",
            get(s::credentials),
        )
}

/// A JSON body, or a refusal that says what is wrong with it.
pub(crate) fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::BadRequest(format!(
            "The request body is not what this endpoint takes: {e}."
        ))
    })
}

/// `value` with `status`, marked `Idempotent-Replayed: true` when it is the stored outcome of
/// an earlier request with the same Idempotency-Key.
pub(crate) fn answer(status: StatusCode, value: impl serde::Serialize, replayed: bool) -> Response {
    let mut response = (status, axum::Json(value)).into_response();
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// Page numbers in the API start at 1; core's at 0.
pub(crate) fn page_index(page: Option<i64>) -> i64 {
    page.unwrap_or(1).saturating_sub(1)
}
