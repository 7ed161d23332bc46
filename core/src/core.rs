use crate::actor::Actor;
use crate::deployment;
use crate::domain::{ResellerId, TelegramId};
use crate::{CredentialCipher, Db, Result};
use std::sync::Arc;

/// The business rules over one database. Cheap to clone; every front end holds one.
#[derive(Clone, Debug)]
pub struct Core {
    pub(crate) db: Db,
    pub(crate) cipher: Arc<CredentialCipher>,
    pub(crate) policy: Arc<Policy>,
    pub(crate) access: Arc<crate::access::AccessCache>,
    pub(crate) sessions: Arc<crate::connections::Sessions>,
    pub(crate) channel_index: Arc<crate::channels::ChannelIndex>,
    pub(crate) bus: Arc<crate::bus::Bus>,
    /// API keys verified recently (`api_keys`).
    pub(crate) api_keys: Arc<crate::api_keys::VerifiedKeys>,
    /// This process among the instances sharing the database: the owner of the leases it
    /// takes on outbox work, and the name in its logs and metrics.
    pub(crate) instance: Arc<str>,
}

/// How this instance's credentials key compares with the one the database was first used with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyClaim {
    /// The database had no key yet: ours is now recorded.
    First,
    /// Ours is the recorded key.
    Same,
    /// Another key was recorded first; `recorded` is its fingerprint.
    Different { recorded: String },
}

/// Tunable rules, from configuration.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Length of generated subscriber passwords.
    pub password_length: usize,
    /// How long an invite link stays valid.
    pub invite_ttl: chrono::Duration,
    /// `max_connections` of the subscribers admins create for themselves (a reseller's come
    /// from their template or override).
    pub default_max_connections: i64,
    /// A subscriber expiring within this many days counts as “expiring soon”.
    pub expiring_soon_days: i64,
    /// How long a `/trial` without hours lasts (at most [`crate::ops::TRIAL_MAX_HOURS`]).
    pub trial_default_hours: i64,
    /// Whether subscriber changes are pushed to an external streaming panel.
    pub sync_enabled: bool,
    /// Usernames the players' login cache holds at most (about 750 bytes each).
    pub access_cache_capacity: u64,
    /// Failed player logins one client address may make in a row; after them one more per
    /// `failed_login_interval`, and until then even the right password waits.
    pub failed_login_burst: u32,
    pub failed_login_interval: std::time::Duration,
    /// How long a claimed sync job stays this instance's unless renewed (longer than a request
    /// to the panel), and a claimed batch of notifications (see `lease`).
    pub sync_lease: std::time::Duration,
    pub notification_lease: std::time::Duration,
    /// How the channel import recognises movies and series besides their URLs.
    pub catalogue: crate::catalogue::Prefixes,
    /// When digests go out, what they cover, and the default time zone.
    pub notifications: crate::digest::NotificationPolicy,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            password_length: 10,
            invite_ttl: chrono::Duration::hours(72),
            default_max_connections: 3,
            expiring_soon_days: 7,
            trial_default_hours: 24,
            sync_enabled: false,
            access_cache_capacity: 50_000,
            failed_login_burst: 20,
            failed_login_interval: std::time::Duration::from_secs(1),
            sync_lease: std::time::Duration::from_secs(60),
            notification_lease: std::time::Duration::from_secs(30),
            catalogue: crate::catalogue::Prefixes::default(),
            notifications: Default::default(),
        }
    }
}

impl Core {
    pub fn new(db: Db, cipher: CredentialCipher, policy: Policy) -> Core {
        Core {
            db,
            cipher: Arc::new(cipher),
            access: Arc::new(crate::access::AccessCache::new(
                policy.access_cache_capacity,
            )),
            policy: Arc::new(policy),
            sessions: Default::default(),
            channel_index: Default::default(),
            bus: Default::default(),
            api_keys: Default::default(),
            instance: format!(
                "{}-{}",
                std::process::id(),
                crate::secrets::random_string(b"abcdefghijklmnopqrstuvwxyz0123456789", 8)
            )
            .into(),
        }
    }

