//! Webhook mode: Telegram POSTs each update to `/telegram/<path>` on the HTTP server, with the
//! secret token in `X-Telegram-Bot-Api-Secret-Token`. The path is derived from the secret so
//! that a scan of the server finds nothing; the token is what proves the sender, checked in
//! constant time. An update is answered 200 once it is recorded and queued; handling is
//! asynchronous, so Telegram never waits on a handler.

use crate::reply::retrying;
use crate::updates::{ALLOWED_UPDATES, Feed, Intake, Refused};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use sha2::{Digest as _, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq as _;
use teloxide::prelude::*;
use teloxide::types::Update;

/// The header Telegram puts the secret token in.
const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// Where Telegram delivers updates, and how it proves it is Telegram.
#[derive(Clone)]
pub struct WebhookSettings {
    /// The public base URL of the HTTP server, e.g. `https://bot.example.com`.
    pub base_url: url::Url,
    /// The secret token Telegram sends with every update (1-256 of `A-Z a-z 0-9 _ -`).
    pub secret: String,
    /// How many connections Telegram may open to deliver updates at once (1-100).
    pub max_connections: u8,
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("base_url", &self.base_url.as_str())
            .field("secret", &"<redacted>")
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl WebhookSettings {
    /// The last path segment: a hash of the secret, so it reveals nothing of it.
    fn path(&self) -> String {
        let digest = Sha256::digest(format!("resellerbot telegram webhook:{}", self.secret));
        hex::encode(&digest[..16])
    }

    /// The URL given to Telegram.
    fn url(&self) -> Result<url::Url, String> {
        let base = self.base_url.as_str().trim_end_matches('/');
        format!("{base}/telegram/{}", self.path())
            .parse()
            .map_err(|e| format!("TELEGRAM_WEBHOOK_URL does not make a webhook URL: {e}"))
    }
}

/// Asks Telegram to deliver updates to this server's webhook route.
pub(crate) async fn register(bot: &Bot, webhook: &WebhookSettings) -> Result<(), String> {
    let url = webhook.url()?;
    retrying(|| {
        bot.set_webhook(url.clone())
            .secret_token(webhook.secret.clone())
            .allowed_updates(ALLOWED_UPDATES)
            .max_connections(webhook.max_connections)
            .into_future()
    })
    .await
    .map_err(|e| format!("Telegram refused the webhook at TELEGRAM_WEBHOOK_URL: {e}"))?;
    tracing::info!(base_url = %webhook.base_url, "Telegram delivers updates to the webhook");
    Ok(())
}

struct Route {
    feed: Feed,
    path: String,
    secret: String,
}

/// The route Telegram delivers updates to, for the binary to serve next to the others.
pub fn routes(webhook: &WebhookSettings, intake: &Intake) -> Router {
    let route = Arc::new(Route {
        feed: intake.feed.clone(),
        path: webhook.path(),
        secret: webhook.secret.clone(),
    });
    Router::new()
        .route("/telegram/{path}", post(receive))
        .with_state(route)
}

async fn receive(
    State(route): State<Arc<Route>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    if !bool::from(path.as_bytes().ct_eq(route.path.as_bytes())) {
        return (StatusCode::NOT_FOUND, "Not found.");
    }
    let token = headers
        .get(SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !bool::from(token.ct_eq(route.secret.as_bytes())) {
        tracing::warn!("refused a webhook update without the right secret token");
        return (
            StatusCode::UNAUTHORIZED,
            "The X-Telegram-Bot-Api-Secret-Token header is missing or wrong.",
        );
    }
    let Ok(update) = serde_json::from_slice::<Update>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            "The body is not a Telegram update.",
        );
    };
    match route.feed.accept(update).await {
        Ok(_) => (StatusCode::OK, "OK"),
        Err(Refused::Stopping) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "The bot is stopping; deliver the update again.",
        ),
        Err(e) => {
            tracing::error!(error = %e, "could not take a webhook update in");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The update could not be recorded; deliver it again.",
            )
        }
    }
}
