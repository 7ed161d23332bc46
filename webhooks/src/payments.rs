//! The path every payment webhook takes: signature on the raw bytes, then the provider's
//! meaning of the event, then core, which stores it raw and applies it once.

use crate::providers::SignatureError;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use reseller_core::Core;
use reseller_core::payments::{PaymentEvent, Received};
use serde_json::json;

/// Webhook secrets; a provider without one is switched off (its endpoint answers 404).
#[derive(Clone, Default)]
pub struct PaymentSecrets {
    /// The current Stripe endpoint secret, then any still valid during a rotation.
    pub stripe: Vec<String>,
    pub stripe_tolerance_secs: i64,
    pub btcpay: Option<String>,
    pub nowpayments: Option<String>,
    pub cryptomus: Option<String>,
}

impl std::fmt::Debug for PaymentSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentSecrets")
            .field("stripe", &!self.stripe.is_empty())
            .field("btcpay", &self.btcpay.is_some())
            .field("nowpayments", &self.nowpayments.is_some())
            .field("cryptomus", &self.cryptomus.is_some())
            .finish()
    }
}

/// A refusal, with the status providers expect.
pub(crate) fn refuse(e: SignatureError) -> Response {
    let (status, why) = match e {
        SignatureError::Malformed => (
            StatusCode::BAD_REQUEST,
            "missing or malformed signature".to_string(),
        ),
        SignatureError::Mismatch => (
            StatusCode::UNAUTHORIZED,
            "signature does not match".to_string(),
        ),
        SignatureError::Stale { age_secs } => (
            StatusCode::UNAUTHORIZED,
            format!("signature timestamp is {age_secs} s old"),
        ),
    };
    (status, axum::Json(json!({ "error": why }))).into_response()
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str, SignatureError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or(SignatureError::Malformed)
}

pub(crate) fn not_enabled() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({ "error": "this payment provider is not configured" })),
    )
        .into_response()
}

fn bad_body(why: &str) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": why }))).into_response()
}

/// How one provider's webhooks are read.
pub(crate) struct Provider {
    pub name: &'static str,
    /// The header that carries the signature; `None` when it is inside the body.
    pub signature_header: Option<&'static str>,
    /// The provider's meaning of a verified event: (event identity, event).
    pub parse: fn(&serde_json::Value) -> Option<(String, PaymentEvent)>,
}

/// The path every webhook takes: signature on the raw bytes (`verify` gets the signature
/// header's value and the body), then parsing, then core.
pub(crate) async fn receive(
    state: &crate::AppState,
    provider: Provider,
    headers: &HeaderMap,
    body: &[u8],
    verify: impl FnOnce(&str, &[u8]) -> Result<(), SignatureError>,
) -> Response {
    let counted = |outcome| reseller_core::metrics::webhook(provider.name, outcome);
    let signature = match provider.signature_header {
        Some(name) => match header(headers, name) {
            Ok(s) => s,
            Err(e) => {
                counted("refused");
                return refuse(e);
            }
        },
        None => "",
    };
    if let Err(e) = verify(signature, body) {
        counted("refused");
        return refuse(e);
    }
    let Ok(text) = std::str::from_utf8(body) else {
        counted("invalid");
        return bad_body("body is not UTF-8");
    };
    let Some((key, event)) = serde_json::from_str(text)
        .ok()
        .as_ref()
        .and_then(provider.parse)
    else {
        counted("invalid");
        return bad_body(&format!("not a {} event", provider.name));
    };
    deliver(
        &state.core,
        provider.name,
        &key,
        headers,
        provider.signature_header,
        text,
        event,
    )
    .await
}

/// Hands a verified event to core and answers the provider: 200 once stored and applied (or
/// ignored), 500 if our side failed, so the provider delivers it again.
async fn deliver(
    core: &Core,
    provider: &'static str,
    event_key: &str,
    headers: &HeaderMap,
    signature_header: Option<&str>,
    body: &str,
    event: PaymentEvent,
) -> Response {
    let kept: serde_json::Map<String, serde_json::Value> = ["content-type", "user-agent"]
        .into_iter()
        .chain(signature_header)
        .filter_map(|name| Some((name.to_string(), json!(headers.get(name)?.to_str().ok()?))))
        .collect();
    match core
        .receive_payment(
            provider,
            event_key,
            &serde_json::Value::Object(kept).to_string(),
            body,
            event,
        )
        .await
    {
        Ok(received) => {
            tracing::info!(provider, event_key, outcome = ?received, "payment event");
            let outcome = match received {
                Received::Duplicate => "duplicate",
                _ => "applied",
            };
            reseller_core::metrics::webhook(provider, outcome);
            (
                StatusCode::OK,
                axum::Json(json!({ "received": format!("{received:?}") })),
            )
                .into_response()
        }
        Err(e) => {
            tracing::error!(provider, event_key, error = ?e, "payment event failed");
            reseller_core::metrics::webhook(provider, "error");
            reseller_core::metrics::error("payment_webhook");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({ "error": "temporary failure, retry" })),
            )
                .into_response()
        }
    }
}

/// A JSON string field, if present.
pub(crate) fn text(v: &serde_json::Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(|x| x.as_str())
        .map(str::to_string)
}

/// The worker that applies payment events stored but left unapplied (the process died between
/// storing and crediting, or the crediting transaction failed): every quarter of `after`, at
/// most every 15 s, it applies those older than `after`. Events apply once, so racing a live
/// delivery is harmless. `after` must outlast a Telegram call: a Stars refund's intent is
/// stored before Telegram is asked and withdrawn if it refuses.
pub async fn replay(core: Core, after: std::time::Duration, stop: impl Future<Output = ()> + Send) {
    let every = (after / 4).clamp(
        std::time::Duration::from_millis(50),
        std::time::Duration::from_secs(15),
    );
    tokio::pin!(stop);
    loop {
        if let Err(e) = core.replay_payments(after.as_secs() as i64).await {
            tracing::error!(error = ?e, "could not replay stored payment events");
            reseller_core::metrics::error("payment_replay");
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
