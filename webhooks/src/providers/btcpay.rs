//! BTCPay Server (Greenfield): `BTCPay-Sig: sha256=<hex HMAC-SHA256 of the raw body>`. Real
//! deliveries are pretty-printed, so the bytes received are what is hashed.

use super::{SignatureError, hmac_sha256_matches};
use crate::AppState;
use crate::payments::{Provider, not_enabled, receive, text};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use reseller_core::payments::{CheckoutFuture, CheckoutProvider, Order, PaymentEvent, to_decimal};

pub fn verify(header: &str, body: &[u8], secret: &str) -> Result<(), SignatureError> {
    let hex_sig = header
        .trim()
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    let sig = hex::decode(hex_sig).map_err(|_| SignatureError::Malformed)?;
    if hmac_sha256_matches(secret.as_bytes(), body, &sig) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// What a verified BTCPay event means. Redeliveries carry a new `deliveryId` and the same
/// `originalDeliveryId`, which is the identity.
pub(crate) fn parse(body: &serde_json::Value) -> Option<(String, PaymentEvent)> {
    let id = text(body, "/originalDeliveryId").or_else(|| text(body, "/deliveryId"))?;
    let event = match text(body, "/type")?.as_str() {
        "InvoiceSettled" => PaymentEvent::Settled {
            order: text(body, "/metadata/orderId")?,
            reference: text(body, "/invoiceId")?,
        },
        _ => PaymentEvent::Ignored,
    };
    Some((id, event))
}

pub(crate) async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(secret) = state.secrets.btcpay.clone() else {
        return not_enabled();
    };
    let provider = Provider {
        name: "btcpay",
        signature_header: Some("btcpay-sig"),
        parse,
    };
    receive(&state, provider, &headers, &body, |sig, body| {
        verify(sig, body, &secret)
    })
    .await
}

/// Creates BTCPay Server invoices.
pub struct Checkout {
    client: reqwest::Client,
    api: super::checkout::BtcPayApi,
}

impl Checkout {
    pub fn new(client: reqwest::Client, api: super::checkout::BtcPayApi) -> Checkout {
        Checkout { client, api }
    }
}

impl CheckoutProvider for Checkout {
    fn name(&self) -> &'static str {
        "btcpay"
    }

    fn create<'a>(&'a self, order: &'a Order, return_url: &'a str) -> CheckoutFuture<'a> {
        Box::pin(async move {
            let req = self
                .client
                .post(format!(
                    "{}/api/v1/stores/{}/invoices",
                    self.api.base_url, self.api.store_id
                ))
                .header("Authorization", format!("token {}", self.api.key))
                .json(&serde_json::json!({
                    "amount": to_decimal(order.amount_minor, &order.currency),
                    "currency": order.currency,
                    "metadata": {
                        "orderId": order.public_id,
                        "itemDesc": format!("{} credits", order.credits),
                    },
                    "checkout": { "redirectURL": return_url },
                }));
            let body = super::checkout::send("btcpay", req).await?;
            super::checkout::page("btcpay", &body, "/checkoutLink", "/id")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"deliveryId":"Wq1Xd2","webhookId":"Hk9Zt7","originalDeliveryId":"Wq1Xd2","isRedelivery":false,"type":"InvoiceSettled","timestamp":1700000000,"storeId":"StoreAbc","invoiceId":"InvXyz","metadata":{"orderId":"ord_123"},"manuallyMarked":false,"overPaid":false}"#;
    const HEADER: &str = "sha256=0436269d95d9eb806043b0cceb390db9b39867b67f68f09ddb58cf956f9ad706";

    #[test]
    fn the_vector_verifies_and_changes_do_not() {
        assert_eq!(
            verify(HEADER, BODY.as_bytes(), "btcpay_test_secret"),
            Ok(())
        );
        assert_eq!(
            verify(
                HEADER,
                BODY.replace("ord_123", "ord_124").as_bytes(),
                "btcpay_test_secret"
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(HEADER, BODY.as_bytes(), "other"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("0436269d", BODY.as_bytes(), "btcpay_test_secret"),
            Err(SignatureError::Malformed)
        );
    }
}
