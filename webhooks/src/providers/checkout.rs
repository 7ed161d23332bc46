//! What the providers' checkout clients share: their settings, one HTTP client, and reading
//! the provider's answer. Each provider's own request is in its module, next to its webhook.

use super::{btcpay, cryptomus, nowpayments, stripe};
use reseller_core::payments::{CheckoutError, CheckoutProvider, Checkouts, PaymentPage};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Credentials and endpoints of the providers that can create checkouts; each has a
/// configurable base URL so tests and staging can stand in for the provider.
#[derive(Clone, Default)]
pub struct CheckoutSettings {
    /// Where this server is reachable from the internet, for providers that take a callback
    /// URL per payment (NOWPayments, Cryptomus): `{public_url}/webhooks/<provider>`.
    pub public_url: Option<String>,
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
            .field("stripe", &self.stripe.is_some())
            .field("btcpay", &self.btcpay.is_some())
            .field("nowpayments", &self.nowpayments.is_some())
            .field("cryptomus", &self.cryptomus.is_some())
            .finish()
    }
}

/// The clients of the configured providers, in the order they are offered.
pub fn checkouts(settings: CheckoutSettings) -> Checkouts {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("an HTTP client with a timeout builds");
    let callback = |provider: &str| {
        settings
            .public_url
            .as_ref()
            .map(|u| format!("{}/webhooks/{provider}", u.trim_end_matches('/')))
    };
    let mut all: Vec<Arc<dyn CheckoutProvider>> = Vec::new();
    if let Some(api) = settings.stripe.clone() {
        all.push(Arc::new(stripe::Checkout::new(client.clone(), api)));
    }
    if let Some(api) = settings.btcpay.clone() {
        all.push(Arc::new(btcpay::Checkout::new(client.clone(), api)));
    }
    if let Some(api) = settings.nowpayments.clone() {
        all.push(Arc::new(nowpayments::Checkout::new(
            client.clone(),
            api,
            callback("nowpayments"),
        )));
    }
    if let Some(api) = settings.cryptomus.clone() {
        all.push(Arc::new(cryptomus::Checkout::new(
            client.clone(),
            api,
            callback("cryptomus"),
        )));
    }
    Checkouts::new(all)
}

/// Sends a checkout request; a non-2xx answer is a refusal (its body cut short).
pub(crate) async fn send(
    provider: &'static str,
    req: reqwest::RequestBuilder,
) -> Result<Value, CheckoutError> {
    let unreachable = |e: reqwest::Error| CheckoutError::Unreachable {
        provider,
        reason: e.without_url().to_string(),
    };
    let resp = req.send().await.map_err(unreachable)?;
    let status = resp.status();
    let text = resp.text().await.map_err(unreachable)?;
    if !status.is_success() {
        return Err(CheckoutError::Refused {
            provider,
            status: status.as_u16(),
            body: text.chars().take(300).collect(),
        });
    }
    serde_json::from_str(&text).map_err(|_| CheckoutError::NoLink { provider })
}

/// The payment page in the provider's answer, at JSON pointers `url` and `reference`.
pub(crate) fn page(
    provider: &'static str,
    body: &Value,
    url: &str,
    reference: &str,
) -> Result<PaymentPage, CheckoutError> {
    let get = |p: &str| body.pointer(p).and_then(|v| v.as_str()).map(str::to_string);
    match (get(url), get(reference)) {
        (Some(url), Some(reference)) => Ok(PaymentPage { url, reference }),
        _ => Err(CheckoutError::NoLink { provider }),
    }
}
