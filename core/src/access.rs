//! Subscriber credentials for the streaming hot path (player API, stream authorization), kept in
//! memory so that a player's request costs a map lookup and a SHA-256, never a database query
//! or a slow password hash. Entries load on first use and are dropped by every change to the
//! subscriber made through core, so the next request sees the change at once. A load that read
//! the row before a change is not cached (a counter of changes tells), so it cannot put the old
//! entry back after the change dropped it; entries also live at most [`MAX_AGE`]. Other
//! instances on the same PostgreSQL database drop theirs when the change's notification
//! arrives, within a second of the commit (see [`bus`](crate::bus)).
//!
//! Unknown usernames are cached too (as `None`), so guessing names costs no query and takes
//! the same time as a wrong password. The cache is a `moka` cache bounded in entries
//! ([`Policy::access_cache_capacity`](crate::Policy)) and in age, so a burst of distinct logins
//! does not stay in memory after it is over; its admission policy (TinyLFU) keeps a scan of
//! one-off names from pushing out the subscribers who log in all day.

use crate::core::to_time;
use crate::domain::Username;
use crate::{Core, Result};
use chrono::{DateTime, Utc};
use moka::sync::Cache;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
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
    /// A trial line (players show it as such).
    pub is_trial: bool,
    /// The channel categories this subscriber gets; `None` for all.
    pub categories: Option<Vec<i64>>,
}

/// How long an entry is trusted without a reload; it is dropped then.
pub const MAX_AGE: Duration = Duration::from_secs(30);

/// The cache itself; one per [`Core`].
#[derive(Debug)]
pub(crate) struct AccessCache {
    /// Username → the subscriber, or `None` for a username that does not exist.
    entries: Cache<String, Option<Arc<Access>>>,
    /// Token hash → username, so token logins find their entry without a query.
    tokens: Cache<[u8; 32], String>,
    /// Subscriber rows read from the database, for [`Core::access_cache_stats`].
    loads: AtomicU64,
    /// Bumped by every [`forget`](Self::forget) and [`clear`](Self::clear).
    changes: AtomicU64,
}

/// What the login cache holds, for benchmarks and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessCacheStats {
    /// Usernames (known or not) held now.
    pub entries: u64,
    /// Lookups of a username in the database since start.
    pub loads: u64,
}

impl AccessCache {
    pub(crate) fn new(capacity: u64) -> AccessCache {
        AccessCache {
            entries: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(MAX_AGE)
                .build(),
            tokens: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(MAX_AGE)
                .build(),
            loads: AtomicU64::new(0),
            changes: AtomicU64::new(0),
        }
    }

    /// Drops what is cached for `username`, known or unknown until now.
    pub(crate) fn forget(&self, username: &str) {
        self.changes.fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate(username);
    }

    pub(crate) fn clear(&self) {
        self.changes.fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate_all();
        self.tokens.invalidate_all();
    }

    /// Frees the memory of expired and evicted entries now rather than on the next lookups.
    pub(crate) fn drop_expired(&self) {
        self.entries.run_pending_tasks();
        self.tokens.run_pending_tasks();
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
        Ok(match self.access_for(username).await? {
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
        let username = match self.access.tokens.get(&given) {
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
        let access = self.access_for(&username).await?;
        // A reset token still maps to its old owner here; the owner's current token decides.
        Ok(access.filter(|a| bool::from(a.token_sha.ct_eq(&given))))
    }

    /// How many usernames the login cache holds and how often it went to the database.
    pub fn access_cache_stats(&self) -> AccessCacheStats {
        self.access.drop_expired();
        AccessCacheStats {
            entries: self.access.entries.entry_count(),
            loads: self.access.loads.load(Ordering::Relaxed),
        }
    }

    /// The cached entry for `username`, loaded on a miss; `None` if there is no such subscriber.
    async fn access_for(&self, username: &str) -> Result<Option<Arc<Access>>> {
        if let Some(entry) = self.access.entries.get(username) {
            return Ok(entry);
        }
        // A name that cannot have been stored is not looked up, nor cached: it would only let
        // a guesser fill the cache with long junk keys.
        if Username::parse(username).is_ok_and(|u| u.as_str() == username) {
            let changes = &self.access.changes;
            let before = changes.load(Ordering::SeqCst);
            let found = self.load_access(username).await?;
            self.access
                .entries
                .insert(username.to_string(), found.clone());
            // A change during the load may have read the row before it: drop what we cached.
            if changes.load(Ordering::SeqCst) != before {
                self.access.entries.invalidate(username);
            }
            Ok(found)
        } else {
            Ok(None)
        }
    }

    async fn load_access(&self, username: &str) -> Result<Option<Arc<Access>>> {
        type Row = (
            i64,
            String,
            String,
            String,
            i64,
            i64,
            i64,
            i64,
            Option<i64>,
            i64,
        );
        self.access.loads.fetch_add(1, Ordering::Relaxed);
        let mut conn = self.db.read().acquire().await?;
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, username, password_enc, token_hash, expires_at, active, max_connections, created_at, reseller_id, \
             is_trial FROM subscribers WHERE username = $1",
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
            is_trial,
        )) = row
        else {
            return Ok(None);
        };
        let password = self.cipher.decrypt(&username, &password_enc)?;
        Ok(Some(Arc::new(Access {
            password_sha: sha(&password),
            token_sha: hex::decode(&token_hash)
                .ok()
                .and_then(|b| b.try_into().ok())
                .unwrap_or_default(),
            expires_at: to_time(expires_at),
            active: active != 0,
            max_connections,
            created_at: to_time(created_at),
            is_trial: is_trial != 0,
            categories: crate::bouquets::allowed_categories(&mut conn, id, reseller).await?,
            username,
        })))
    }
}
