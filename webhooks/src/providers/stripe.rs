//! Stripe: `Stripe-Signature: t=..., v1=..., v1=...`, HMAC-SHA256 over `"{t}.{raw body}"` keyed
//! with the whole `whsec_...` secret. Any matching `v1` passes (several during a secret
//! rotation); `v0` is ignored; the timestamp must be within the tolerance of now.

use super::{SignatureError, hmac_sha256_matches};
use crate::AppState;
use crate::payments::{Provider, not_enabled, receive, text};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use reseller_core::payments::{
    CheckoutError, CheckoutFuture, CheckoutProvider, Order, Part, PaymentEvent, exponent,
    format_money,
};

/// Checks `header` against `body` with any of `secrets`, at time `now` (Unix seconds).
pub fn verify(
    header: &str,
    body: &[u8],
    secrets: &[String],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", sig)) => {
                signatures.push(hex::decode(sig).map_err(|_| SignatureError::Malformed)?)
            }
            _ => {}
        }
    }
    let t = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    let matches = secrets.iter().any(|secret| {
        signatures
            .iter()
            .any(|sig| hmac_sha256_matches(secret.as_bytes(), &signed, sig))
    });
    if !matches {
        return Err(SignatureError::Mismatch);
    }
    if (now - t).abs() > tolerance_secs {
        return Err(SignatureError::Stale { age_secs: now - t });
    }
    Ok(())
}

/// Decimals in Stripe's amounts: ISO 4217's, except ISK (sent with two zero decimals, for
/// compatibility) and MGA (sent whole).
fn stripe_exponent(currency: &str) -> u32 {
    match currency.to_ascii_uppercase().as_str() {
        "ISK" => 2,
        "MGA" => 0,
        other => exponent(other),
    }
}

/// Our minor units as Stripe's amount (`unit_amount`): 18000 USD → 18000, 1000 JPY → 1000.
/// `None` if the amount cannot be expressed exactly.
pub fn to_stripe_amount(amount_minor: i64, currency: &str) -> Option<i64> {
    rescale(amount_minor, exponent(currency), stripe_exponent(currency))
}

/// A Stripe amount (`amount_total`) in our minor units.
pub fn from_stripe_amount(amount: i64, currency: &str) -> Option<i64> {
    rescale(amount, stripe_exponent(currency), exponent(currency))
}

fn rescale(amount: i64, from: u32, to: u32) -> Option<i64> {
    if to >= from {
        amount.checked_mul(10i64.pow(to - from))
    } else {
        let unit = 10i64.pow(from - to);
        (amount % unit == 0).then_some(amount / unit)
    }
}

/// What a verified Stripe event means: (event identity, event).
pub(crate) fn parse(body: &serde_json::Value) -> Option<(String, PaymentEvent)> {
    let id = text(body, "/id")?;
    let object = body.pointer("/data/object")?;
    let order = text(object, "/metadata/order_id").or_else(|| text(object, "/client_reference_id"));
    let event = match text(body, "/type")?.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded"
            if text(object, "/payment_status").as_deref() == Some("paid") =>
        {
            let currency = text(object, "/currency")?;
            PaymentEvent::Paid {
                order: order?,
                amount_minor: from_stripe_amount(
                    object.pointer("/amount_total")?.as_i64()?,
                    &currency,
                )?,
                currency,
                reference: text(object, "/payment_intent"),
            }
        }
        // The charge: `amount_refunded` is the running total of its refunds.
        "charge.refunded" => PaymentEvent::Reversed {
            order,
            reference: text(object, "/payment_intent"),
            reason: "refunded".into(),
            part: match (
                object.pointer("/amount_refunded").and_then(|v| v.as_i64()),
                object.pointer("/amount").and_then(|v| v.as_i64()),
            ) {
                (Some(refunded), Some(of)) => Part::Refunded { refunded, of },
                _ => Part::Whole,
            },
        },
        "charge.dispute.created" => PaymentEvent::Reversed {
            order: None,
            reference: text(object, "/payment_intent"),
            reason: "charged back".into(),
            part: Part::Disputed,
        },
        "charge.dispute.closed" if text(object, "/status").as_deref() == Some("won") => {
            PaymentEvent::DisputeWon {
                order: None,
                reference: text(object, "/payment_intent"),
            }
        }
        _ => PaymentEvent::Ignored,
    };
    Some((id, event))
}

pub(crate) async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if state.secrets.stripe.is_empty() {
        return not_enabled();
    }
    let now = chrono::Utc::now().timestamp();
    let provider = Provider {
        name: "stripe",
        signature_header: Some("stripe-signature"),
        parse,
    };
    let (secrets, tolerance) = (&state.secrets.stripe, state.secrets.stripe_tolerance_secs);
    receive(&state, provider, &headers, &body, |sig, body| {
        verify(sig, body, secrets, now, tolerance)
    })
    .await
}

/// Creates Stripe Checkout sessions.
pub struct Checkout {
    client: reqwest::Client,
    api: super::checkout::Api,
}

impl Checkout {
    pub fn new(client: reqwest::Client, api: super::checkout::Api) -> Checkout {
        Checkout { client, api }
    }
}

