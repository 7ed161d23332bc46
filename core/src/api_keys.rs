//! Keys for the reseller API (`can_api_access`): `rb_<prefix>_<secret>`, shown once when made.
//!
//! The prefix is stored plain to find the key's row; the secret only as an argon2id hash. Every
//! request reads the key's row and its reseller's rights (one indexed read), so a revocation, a
//! suspension or a withdrawn `can_api_access` holds at once on every instance. What is cached
//! in memory is only the argon2 verdict: "this exact key matched this prefix's stored hash",
//! as the SHA-256 of the key under its prefix, for [`VERIFIED_FOR`]; a revocation drops the
//! entry on every instance through the bus as well. Keys never appear in logs, errors or
//! `Debug` output.

use crate::audit::{self, Entry};
use crate::core::{now, to_time};
use crate::domain::{OperationId, ParseError, Permission, ResellerId};
use crate::queries::resellers;
use crate::secrets::{ALNUM, random_string};
use crate::{Actor, Core, CoreError, Result};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::time::Duration;
use subtle::ConstantTimeEq;

/// How long a verified key skips argon2 on this instance.
pub const VERIFIED_FOR: Duration = Duration::from_secs(300);

const PREFIX_LEN: usize = 8;
const SECRET_LEN: usize = 32;

/// A key just made: the only time its secret exists outside the caller's hands.
pub struct IssuedKey {
    pub prefix: String,
    key: String,
}

impl IssuedKey {
    /// The whole key, to show its owner once.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl std::fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedKey")
            .field("prefix", &self.prefix)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// A key as its owner lists it.
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Who an API request comes from, once its key is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCaller {
    pub key_id: i64,
    pub reseller: ResellerId,
}

impl ApiCaller {
    pub fn actor(&self) -> Actor {
        Actor::Reseller(self.reseller)
    }
}

/// Keys this instance verified recently: prefix → SHA-256 of the whole key.
#[derive(Debug)]
pub(crate) struct VerifiedKeys(moka::sync::Cache<String, [u8; 32]>);

impl Default for VerifiedKeys {
    fn default() -> Self {
        VerifiedKeys(
            moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(VERIFIED_FOR)
                .build(),
        )
    }
}

impl VerifiedKeys {
    pub(crate) fn forget(&self, prefix: &str) {
        self.0.invalidate(prefix);
    }

