//! Starting an online payment: the front ends name this trait, the binary wires in one
//! implementation per provider (they live with their provider's webhook code), so the bot
//! never depends on the HTTP side.

use super::Order;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A payment page to send the reseller to, and the provider's id for it (stored on the order,
/// so that the provider's events can be matched to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentPage {
    pub url: String,
    pub reference: String,
}

/// Why no payment page could be made. Holds no credentials: the provider's answer is cut short
/// and an unreachable provider is described without its URL.
#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("{0} is not configured")]
    NotConfigured(String),
    #[error("{provider} could not be reached: {reason}")]
    Unreachable {
        provider: &'static str,
        reason: String,
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

/// The future a [`CheckoutProvider`] returns (boxed, so the trait can be used as `dyn`).
pub type CheckoutFuture<'a> =
    Pin<Box<dyn Future<Output = Result<PaymentPage, CheckoutError>> + Send + 'a>>;

/// One provider that creates payment pages. The order's public id travels in the provider's
/// own merchant-reference field and comes back in its webhook.
pub trait CheckoutProvider: Send + Sync {
    /// The provider's name, as in orders and in `/webhooks/<name>`.
    fn name(&self) -> &'static str;

    /// Creates the payment page for `order`; the buyer lands on `return_url` afterwards.
    fn create<'a>(&'a self, order: &'a Order, return_url: &'a str) -> CheckoutFuture<'a>;
}

/// The configured providers, in the order they are offered. Cheap to clone.
#[derive(Clone, Default)]
pub struct Checkouts(Vec<Arc<dyn CheckoutProvider>>);

impl Checkouts {
    pub fn new(providers: Vec<Arc<dyn CheckoutProvider>>) -> Checkouts {
        Checkouts(providers)
    }

    /// The names of the configured providers.
    pub fn providers(&self) -> Vec<&'static str> {
        self.0.iter().map(|p| p.name()).collect()
    }

    /// Creates `order`'s payment page with its own provider.
    pub async fn create(
        &self,
        order: &Order,
        return_url: &str,
    ) -> Result<PaymentPage, CheckoutError> {
        match self.0.iter().find(|p| p.name() == order.provider) {
            Some(p) => p.create(order, return_url).await,
            None => Err(CheckoutError::NotConfigured(order.provider.clone())),
        }
    }
}

impl std::fmt::Debug for Checkouts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Checkouts").field(&self.providers()).finish()
    }
}
