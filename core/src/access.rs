//! Subscriber credentials for the streaming hot path (player API, stream authorization), kept in
//! memory so that a player's request costs a map lookup and a SHA-256, never a database query
//! or a slow password hash. Entries load on first use and are dropped by every change to the
//! subscriber made through core, so the next request sees the change at once. A request that
//! read the row just before a change could put the old entry back; entries older than
//! [`MAX_AGE`] are reloaded, which bounds that window.

use crate::core::to_time;
use crate::{Core, Result};
use chrono::{DateTime, Utc};
use dashmap::DashMap;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// What the streaming side needs to know about a subscriber.
#[derive(Debug, Clone)]
pub struct Access {
    pub username: String,
    password_sha: [u8; 32],
    /// SHA-256 of the stream token, which the subscribers table indexes as hex.
    token_sha: [u8; 32],
    pub expires_at: DateTime<Utc>,
    pub active: bool,
    pub max_connections: i64,
    pub created_at: DateTime<Utc>,
    /// The channel categories this subscriber gets; `None` for all.
    pub categories: Option<Vec<i64>>,
}

/// How long an entry is trusted without a reload.
pub const MAX_AGE: Duration = Duration::from_secs(30);

/// The cache itself; one per [`Core`].
#[derive(Debug, Default)]
pub(crate) struct AccessCache {
    entries: DashMap<String, (Instant, Arc<Access>)>,
    /// Token hash → username, so token logins find their entry without a query.
    tokens: DashMap<[u8; 32], String>,
}

impl AccessCache {
    pub(crate) fn forget(&self, username: &str) {
        self.entries.remove(username);
    }

    pub(crate) fn clear(&self) {
        self.entries.clear();
        self.tokens.clear();
    }
}

impl Access {
    /// Whether the subscriber's bouquets include this channel category.
    pub fn may_watch(&self, category: i64) -> bool {
        self.categories
            .as_ref()
            .is_none_or(|c| c.contains(&category))
    }
}

fn sha(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

impl Core {
    /// The subscriber if `password` is theirs; `None` for a wrong password and for an unknown
    /// username alike, compared in constant time.
    pub async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Arc<Access>>> {
        let given = sha(password);
        let cached = self
            .access
            .entries
            .get(username)
            .filter(|e| e.0.elapsed() < MAX_AGE)
            .map(|e| e.1.clone());
        let access = match cached {
            Some(a) => Some(a),
            None => self.load_access(username).await?,
        };
        Ok(match access {
            Some(a) if bool::from(a.password_sha.ct_eq(&given)) => Some(a),
            Some(_) => None,
            None => {
                // Same work as a known user, so timing does not tell which usernames exist.
                let _ = sha("unknown").ct_eq(&given);
                None
            }
        })
    }

    /// The subscriber whose stream token this is, if any, compared in constant time.
    pub async fn authenticate_token(&self, token: &str) -> Result<Option<Arc<Access>>> {
        let given = sha(token);
        let cached = self.access.tokens.get(&given).map(|u| u.clone());
        let username = match cached {
            Some(u) => Some(u),
            None => {
                let found: Option<String> =
                    sqlx::query_scalar("SELECT username FROM subscribers WHERE token_hash = $1")
                        .bind(hex::encode(given))
                        .fetch_optional(self.db.read())
                        .await?;
                if let Some(u) = &found {
                    self.access.tokens.insert(given, u.clone());
                }
                found
            }
        };
        let Some(username) = username else {
            return Ok(None);
        };
        let cached = self
            .access
            .entries
            .get(&username)
            .filter(|e| e.0.elapsed() < MAX_AGE)
            .map(|e| e.1.clone());
        let access = match cached {
            Some(a) => Some(a),
            None => self.load_access(&username).await?,
        };
        // A reset token still maps to its old owner here; the owner's current token decides.
        Ok(access.filter(|a| bool::from(a.token_sha.ct_eq(&given))))
    }

    async fn load_access(&self, username: &str) -> Result<Option<Arc<Access>>> {
        type Row = (i64, String, String, String, i64, i64, i64, i64, Option<i64>);
        let mut conn = self.db.read().acquire().await?;
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, username, password_enc, token_hash, expires_at, active, max_connections, created_at, reseller_id \
             FROM subscribers WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&mut *conn)
        .await?;
        let Some((
            id,
            username,
            password_enc,
            token_hash,
            expires_at,
            active,
            max_connections,
            created_at,
            reseller,
        )) = row
        else {
            return Ok(None);
        };
        let password = self.cipher.decrypt(&username, &password_enc)?;
        let access = Arc::new(Access {
            password_sha: sha(&password),
            token_sha: hex::decode(&token_hash)
                .ok()
                .and_then(|b| b.try_into().ok())
                .unwrap_or_default(),
            expires_at: to_time(expires_at),
            active: active != 0,
            max_connections,
            created_at: to_time(created_at),
            categories: crate::bouquets::allowed_categories(&mut conn, id, reseller).await?,
            username: username.clone(),
        });
        self.access
            .entries
            .insert(username, (Instant::now(), access.clone()));
        Ok(Some(access))
    }
}
