//! Facts about the deployment that every instance sharing the database must agree on, stored
//! as names and values in the `deployment` table.

use crate::{Db, Result};

/// The SHA-256 fingerprint of the credentials key (see `CredentialCipher::fingerprint`).
pub const CREDENTIALS_KEY_FINGERPRINT: &str = "credentials_key_fingerprint";

/// The value recorded under `name`, if any.
pub async fn recorded(db: &Db, name: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT value FROM deployment WHERE name = $1")
            .bind(name)
            .fetch_optional(db.read())
            .await?,
    )
}

/// Records `value` under `name` unless a value is recorded already. Returns `None` when ours
/// was recorded, else the value found: of instances racing, exactly one records its value.
pub(crate) async fn record_first(db: &Db, name: &str, value: &str) -> Result<Option<String>> {
    let mut tx = db.begin_write().await?;
    let inserted = sqlx::query(
        "INSERT INTO deployment (name, value, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(value)
    .bind(crate::core::now())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let found = if inserted == 1 {
        None
    } else {
        // On PostgreSQL the conflicting insert waited for the first one's commit, so this
        // statement (a new snapshot under read committed) sees its row.
        Some(
            sqlx::query_scalar("SELECT value FROM deployment WHERE name = $1")
                .bind(name)
                .fetch_one(&mut *tx)
                .await?,
        )
    };
    tx.commit().await?;
    Ok(found)
}
