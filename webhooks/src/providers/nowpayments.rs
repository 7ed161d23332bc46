//! NOWPayments IPN: `x-nowpayments-sig` = hex HMAC-SHA512 of the body re-serialised compactly
//! with object keys sorted recursively.

use super::SignatureError;
use crate::AppState;
use crate::payments::{Provider, not_enabled, receive, text};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use hmac::{Hmac, Mac};
use reseller_core::payments::{
    CheckoutFuture, CheckoutProvider, Order, Part, PaymentEvent, exponent, parse_minor,
};
use serde_json::Value;
use sha2::Sha512;

pub fn verify(header: &str, body: &[u8], secret: &str) -> Result<(), SignatureError> {
    let sig = hex::decode(header.trim()).map_err(|_| SignatureError::Malformed)?;
    let value: Value = serde_json::from_slice(body).map_err(|_| SignatureError::Malformed)?;
    let canonical = serde_json::to_string(&sorted(value)).map_err(|_| SignatureError::Malformed)?;
    let mut mac =
        Hmac::<Sha512>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(canonical.as_bytes());
    mac.verify_slice(&sig).map_err(|_| SignatureError::Mismatch)
}

/// The same value with every object's keys in sorted order.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// What a verified NOWPayments IPN means. Each status of a payment is its own event; only
/// `finished` credits, so a late `confirming` after `finished` changes nothing.
pub(crate) fn parse(body: &serde_json::Value) -> Option<(String, PaymentEvent)> {
    let payment = body
        .pointer("/payment_id")
        .map(|v| v.to_string().trim_matches('"').to_string())?;
    let status = text(body, "/payment_status")?;
    let order = text(body, "/order_id");
    let event = match status.as_str() {
        "finished" => {
            let currency = text(body, "/price_currency")?;
            PaymentEvent::Paid {
                order: order?,
                amount_minor: parse_minor(
                    &body.pointer("/price_amount")?.to_string().replace('"', ""),
                    &currency,
                )?,
                currency,
                reference: Some(payment.clone()),
            }
        }
        "partially_paid" => PaymentEvent::PartiallyPaid {
            order: order?,
            detail: format!(
                "{} of {} {}",
                body.pointer("/actually_paid")
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
                body.pointer("/pay_amount")
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
                text(body, "/pay_currency").unwrap_or_default()
            ),
        },
        "refunded" => PaymentEvent::Reversed {
            order,
            reference: Some(payment.clone()),
            reason: "refunded".into(),
            part: Part::Whole,
        },
        _ => PaymentEvent::Ignored,
    };
    Some((format!("{payment}:{status}"), event))
}

pub(crate) async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(secret) = state.secrets.nowpayments.clone() else {
        return not_enabled();
    };
    let provider = Provider {
        name: "nowpayments",
        signature_header: Some("x-nowpayments-sig"),
        parse,
    };
    receive(&state, provider, &headers, &body, |sig, body| {
        verify(sig, body, &secret)
    })
    .await
}

/// Creates NOWPayments invoices, with this server's IPN callback when its public URL is known.
pub struct Checkout {
    client: reqwest::Client,
    api: super::checkout::Api,
    callback: Option<String>,
}

impl Checkout {
    pub fn new(
        client: reqwest::Client,
        api: super::checkout::Api,
        callback: Option<String>,
    ) -> Checkout {
        Checkout {
            client,
            api,
            callback,
        }
    }
}

impl CheckoutProvider for Checkout {
    fn name(&self) -> &'static str {
        "nowpayments"
    }

    fn create<'a>(&'a self, order: &'a Order, return_url: &'a str) -> CheckoutFuture<'a> {
        Box::pin(async move {
            let mut invoice = serde_json::json!({
                "price_amount": order.amount_minor as f64
                    / 10f64.powi(exponent(&order.currency) as i32),
                "price_currency": order.currency.to_ascii_lowercase(),
                "order_id": order.public_id,
                "order_description": format!("{} credits", order.credits),
                "success_url": return_url,
            });
            if let Some(cb) = &self.callback {
                invoice["ipn_callback_url"] = serde_json::json!(cb);
            }
            let req = self
                .client
                .post(format!("{}/v1/invoice", self.api.base_url))
                .header("x-api-key", &self.api.key)
                .json(&invoice);
            let body = super::checkout::send("nowpayments", req).await?;
            super::checkout::page("nowpayments", &body, "/invoice_url", "/id")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"actually_paid":20.1,"actually_paid_at_fiat":0,"fee":{"currency":"usdttrc20","depositFee":0.1,"serviceFee":0.2,"withdrawalFee":0},"invoice_id":null,"order_description":null,"order_id":"ord_123","outcome_amount":19.8,"outcome_currency":"usdttrc20","parent_payment_id":null,"pay_address":"TXyz","pay_amount":20.1,"pay_currency":"usdttrc20","payment_id":5077125051,"payment_status":"finished","price_amount":19.99,"price_currency":"usd","purchase_id":"4987654321"}"#;
    const SIG: &str = "35967baf859ea48d74db3618437475156f09ba396becbc8d96f0285aac6f203674bfab41a33506ae55fd7b25a04b437043e0f81e33c0aeec73a12ab46fe111a8";

    #[test]
    fn the_vector_verifies_in_any_key_order_and_changes_do_not() {
        assert_eq!(verify(SIG, BODY.as_bytes(), "np_test_ipn_secret"), Ok(()));
        // The same object pretty-printed with keys shuffled still verifies.
        let shuffled = r#"{ "price_currency": "usd", "fee": {"withdrawalFee": 0, "serviceFee": 0.2, "depositFee": 0.1, "currency": "usdttrc20"},
            "payment_status": "finished", "actually_paid": 20.1, "actually_paid_at_fiat": 0, "invoice_id": null, "order_description": null,
            "order_id": "ord_123", "outcome_amount": 19.8, "outcome_currency": "usdttrc20", "parent_payment_id": null, "pay_address": "TXyz",
            "pay_amount": 20.1, "pay_currency": "usdttrc20", "payment_id": 5077125051, "price_amount": 19.99, "purchase_id": "4987654321" }"#;
        assert_eq!(
            verify(SIG, shuffled.as_bytes(), "np_test_ipn_secret"),
            Ok(())
        );
        assert_eq!(
            verify(
                SIG,
                BODY.replace("finished", "confirmed").as_bytes(),
                "np_test_ipn_secret"
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SIG, BODY.as_bytes(), "wrong"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("nothex", BODY.as_bytes(), "np_test_ipn_secret"),
            Err(SignatureError::Malformed)
        );
    }
}
