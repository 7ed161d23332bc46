//! The HTTP side: health and readiness probes, and the payment providers' webhooks, one module
//! per provider under [`providers`], each registered in [`router`].

pub mod checkout;
mod payments;
pub mod providers;

pub use payments::PaymentSecrets;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use reseller_core::Core;
use serde_json::json;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// What every handler can reach.
#[derive(Clone)]
pub(crate) struct AppState {
    pub core: Core,
    pub secrets: Arc<PaymentSecrets>,
}

/// All HTTP routes, over the shared core.
pub fn router(core: Core, secrets: PaymentSecrets) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/webhooks/stripe", post(providers::stripe::webhook))
        .route("/webhooks/btcpay", post(providers::btcpay::webhook))
        .route(
            "/webhooks/nowpayments",
            post(providers::nowpayments::webhook),
        )
        .route("/webhooks/cryptomus", post(providers::cryptomus::webhook))
        .with_state(AppState {
            core,
            secrets: Arc::new(secrets),
        })
}

/// Serves `router` on `listener` until `stop` completes, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    core: Core,
    secrets: PaymentSecrets,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(core, secrets))
        .with_graceful_shutdown(stop)
        .await
}

/// The process is up and answering.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers too: safe to send traffic here.
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    if state.core.db().ping().await {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "database unreachable" })),
        )
    }
}
