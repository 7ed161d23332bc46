//! The HTTP side: health and readiness probes, the payment providers' webhooks (one module per
//! provider under [`providers`]), the subscriber API players log in with and the reseller API
//! (`api`), each registered in [`router`].

mod api;
mod client_addr;
mod epg;
mod failed_logins;
mod metrics;
mod payments;
mod player_api;
pub mod providers;
pub mod sync;

pub use api::ApiLimits;
pub use client_addr::TrustedProxies;
pub use metrics::MetricsEndpoint;
pub use payments::{PaymentSecrets, replay as replay_payments};
pub use player_api::ServerInfo;

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
    pub server: Arc<ServerInfo>,
    /// Failed player logins per client address.
    pub guesses: Arc<failed_logins::FailedLogins>,
    /// The reseller API's per-key limiter and action budget.
    pub api: Arc<api::Api>,
}

/// All HTTP routes, over the shared core; `/metrics` only with an endpoint.
pub fn router(
    core: Core,
    secrets: PaymentSecrets,
    server: ServerInfo,
    metrics: Option<MetricsEndpoint>,
) -> Router {
    let guesses = failed_logins_for(&core);
    routes(core, secrets, server, metrics, guesses)
}

fn failed_logins_for(core: &Core) -> Arc<failed_logins::FailedLogins> {
    Arc::new(failed_logins::FailedLogins::new(
        core.policy().failed_login_burst,
        core.policy().failed_login_interval,
    ))
}

fn routes(
    core: Core,
    secrets: PaymentSecrets,
    server: ServerInfo,
    metrics: Option<MetricsEndpoint>,
    guesses: Arc<failed_logins::FailedLogins>,
) -> Router {
    // Measured by one layer, so the player API's handlers stay as they are.
    let player = Router::new()
        // `get` answers HEAD too; several Android players log in by POST with a form body.
        .route(
            "/player_api.php",
            get(player_api::player_api).post(player_api::player_api),
        )
        .route(
            "/get.php",
            get(player_api::playlist).post(player_api::playlist),
        )
        .route("/xmltv.php", get(epg::xmltv).post(epg::xmltv))
        .route("/auth/stream", get(player_api::authorize_stream))
        .route(
            "/auth/stream/end",
            get(player_api::end_stream).post(player_api::end_stream),
        )
        .route_layer(axum::middleware::from_fn(metrics::player));
    let scrape = metrics
        .map(|m| metrics::routes(core.clone(), m))
        .unwrap_or_default();
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
        .merge(player)
        .merge(api::routes())
        .with_state(AppState {
            api: Arc::new(api::Api::new(server.api)),
            core,
            secrets: Arc::new(secrets),
            server: Arc::new(server),
            guesses,
        })
        .merge(scrape)
}

/// Serves `router` and `extra` (routes of other front ends, e.g. the bot's Telegram webhook) on
/// `listener` until `stop` completes, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    core: Core,
    secrets: PaymentSecrets,
    server: ServerInfo,
    metrics: Option<MetricsEndpoint>,
    extra: Router,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let guesses = failed_logins_for(&core);
    let tidy = tokio::spawn(drop_expired(core.clone()));
    let news = tokio::spawn(hear_exhausted(core.events(), guesses.clone()));
    let app = routes(core, secrets, server, metrics, guesses)
        .merge(extra)
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await;
    tidy.abort();
    news.abort();
    served
}

/// Refuses from memory the addresses other instances report out of failed logins.
async fn hear_exhausted(
    mut events: tokio::sync::broadcast::Receiver<reseller_core::bus::Event>,
    guesses: Arc<failed_logins::FailedLogins>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match events.recv().await {
            Ok(event) => guesses.heard(&event),
            // Missed news only lets a few more tries through, each counted when it fails.
            Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
    }
}

/// Frees core's expired login-cache entries and sessions while the server runs, so that memory
/// shrinks after a burst of players even if no request comes to trigger it, and deletes the
/// shared rows that expired (idle sessions, old kicks, full failed-login allowances).
async fn drop_expired(core: Core) {
    let mut every = tokio::time::interval(reseller_core::access::MAX_AGE);
    loop {
        every.tick().await;
        core.drop_expired();
        if let Err(e) = core.clean_up_shared().await {
            tracing::warn!(error = %e, "could not clean up expired sessions and failed logins");
        }
    }
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