    /// This instance's name, unique among the processes sharing the database (and across
    /// restarts of one of them).
    pub fn instance_id(&self) -> &str {
        &self.instance
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The fingerprint of the credentials key (a hash, never the key).
    pub fn credentials_fingerprint(&self) -> &str {
        self.cipher.fingerprint()
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Makes the admins table exactly the configured list: listed ids are added, others removed.
    /// Idempotent and safe to run from many instances starting at once: inserts that find the
    /// row do nothing, and every instance inserts in the same (sorted) order before deleting,
    /// so two start-ups neither collide nor deadlock.
    pub async fn sync_admins(&self, ids: &[TelegramId]) -> Result<()> {
        let mut ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
        ids.sort_unstable();
        ids.dedup();
        let now = now();
        let mut tx = self.db.begin_write().await?;
        for id in &ids {
            sqlx::query(
                "INSERT INTO admins (telegram_id, created_at) VALUES ($1, $2) \
                 ON CONFLICT (telegram_id) DO NOTHING",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let listed = (1..=ids.len())
            .map(|n| format!("${n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let delete = if ids.is_empty() {
            "DELETE FROM admins".to_string()
        } else {
            format!("DELETE FROM admins WHERE telegram_id NOT IN ({listed})")
        };
        let mut query = sqlx::query(&delete);
        for id in &ids {
            query = query.bind(id);
        }
        query.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records this instance's credentials key fingerprint if the database has none yet, else
    /// compares it with the recorded one: every instance on a database must hold the key its
    /// stored passwords were encrypted with, or each would write credentials the others cannot
    /// read.
    pub async fn claim_credentials_key(&self) -> Result<KeyClaim> {
        let ours = self.cipher.fingerprint();
        let recorded = crate::deployment::record_first(
            &self.db,
            deployment::CREDENTIALS_KEY_FINGERPRINT,
            ours,
        )
        .await?;
        Ok(match recorded {
            None => KeyClaim::First,
            Some(r) if r == ours => KeyClaim::Same,
            Some(r) => KeyClaim::Different { recorded: r },
        })
    }

    /// Who a Telegram user is to us, if anyone. Also records when a reseller was last seen.
    pub async fn identify(&self, telegram_id: TelegramId) -> Result<Option<Actor>> {
        let is_admin: Option<i64> =
            sqlx::query_scalar("SELECT telegram_id FROM admins WHERE telegram_id = $1")
                .bind(telegram_id.0)
                .fetch_optional(self.db.read())
                .await?;
        if is_admin.is_some() {
            return Ok(Some(Actor::Admin(telegram_id)));
        }
        let reseller: Option<i64> =
            sqlx::query_scalar("SELECT id FROM resellers WHERE telegram_id = $1")
                .bind(telegram_id.0)
                .fetch_optional(self.db.read())
                .await?;
        Ok(reseller.map(|id| Actor::Reseller(ResellerId(id))))
    }

    /// Telegram ids of the admins, for messages every admin must see.
    pub async fn admin_ids(&self) -> Result<Vec<i64>> {
        Ok(
            sqlx::query_scalar("SELECT telegram_id FROM admins ORDER BY telegram_id")
                .fetch_all(self.db.read())
                .await?,
        )
    }

    /// The Telegram id a reseller linked, if any.
    pub async fn reseller_telegram_id(&self, reseller_id: i64) -> Result<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT telegram_id FROM resellers WHERE id = $1")
                .bind(reseller_id)
                .fetch_optional(self.db.read())
                .await?
                .flatten(),
        )
    }

    /// Notes that a reseller used the bot; best effort, for the admins' overview.
    pub async fn touch_reseller(&self, id: ResellerId) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query("UPDATE resellers SET last_seen_at = $1 WHERE id = $2")
            .bind(now())
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The current time as stored: Unix seconds, UTC.
pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Stored seconds back to a date, for display.
pub(crate) fn to_time(secs: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default()
}
