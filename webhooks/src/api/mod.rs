//! The reseller API: a REST API at `/api/v1` for resellers' own tools ([`v1`]), its OpenAPI
//! document ([`openapi`]), and an XUI.one-compatible reseller API at `/api/xui/` ([`xui`]), so
//! tooling written for XUI works unchanged. Both are thin: every rule and every credit movement
//! is core's, through the same operations the bot calls.
//!
//! Each request's key is verified by core ([`auth`]); its rate is limited per key by a
//! governor keyed limiter in this instance (N instances allow N× that rate: the limiter only
//! shields this process from one runaway tool, while the rule that matters for the ledger, the
//! per-reseller budget of changing actions, is core's shared one and applies to every change
//! made through the API as through the bot).

mod auth;
mod errors;
mod idempotency;
mod openapi;
mod v1;
mod xui;

use crate::AppState;
use axum::Router;
use axum::routing::get;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use reseller_core::ratelimit::ActionBudget;
use std::num::NonZeroU32;

/// How fast one API key may call, and the shared budget of changing actions.
#[derive(Clone, Copy, Debug)]
pub struct ApiLimits {
    pub requests_per_minute: NonZeroU32,
    pub burst: NonZeroU32,
    pub actions: ActionBudget,
}

impl Default for ApiLimits {
    fn default() -> Self {
        let n = |v: u32| NonZeroU32::new(v).expect("non-zero");
        ApiLimits {
            requests_per_minute: n(600),
            burst: n(60),
            actions: ActionBudget {
                per_minute: n(30),
                burst: n(10),
            },
        }
    }
}

/// The API's own state: the per-key limiter (one cell per key id: bounded by the keys that
/// exist, so it needs no pruning) and the action budget.
pub(crate) struct Api {
    limiter: DefaultKeyedRateLimiter<i64>,
    actions: ActionBudget,
}

impl Api {
    pub(crate) fn new(limits: ApiLimits) -> Api {
        let quota = Quota::per_minute(limits.requests_per_minute).allow_burst(limits.burst);
        Api {
            limiter: RateLimiter::keyed(quota),
            actions: limits.actions,
        }
    }
}

/// The API's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(v1::routes())
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/xui", get(xui::handle).post(xui::handle))
        .route("/api/xui/", get(xui::handle).post(xui::handle))
}