impl CheckoutProvider for Checkout {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn create<'a>(&'a self, order: &'a Order, return_url: &'a str) -> CheckoutFuture<'a> {
        Box::pin(async move {
            let unit_amount =
                to_stripe_amount(order.amount_minor, &order.currency).ok_or_else(|| {
                    CheckoutError::Amount {
                        provider: "stripe",
                        amount: format_money(order.amount_minor, &order.currency),
                    }
                })?;
            let form = [
                ("mode", "payment".to_string()),
                ("success_url", return_url.to_string()),
                ("cancel_url", return_url.to_string()),
                ("client_reference_id", order.public_id.clone()),
                ("metadata[order_id]", order.public_id.clone()),
                (
                    "payment_intent_data[metadata][order_id]",
                    order.public_id.clone(),
                ),
                ("line_items[0][quantity]", "1".to_string()),
                (
                    "line_items[0][price_data][currency]",
                    order.currency.to_ascii_lowercase(),
                ),
                (
                    "line_items[0][price_data][unit_amount]",
                    unit_amount.to_string(),
                ),
                (
                    "line_items[0][price_data][product_data][name]",
                    format!("{} credits", order.credits),
                ),
            ];
            let req = self
                .client
                .post(format!("{}/v1/checkout/sessions", self.api.base_url))
                .bearer_auth(&self.api.key)
                .form(&form);
            let body = super::checkout::send("stripe", req).await?;
            super::checkout::page("stripe", &body, "/url", "/id")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known-answer vector from ../shared/webhook-vectors.md.
    const BODY: &str = r#"{"id":"evt_test_0001","object":"event","api_version":"2024-06-20","created":1700000000,"type":"checkout.session.completed","livemode":false,"pending_webhooks":1,"request":{"id":null,"idempotency_key":null},"data":{"object":{"id":"cs_test_a1","object":"checkout.session","mode":"payment","status":"complete","payment_status":"paid","amount_total":1999,"currency":"usd","client_reference_id":"user_42","payment_intent":"pi_test_1","metadata":{"order_id":"ord_123","user_id":"42"}}}}"#;
    const HEADER: &str = "t=1700000000,v1=71777bafe7e0bbae7a0b63b1fc23ce03e86571930ec5b79ac38cae630871d155,v1=f68f0a5a19549b399d0c15c48f02f7057495a404d77dc3f5e3c2eae7b41a3bf7";

    #[test]
    fn amounts_follow_stripe_s_smallest_units() {
        assert_eq!(to_stripe_amount(18000, "usd"), Some(18000));
        assert_eq!(to_stripe_amount(1000, "JPY"), Some(1000));
        assert_eq!(to_stripe_amount(1505, "KWD"), Some(1505));
        assert_eq!(to_stripe_amount(500, "ISK"), Some(50000));
        assert_eq!(from_stripe_amount(50000, "isk"), Some(500));
        assert_eq!(from_stripe_amount(50001, "ISK"), None);
        assert_eq!(to_stripe_amount(150, "MGA"), None);
        assert_eq!(from_stripe_amount(1000, "jpy"), Some(1000));
    }

    fn secrets(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_vector_verifies_with_either_secret() {
        assert_eq!(BODY.len(), 480);
        assert_eq!(
            verify(
                HEADER,
                BODY.as_bytes(),
                &secrets(&["whsec_test_secret"]),
                1_700_000_000,
                300
            ),
            Ok(())
        );
        assert_eq!(
            verify(
                HEADER,
                BODY.as_bytes(),
                &secrets(&["whsec_old_secret"]),
                1_700_000_000,
                300
            ),
            Ok(())
        );
    }

    #[test]
    fn tampering_wrong_secrets_and_stale_timestamps_are_refused() {
        let tampered = BODY.replace("1999", "9999");
        assert_eq!(
            verify(
                HEADER,
                tampered.as_bytes(),
                &secrets(&["whsec_test_secret"]),
                1_700_000_000,
                300
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                HEADER,
                BODY.as_bytes(),
                &secrets(&["whsec_wrong"]),
                1_700_000_000,
                300
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                HEADER,
                BODY.as_bytes(),
                &secrets(&["whsec_test_secret"]),
                1_700_000_301,
                300
            ),
            Err(SignatureError::Stale { age_secs: 301 })
        );
        assert_eq!(
            verify(
                HEADER,
                BODY.as_bytes(),
                &secrets(&["whsec_test_secret"]),
                1_700_000_300,
                300
            ),
            Ok(())
        );
        assert_eq!(
            verify(
                "v1=abcd",
                BODY.as_bytes(),
                &secrets(&["whsec_test_secret"]),
                0,
                300
            ),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(
                "t=1700000000,v1=zz",
                BODY.as_bytes(),
                &secrets(&["whsec_test_secret"]),
                0,
                300
            ),
            Err(SignatureError::Malformed)
        );
        let only_v0 =
            "t=1700000000,v0=71777bafe7e0bbae7a0b63b1fc23ce03e86571930ec5b79ac38cae630871d155";
        assert_eq!(
            verify(
                only_v0,
                BODY.as_bytes(),
                &secrets(&["whsec_test_secret"]),
                1_700_000_000,
                300
            ),
            Err(SignatureError::Malformed)
        );
    }
}
