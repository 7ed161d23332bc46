//! Outbound calls that start a payment: one small client per provider, each with a configurable
//! base URL so tests and staging can stand in for the provider. The order's public id travels
//! in the provider's own merchant-reference field and comes back in its webhook.

use crate::providers::{cryptomus, stripe};
use reseller_core::payments::{Order, exponent, format_money, to_decimal};
use serde_json::{Value, json};
use std::time::Duration;

/// Credentials and endpoints of the providers that can create checkouts.
#[derive(Clone, Default)]
pub struct CheckoutSettings {
    /// Where this server is reachable from the internet, for providers that take a callback
    /// URL per payment (NOWPayments, Cryptomus): `{public_url}/webhooks/<provider>`.
    pub public_url: Option<String>,
    /// Where the buyer lands after paying (the bot's t.me link).
    pub return_url: String,
    pub stripe: Option<Api>,
    pub btcpay: Option<BtcPayApi>,
    pub nowpayments: Option<Api>,
    pub cryptomus: Option<CryptomusApi>,
}

#[derive(Clone)]
pub struct Api {
    pub base_url: String,
    pub key: String,
}

#[derive(Clone)]
pub struct BtcPayApi {
    pub base_url: String,
    pub key: String,
    pub store_id: String,
}

#[derive(Clone)]
pub struct CryptomusApi {
    pub base_url: String,
    pub merchant_id: String,
    pub payment_key: String,
}

impl std::fmt::Debug for CheckoutSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckoutSettings")
            .field("providers", &self.providers())
            .finish()
    }
}

impl CheckoutSettings {
    /// The providers a reseller can be sent to, in the order they are offered.
    pub fn providers(&self) -> Vec<&'static str> {
        let mut p = Vec::new();
        if self.stripe.is_some() {
            p.push("stripe");
        }
        if self.btcpay.is_some() {
            p.push("btcpay");
        }
        if self.nowpayments.is_some() {
            p.push("nowpayments");
        }
        if self.cryptomus.is_some() {
            p.push("cryptomus");
        }
        p
    }
}

/// A payment page to send the reseller to, and the provider's id for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub url: String,
    pub reference: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("{0} is not configured")]
    NotConfigured(String),
    #[error("{provider} could not be reached: {source}")]
    Unreachable {
        provider: &'static str,
        source: reqwest::Error,
    },
    #[error("{provider} refused the checkout (HTTP {status}): {body}")]
    Refused {
        provider: &'static str,
        status: u16,
        body: String,
    },
    #[error("{provider} cannot take an amount of {amount}")]
    Amount {
        provider: &'static str,
        amount: String,
    },
    #[error("{provider} answered without a payment link")]
    NoLink { provider: &'static str },
}

/// Creates checkouts. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Checkout {
    client: reqwest::Client,
    settings: std::sync::Arc<CheckoutSettings>,
}

impl Checkout {
    pub fn new(settings: CheckoutSettings) -> Checkout {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("an HTTP client with a timeout builds");
        Checkout {
            client,
            settings: std::sync::Arc::new(settings),
        }
    }

