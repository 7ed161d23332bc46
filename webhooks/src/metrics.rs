//! `GET /metrics` in the Prometheus text format, behind an optional bearer token, and the
//! layer that measures the player API. What is measured is listed in `reseller_core::metrics`.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use reseller_core::Core;
use reseller_core::metrics::Gauges;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use tokio::sync::Mutex;

/// The gauges are read from the database at most this often.
const GAUGES_MAX_AGE: Duration = Duration::from_secs(60);

/// What `/metrics` serves: the process's recorder, rendered by the binary (which installs it),
/// and the token scrapers must send, if any.
#[derive(Clone)]
pub struct MetricsEndpoint {
    pub render: Arc<dyn Fn() -> String + Send + Sync>,
    /// `Authorization: Bearer <token>` is required when set.
    pub token: Option<String>,
}

impl std::fmt::Debug for MetricsEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsEndpoint")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(Clone)]
struct Scrape {
    core: Core,
    endpoint: MetricsEndpoint,
    /// The last gauges read and when; concurrent scrapes wait for one refresh.
    gauges: Arc<Mutex<Option<(Instant, Gauges)>>>,
}

/// The `/metrics` route, with its own state.
pub(crate) fn routes(core: Core, endpoint: MetricsEndpoint) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(Scrape {
            core,
            endpoint,
            gauges: Arc::new(Mutex::new(None)),
        })
}

async fn scrape(State(s): State<Scrape>, headers: HeaderMap) -> Response {
    if let Some(token) = &s.endpoint.token
        && !authorized(&headers, token)
    {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a valid metrics token is required\n",
        )
            .into_response();
    }
    refresh_gauges(&s).await;
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        (s.endpoint.render)(),
    )
        .into_response()
}

/// Compares SHA-256 digests in constant time, so neither the token's bytes nor its length
/// leak through timing.
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let digest = |t: &str| Sha256::digest(t.trim().as_bytes());
    bool::from(digest(given).ct_eq(&digest(token)))
}

/// Re-reads the gauges when the last reading is older than a minute; a failed reading keeps
/// the previous figures and counts as an error.
async fn refresh_gauges(s: &Scrape) {
    let mut cached = s.gauges.lock().await;
    if cached
        .as_ref()
        .is_some_and(|(at, _)| at.elapsed() < GAUGES_MAX_AGE)
    {
        return;
    }
    match s.core.gauges().await {
        Ok(gauges) => {
            gauges.publish();
            *cached = Some((Instant::now(), gauges));
        }
        Err(e) => {
            tracing::error!(error = ?e, "could not read the metrics gauges");
            reseller_core::metrics::error("metrics_gauges");
        }
    }
}

/// Counts and times each player API request by endpoint; answers of 500 and above count as
/// errors of the player API too.
pub(crate) async fn player(req: Request, next: Next) -> Response {
    let endpoint = match req.uri().path() {
        "/player_api.php" => "player_api",
        "/get.php" => "playlist",
        "/auth/stream" => "auth_stream",
        "/auth/stream/end" => "auth_stream_end",
        _ => "other",
    };
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status();
    if status.is_server_error() {
        reseller_core::metrics::error("player_api");
    }
    reseller_core::metrics::player_request(endpoint, status.as_u16(), started.elapsed());
    response
}
