//! The HTTP side: health and readiness probes now; payment webhooks and the subscriber API
//! are added here as one module each, registered in [`router`].

pub mod providers;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use reseller_core::Core;
use serde_json::json;
use std::future::Future;
use tokio::net::TcpListener;

/// All HTTP routes, over the shared core.
pub fn router(core: Core) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(core)
}

/// Serves `router` on `listener` until `stop` completes, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    core: Core,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(core))
        .with_graceful_shutdown(stop)
        .await
}

/// The process is up and answering.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers too: safe to send traffic here.
async fn readyz(State(core): State<Core>) -> (StatusCode, Json<serde_json::Value>) {
    if core.db().ping().await {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "database unreachable" })),
        )
    }
}
