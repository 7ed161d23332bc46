//! The reseller business: resellers, their subscribers, the credit ledger, permissions and the
//! audit trail, over SQLite or PostgreSQL.
//!
//! Every rule lives here, whatever the front end: the bot and the HTTP server parse input into
//! [`domain`] types, call a method on [`Core`], and render what comes back. Nothing in this crate
//! knows about Telegram or HTTP.

pub mod access;
pub mod activity;
pub mod actor;
pub mod api_keys;
mod audit;
pub mod bouquets;
pub mod broadcast;
pub mod bus;
pub mod catalogue;
pub mod channels;
pub mod connections;
pub mod conversation;
mod core;
mod db;
pub mod deployment;
pub mod digest;
pub mod domain;
pub mod epg;
mod error;
mod idempotency;
pub mod lease;
pub mod ledger;
mod login_failures;
pub mod metrics;
pub mod notify;
pub mod ops;
pub mod payments;
pub mod queries;
pub mod ratelimit;
pub mod reports;
mod secrets;
pub mod sync;
pub mod telegram_updates;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

pub use crate::core::{Core, KeyClaim, Policy};
pub use actor::Actor;
pub use db::{Backend, Db};
pub use error::CoreError;
pub use idempotency::Done;
pub use secrets::CredentialCipher;

/// Result alias for fallible core operations.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
