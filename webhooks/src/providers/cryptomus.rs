//! Cryptomus: the `sign` field inside the body is `md5(base64(json) + payment key)`, where the
//! JSON is the body without `sign` as PHP's `json_encode` writes it: original key order,
//! compact, non-ASCII kept, `/` escaped as `\/`.

use super::SignatureError;
use crate::AppState;
use crate::payments::{Provider, not_enabled, receive, text};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use base64::Engine as _;
use md5::{Digest, Md5};
use reseller_core::payments::{
    CheckoutError, CheckoutFuture, CheckoutProvider, Order, Part, PaymentEvent, parse_minor,
    to_decimal,
};
use serde_json::Value;
use subtle::ConstantTimeEq;

pub fn verify(body: &[u8], payment_key: &str) -> Result<(), SignatureError> {
    let mut value: Value = serde_json::from_slice(body).map_err(|_| SignatureError::Malformed)?;
    let object = value.as_object_mut().ok_or(SignatureError::Malformed)?;
    let sign = match object.shift_remove("sign") {
        Some(Value::String(s)) => s,
        _ => return Err(SignatureError::Malformed),
    };
    let expected = sign_of(&value, payment_key)?;
    if bool::from(
        expected
            .as_bytes()
            .ct_eq(sign.to_ascii_lowercase().as_bytes()),
    ) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The signature of `value` (without its `sign`), lowercase hex.
pub fn sign_of(value: &Value, payment_key: &str) -> Result<String, SignatureError> {
    let php_json = serde_json::to_string(value)
        .map_err(|_| SignatureError::Malformed)?
        .replace('/', "\\/");
    let encoded = base64::engine::general_purpose::STANDARD.encode(php_json);
    Ok(hex::encode(Md5::digest(format!("{encoded}{payment_key}"))))
}

/// What a verified Cryptomus webhook means; its identity is (uuid, status).
pub(crate) fn parse(body: &serde_json::Value) -> Option<(String, PaymentEvent)> {
    let uuid = text(body, "/uuid")?;
    let status = text(body, "/status")?;
    let order = text(body, "/order_id");
    let is_final = body
        .pointer("/is_final")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let event = match status.as_str() {
        "paid" | "paid_over" if is_final => {
            let currency = text(body, "/currency")?;
            PaymentEvent::Paid {
                order: order?,
                amount_minor: parse_minor(&text(body, "/amount")?, &currency)?,
                currency,
                reference: Some(uuid.clone()),
            }
        }
        "wrong_amount" => PaymentEvent::PartiallyPaid {
            order: order?,
            detail: format!(
                "{} {}",
                text(body, "/payment_amount").unwrap_or_default(),
                text(body, "/payer_currency").unwrap_or_default()
            ),
        },
        "refund_paid" => PaymentEvent::Reversed {
            order,
            reference: Some(uuid.clone()),
            reason: "refunded".into(),
            part: Part::Whole,
        },
        _ => PaymentEvent::Ignored,
    };
    Some((format!("{uuid}:{status}"), event))
}

pub(crate) async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(key) = state.secrets.cryptomus.clone() else {
        return not_enabled();
    };
    let provider = Provider {
        name: "cryptomus",
        signature_header: None,
        parse,
    };
    receive(&state, provider, &headers, &body, |_, body| {
        verify(body, &key)
    })
    .await
}

/// Creates Cryptomus payments, signed like its webhooks, with this server's callback when its
/// public URL is known.
pub struct Checkout {
    client: reqwest::Client,
    api: super::checkout::CryptomusApi,
    callback: Option<String>,
}

impl Checkout {
    pub fn new(
        client: reqwest::Client,
        api: super::checkout::CryptomusApi,
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
        "cryptomus"
    }

    fn create<'a>(&'a self, order: &'a Order, return_url: &'a str) -> CheckoutFuture<'a> {
        Box::pin(async move {
            let mut payment = serde_json::json!({
                "amount": to_decimal(order.amount_minor, &order.currency),
                "currency": order.currency,
                "order_id": order.public_id,
                "url_return": return_url,
            });
            if let Some(cb) = &self.callback {
                payment["url_callback"] = serde_json::json!(cb);
            }
            let body_text = payment.to_string();
            let sign =
                sign_of(&payment, &self.api.payment_key).map_err(|_| CheckoutError::NoLink {
                    provider: "cryptomus",
                })?;
            let req = self
                .client
                .post(format!("{}/v1/payment", self.api.base_url))
                .header("merchant", &self.api.merchant_id)
                .header("sign", sign)
                .header("content-type", "application/json")
                .body(body_text);
            let body = super::checkout::send("cryptomus", req).await?;
            super::checkout::page("cryptomus", &body, "/result/url", "/result/uuid")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNED: &str = r#"{"type":"payment","uuid":"62f88b36-a9d5-4fa6-aa26-e040c3dbf26d","order_id":"ord_123","amount":"20.00","payment_amount":"20.00","payment_amount_usd":"20.00","merchant_amount":"19.60","commission":"0.40","is_final":true,"status":"paid","from":null,"wallet_address_uuid":null,"network":"tron","currency":"USD","payer_currency":"USDT","additional_data":"u\/42","txid":"6f0d9c83"}"#;

    fn with_sign(sign: &str) -> String {
        format!("{},\"sign\":\"{sign}\"}}", &SIGNED[..SIGNED.len() - 1])
    }

    #[test]
    fn the_vector_verifies_and_changes_do_not() {
        let body = with_sign("f14016fd4b3151452e970f44b1043f05");
        assert_eq!(
            verify(body.as_bytes(), "cryptomus_test_payment_key"),
            Ok(())
        );
        assert_eq!(
            verify(
                body.replace("20.00", "2.00").as_bytes(),
                "cryptomus_test_payment_key"
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(body.as_bytes(), "wrong"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SIGNED.as_bytes(), "cryptomus_test_payment_key"),
            Err(SignatureError::Malformed)
        );
    }
}
