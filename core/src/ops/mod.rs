//! Every change to money or subscribers: one module per operation, each one transaction that
//! writes the change, its ledger row (if credits move) and its audit row together, at most once
//! per operation id.

pub(crate) mod branding;
pub mod bulk;
pub mod confirm;
mod create_reseller;
mod create_subscriber;
mod credits;
mod delete;
mod extend;
mod invite;
mod reseller_settings;
mod reset;
mod set_active;
pub(crate) mod subresellers;
mod templates;
mod transfer;
mod trial;

pub use branding::{BrandChange, Branding, SUPPORT_MAX};
pub use bulk::{BulkDone, BulkPlan, BulkRow, Refused, Selection};
pub use confirm::{Command, Outcome, Quote};
pub use create_reseller::NewReseller;
pub use create_subscriber::Created;
pub use credits::Moved;
pub use delete::Deleted;
pub use extend::Extended;
pub use invite::Invite;
pub use templates::TEMPLATE_TITLE_MAX;
pub use transfer::Transferred;
pub use trial::TRIAL_MAX_HOURS;

use crate::db::Tx;
use crate::{CoreError, Result};

/// Maps a unique-constraint failure on insert to `on_conflict`, anything else to an internal error.
pub(crate) fn unique_or(e: sqlx::Error, on_conflict: CoreError) -> CoreError {
    match e.as_database_error() {
        Some(d) if d.is_unique_violation() => on_conflict,
        _ => e.into(),
    }
}

/// Fresh credentials for a subscriber: (password, token).
pub(crate) fn new_credentials(password_length: usize) -> (String, String) {
    use crate::secrets::{ALNUM, UNAMBIGUOUS, random_string};
    (
        random_string(UNAMBIGUOUS, password_length),
        random_string(ALNUM, 32),
    )
}

/// Stores new encrypted credentials on a subscriber row.
pub(crate) async fn store_credentials(
    tx: &mut Tx,
    cipher: &crate::CredentialCipher,
    username: &str,
    password: &str,
    token: &str,
) -> Result<()> {
    sqlx::query("UPDATE subscribers SET password_enc = $1, token_enc = $2, token_hash = $3 WHERE username = $4")
        .bind(cipher.encrypt(username, password))
        .bind(cipher.encrypt(username, token))
        .bind(crate::secrets::sha256_hex(token))
        .bind(username)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