    pub(crate) fn clear(&self) {
        self.0.invalidate_all();
    }
}

/// argon2id with light parameters: the secret is 32 random characters (190 bits), so the hash
/// guards a stolen database against nothing a slow hash would add; it only has to be one-way.
/// 8 MiB and one pass keep a first verification to a few milliseconds.
fn hasher() -> Argon2<'static> {
    let params = Params::new(8 * 1024, 1, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// `rb_<prefix>_<secret>` split, or `None` for anything else.
fn split(key: &str) -> Option<(&str, &str)> {
    let (prefix, secret) = key.strip_prefix("rb_")?.split_once('_')?;
    let ok = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_alphanumeric());
    (ok(prefix, PREFIX_LEN) && ok(secret, SECRET_LEN)).then_some((prefix, secret))
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl Core {
    /// Makes a key for a reseller allowed to use the API. Only its hash is stored.
    pub async fn new_api_key(&self, actor: &Actor) -> Result<IssuedKey> {
        let Actor::Reseller(id) = actor else {
            return Err(CoreError::ResellersOnly);
        };
        resellers::by_id(self.db.read(), *id)
            .await?
            .require(Permission::CanApiAccess)?;
        let prefix = random_string(ALNUM, PREFIX_LEN);
        let key = format!("rb_{prefix}_{}", random_string(ALNUM, SECRET_LEN));
        let to_hash = key.clone();
        let hash = tokio::task::spawn_blocking(move || {
            let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())?;
            hasher()
                .hash_password(to_hash.as_bytes(), &salt)
                .map(|h| h.to_string())
        })
        .await
        .map_err(|e| CoreError::Internal(Box::new(e)))?
        .map_err(|e| CoreError::Internal(e.to_string().into()))?;
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "INSERT INTO api_keys (reseller_id, prefix, secret_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id.0)
        .bind(&prefix)
        .bind(&hash)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            actor,
            Entry {
                action: "api_key.create",
                reseller: Some(*id),
                target: Some(&prefix),
                details: serde_json::json!({}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(IssuedKey { prefix, key })
    }

    /// The reseller's keys, newest first, revoked ones included.
    pub async fn api_keys(&self, actor: &Actor) -> Result<Vec<ApiKey>> {
        let Actor::Reseller(id) = actor else {
            return Err(CoreError::ResellersOnly);
        };
        let rows: Vec<(String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT prefix, created_at, revoked_at FROM api_keys WHERE reseller_id = $1 ORDER BY id DESC",
        )
        .bind(id.0)
        .fetch_all(self.db.read())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(prefix, created_at, revoked_at)| ApiKey {
                prefix,
                created_at: to_time(created_at),
                revoked_at: revoked_at.map(to_time),
            })
            .collect())
    }

    /// Revokes the reseller's key with `prefix`: refused from the next request on, everywhere.
    pub async fn revoke_api_key(&self, actor: &Actor, prefix: &str) -> Result<()> {
        let Actor::Reseller(id) = actor else {
            return Err(CoreError::ResellersOnly);
        };
        let not_found = || CoreError::NotFound {
            kind: "API key",
            name: crate::domain::shorten(prefix),
        };
        let mut tx = self.db.begin_write().await?;
        let revoked = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE reseller_id = $2 AND prefix = $3 AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(id.0)
        .bind(prefix)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if revoked == 0 {
            return Err(not_found());
        }
        audit::record(
            &mut tx,
            actor,
            Entry {
                action: "api_key.revoke",
                reseller: Some(*id),
                target: Some(prefix),
                details: serde_json::json!({}),
            },
        )
        .await?;
        self.publish(&mut tx, &crate::bus::Event::ApiKeyRevoked(prefix.into()))
            .await?;
        tx.commit().await?;
        self.api_keys.forget(prefix);
        Ok(())
    }

    /// The caller behind `key`, if it is a live key of a reseller who may use the API now.
    pub async fn authenticate_api_key(&self, key: &str) -> Result<ApiCaller> {
        let (prefix, _) = split(key).ok_or(CoreError::ApiKeyInvalid)?;
        let row: Option<(i64, i64, String, Option<i64>)> = sqlx::query_as(
            "SELECT id, reseller_id, secret_hash, revoked_at FROM api_keys WHERE prefix = $1",
        )
        .bind(prefix)
        .fetch_optional(self.db.read())
        .await?;
        let Some((key_id, reseller, hash, None)) = row else {
            return Err(CoreError::ApiKeyInvalid);
        };
        let digest = digest(key);
        let known = self
            .api_keys
            .0
            .get(prefix)
            .is_some_and(|d| bool::from(d.ct_eq(&digest)));
        if !known {
            let candidate = key.to_string();
            let matches = tokio::task::spawn_blocking(move || {
                PasswordHash::new(&hash)
                    .is_ok_and(|h| hasher().verify_password(candidate.as_bytes(), &h).is_ok())
            })
            .await
            .map_err(|e| CoreError::Internal(Box::new(e)))?;
            if !matches {
                return Err(CoreError::ApiKeyInvalid);
            }
            self.api_keys.0.insert(prefix.to_string(), digest);
        }
        resellers::by_id(self.db.read(), ResellerId(reseller))
            .await?
            .require(Permission::CanApiAccess)?;
        Ok(ApiCaller {
            key_id,
            reseller: ResellerId(reseller),
        })
    }

    /// The operation id of `caller`'s request under `idempotency_key`, so that a replay takes
    /// core's replay path and returns the first outcome. `request_hash` identifies the request
    /// (method, path, body); the same key with another request is refused.
    pub async fn api_operation(
        &self,
        caller: &ApiCaller,
        idempotency_key: &str,
        request_hash: &str,
    ) -> Result<OperationId> {
        let valid = (1..=255).contains(&idempotency_key.len())
            && idempotency_key.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(ParseError(format!(
                "An Idempotency-Key is 1 to 255 visible ASCII characters; yours has {}.",
                idempotency_key.chars().count()
            ))
            .into());
        }
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "INSERT INTO api_idempotency (api_key_id, idempotency_key, request_hash, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (api_key_id, idempotency_key) DO NOTHING",
        )
        .bind(caller.key_id)
        .bind(idempotency_key)
        .bind(request_hash)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        let first: String = sqlx::query_scalar(
            "SELECT request_hash FROM api_idempotency WHERE api_key_id = $1 AND idempotency_key = $2",
        )
        .bind(caller.key_id)
        .bind(idempotency_key)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        if first != request_hash {
            return Err(CoreError::IdempotencyKeyReused);
        }
        let hashed = crate::secrets::sha256_hex(idempotency_key);
        Ok(OperationId::parse(&format!(
            "api_{}_{}",
            caller.key_id,
            &hashed[..40]
        ))?)
    }
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn only_well_formed_keys_split() {
        let key = format!("rb_Abc12345_{}", "x".repeat(32));
        assert_eq!(split(&key), Some(("Abc12345", "x".repeat(32).as_str())));
        assert_eq!(split("rb_short_secret"), None);
        assert_eq!(split(&format!("xx_Abc12345_{}", "x".repeat(32))), None);
        assert_eq!(split(&format!("rb_Abc1234!_{}", "x".repeat(32))), None);
    }
}