    pub fn providers(&self) -> Vec<&'static str> {
        self.settings.providers()
    }

    fn callback(&self, provider: &str) -> Option<String> {
        self.settings
            .public_url
            .as_ref()
            .map(|u| format!("{}/webhooks/{provider}", u.trim_end_matches('/')))
    }

    pub async fn create(&self, provider: &str, order: &Order) -> Result<Link, CheckoutError> {
        let s = &self.settings;
        let not_configured = || CheckoutError::NotConfigured(provider.to_string());
        let amount = to_decimal(order.amount_minor, &order.currency);
        let name = format!("{} credits", order.credits);
        match provider {
            "stripe" => {
                let api = s.stripe.as_ref().ok_or_else(not_configured)?;
                let unit_amount = stripe::to_stripe_amount(order.amount_minor, &order.currency)
                    .ok_or_else(|| CheckoutError::Amount {
                        provider: "stripe",
                        amount: format_money(order.amount_minor, &order.currency),
                    })?;
                let form = [
                    ("mode", "payment".to_string()),
                    ("success_url", s.return_url.clone()),
                    ("cancel_url", s.return_url.clone()),
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
                    ("line_items[0][price_data][product_data][name]", name),
                ];
                let req = self
                    .client
                    .post(format!("{}/v1/checkout/sessions", api.base_url))
                    .bearer_auth(&api.key)
                    .form(&form);
                let body = send("stripe", req).await?;
                link("stripe", &body, "/url", "/id")
            }
            "btcpay" => {
                let api = s.btcpay.as_ref().ok_or_else(not_configured)?;
                let req = self
                    .client
                    .post(format!(
                        "{}/api/v1/stores/{}/invoices",
                        api.base_url, api.store_id
                    ))
                    .header("Authorization", format!("token {}", api.key))
                    .json(&json!({
                        "amount": amount, "currency": order.currency,
                        "metadata": { "orderId": order.public_id, "itemDesc": name },
                        "checkout": { "redirectURL": s.return_url },
                    }));
                let body = send("btcpay", req).await?;
                link("btcpay", &body, "/checkoutLink", "/id")
            }
            "nowpayments" => {
                let api = s.nowpayments.as_ref().ok_or_else(not_configured)?;
                let mut invoice = json!({
                    "price_amount": order.amount_minor as f64
                        / 10f64.powi(exponent(&order.currency) as i32),
                    "price_currency": order.currency.to_ascii_lowercase(),
                    "order_id": order.public_id,
                    "order_description": name,
                    "success_url": s.return_url,
                });
                if let Some(cb) = self.callback("nowpayments") {
                    invoice["ipn_callback_url"] = json!(cb);
                }
                let req = self
                    .client
                    .post(format!("{}/v1/invoice", api.base_url))
                    .header("x-api-key", &api.key)
                    .json(&invoice);
                let body = send("nowpayments", req).await?;
                link("nowpayments", &body, "/invoice_url", "/id")
            }
            "cryptomus" => {
                let api = s.cryptomus.as_ref().ok_or_else(not_configured)?;
                let mut payment = json!({ "amount": amount, "currency": order.currency, "order_id": order.public_id, "url_return": s.return_url });
                if let Some(cb) = self.callback("cryptomus") {
                    payment["url_callback"] = json!(cb);
                }
                let body_text = payment.to_string();
                let sign = cryptomus::sign_of(&payment, &api.payment_key).map_err(|_| {
                    CheckoutError::NoLink {
                        provider: "cryptomus",
                    }
                })?;
                let req = self
                    .client
                    .post(format!("{}/v1/payment", api.base_url))
                    .header("merchant", &api.merchant_id)
                    .header("sign", sign)
                    .header("content-type", "application/json")
                    .body(body_text);
                let body = send("cryptomus", req).await?;
                link("cryptomus", &body, "/result/url", "/result/uuid")
            }
            other => Err(CheckoutError::NotConfigured(other.to_string())),
        }
    }
}

async fn send(
    provider: &'static str,
    req: reqwest::RequestBuilder,
) -> Result<Value, CheckoutError> {
    let resp = req
        .send()
        .await
        .map_err(|source| CheckoutError::Unreachable { provider, source })?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .map_err(|source| CheckoutError::Unreachable { provider, source })?;
    if !status.is_success() {
        return Err(CheckoutError::Refused {
            provider,
            status: status.as_u16(),
            body: text.chars().take(300).collect(),
        });
    }
    serde_json::from_str(&text).map_err(|_| CheckoutError::NoLink { provider })
}

fn link(
    provider: &'static str,
    body: &Value,
    url: &str,
    reference: &str,
) -> Result<Link, CheckoutError> {
    let get = |p: &str| body.pointer(p).and_then(|v| v.as_str()).map(str::to_string);
    match (get(url), get(reference)) {
        (Some(url), Some(reference)) => Ok(Link { url, reference }),
        _ => Err(CheckoutError::NoLink { provider }),
    }
}
