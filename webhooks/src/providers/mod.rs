//! One module per payment provider, holding both directions: how its webhook is signed and what
//! its events mean, and the checkout client that creates its payment pages (core's
//! `CheckoutProvider`). Signatures are checked on the raw bytes, before anything is parsed, and
//! compared in constant time.

pub mod btcpay;
pub mod checkout;
pub mod cryptomus;
pub mod nowpayments;
pub mod stripe;

use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// No signature, or not in the provider's format.
    Malformed,
    /// Signed with another secret, or the body was changed.
    Mismatch,
    /// Signed too long ago (a replay): `age_secs` old.
    Stale { age_secs: i64 },
}

/// Constant-time check of an HMAC-SHA256 tag.
fn hmac_sha256_matches(key: &[u8], message: &[u8], tag: &[u8]) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.verify_slice(tag).is_ok()
}
