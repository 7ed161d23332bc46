//! Configuration: the built-in `config/default.toml`, then an optional file named by
//! `RESELLERBOT_CONFIG`, then environment variables; one typed [`Settings`], checked at start.

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Deserializer};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;

const DEFAULTS: &str = include_str!("../config/default.toml");

/// Top-level keys that are read from plain upper-case environment variables.
const ENV_KEYS: [&str; 38] = [
    "trusted_proxies",
    "bot_token",
    "bot_mode",
    "telegram_webhook_url",
    "telegram_webhook_secret",
    "telegram_webhook_max_connections",
    "telegram_delete_webhook",
    "sync_backend",
    "sync_xtream_url",
    "sync_xtream_access_path",
    "sync_xtream_api_key",
    "sync_webhook_url",
    "sync_webhook_secret",
    "stream_url",
    "stripe_secret_key",
    "stripe_api_url",
    "btcpay_url",
    "btcpay_api_key",
    "btcpay_store_id",
    "nowpayments_api_key",
    "nowpayments_api_url",
    "cryptomus_merchant_id",
    "cryptomus_api_url",
    "public_url",
    "stars_enabled",
    "stripe_webhook_secret",
    "stripe_webhook_secret_previous",
    "btcpay_webhook_secret",
    "nowpayments_ipn_secret",
    "cryptomus_payment_key",
    "telegram_api_url",
    "database_url",
    "admin_telegram_ids",
    "http_addr",
    "credentials_key",
    "credentials_key_file",
    "database_max_connections",
    "metrics_token",
];

#[derive(Clone, Deserialize)]
pub struct Settings {
    pub bot_token: Option<String>,
    /// How updates arrive: `polling` or `webhook`.
    pub bot_mode: String,
    /// Webhook mode: the public base URL of this server that Telegram delivers updates to.
    pub telegram_webhook_url: Option<String>,
    /// Webhook mode: the secret token Telegram sends with every update.
    pub telegram_webhook_secret: Option<String>,
    /// Webhook mode: how many connections Telegram may open at once to deliver updates.
    pub telegram_webhook_max_connections: u32,
    /// Polling mode: delete a webhook set for the bot instead of refusing to start.
    pub telegram_delete_webhook: bool,
    pub telegram_api_url: url::Url,
    pub database_url: String,
    pub database_max_connections: u32,
    #[serde(deserialize_with = "telegram_ids")]
    pub admin_telegram_ids: Vec<i64>,
    pub http_addr: SocketAddr,
    pub credentials_key: Option<String>,
    pub credentials_key_file: PathBuf,
    pub log: String,
    pub stripe_webhook_secret: Option<String>,
    /// The previous Stripe secret, still accepted while a rotation is under way.
    pub stripe_webhook_secret_previous: Option<String>,
    pub stripe_tolerance_secs: i64,
    pub btcpay_webhook_secret: Option<String>,
    pub nowpayments_ipn_secret: Option<String>,
    pub cryptomus_payment_key: Option<String>,
    pub stars_enabled: bool,
    pub manual_payment_instructions: String,
    /// `builtin` (no sync), `xtream` or `webhook`.
    pub sync_backend: String,
    pub sync_xtream_url: Option<String>,
    pub sync_xtream_access_path: String,
    pub sync_xtream_api_key: Option<String>,
    pub sync_webhook_url: Option<String>,
    pub sync_webhook_secret: Option<String>,
    /// First retry delay of a failed sync, in seconds; it doubles per attempt.
    pub sync_retry_base_secs: f64,
    /// How long a claimed sync job stays this instance's unless renewed; longer than a request
    /// to the panel (20 s), so a live worker never loses a job in flight.
    pub sync_lease_secs: u64,
    /// How long a claimed batch of notifications stays this instance's unless renewed.
    pub notification_lease_secs: u64,
    /// A stored payment event still unapplied this many seconds after it arrived is applied by
    /// the replay worker.
    pub payment_replay_after_secs: u64,
    /// On SIGTERM or Ctrl-C, how long work in flight may take to finish before it is abandoned.
    pub shutdown_grace_secs: u64,
    /// Where players reach the streams, reported in `player_api.php`'s server_info.
    pub stream_url: url::Url,
    /// Reverse proxies in front of the HTTP server (comma-separated addresses and networks),
    /// whose `X-Forwarded-For` names the player.
    pub trusted_proxies: String,
    /// The public base URL of this server, for providers that take a callback per payment.
    pub public_url: Option<String>,
    pub stripe_secret_key: Option<String>,
    pub stripe_api_url: String,
    pub btcpay_url: Option<String>,
    pub btcpay_api_key: Option<String>,
    pub btcpay_store_id: Option<String>,
    pub nowpayments_api_key: Option<String>,
    pub nowpayments_api_url: String,
    pub cryptomus_merchant_id: Option<String>,
    pub cryptomus_api_url: String,
    pub policy: PolicySettings,
    pub rate_limit: RateLimitSettings,
    pub api: ApiSettings,
    pub channels: ChannelSettings,
    pub epg: EpgSettings,
    pub notifications: NotificationSettings,
    /// Bearer token `/metrics` requires; open when unset.
    pub metrics_token: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PolicySettings {
    pub password_length: usize,
    pub invite_ttl_hours: i64,
    pub default_max_connections: i64,
    pub expiring_soon_days: i64,
    /// How long a `/trial` without hours lasts.
    pub trial_default_hours: i64,
    pub access_cache_capacity: u64,
    pub failed_login_burst: NonZeroU32,
    pub failed_login_wait_secs: NonZeroU32,
}

/// `/channels import`: how large a playlist may be, which non-public hosts may be read, and
/// which `group-title` prefixes mark movies and series (besides `/movie/` and `/series/` URLs).
#[derive(Clone, Debug, Deserialize)]
pub struct ChannelSettings {
    pub max_playlist_mb: usize,
    pub import_allow_hosts: Vec<String>,
    pub vod_group_prefixes: Vec<String>,
    pub series_group_prefixes: Vec<String>,
}

/// The programme guide: how often its URL is fetched, how large it may be, what is kept.
#[derive(Clone, Debug, Deserialize)]
pub struct EpgSettings {
    pub refresh_hours: u64,
    pub max_mb: u64,
    pub days_back: u64,
    pub days_ahead: u64,
}

/// Scheduled notifications: the local hour of the daily expiry digest (and the admins'
/// summary), how many days ahead it looks, and the time zone of resellers who set none.
#[derive(Clone, Debug, Deserialize)]
pub struct NotificationSettings {
    pub digest_hour: u32,
    pub digest_days: i64,
    pub default_time_zone: String,
}

impl NotificationSettings {
    fn policy(&self) -> Result<reseller_core::digest::NotificationPolicy, String> {
        reseller_core::digest::NotificationPolicy::new(
            self.digest_hour,
            self.digest_days,
            &self.default_time_zone,
        )
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct RateLimitSettings {
    pub actions_per_minute: NonZeroU32,
    pub burst: NonZeroU32,
}

/// The reseller API's request rate per key, in each instance.
#[derive(Clone, Debug, Deserialize)]
pub struct ApiSettings {
    pub requests_per_minute: NonZeroU32,
    pub burst: NonZeroU32,
}

/// Secrets never reach logs: the token, the keys (the panel's too) and any password in the
/// database URL are hidden.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        f.debug_struct("Settings")
            .field("bot_token", &hidden(&self.bot_token))
            .field("telegram_api_url", &self.telegram_api_url.as_str())
            .field("bot_mode", &self.bot_mode().ok())
            .field("database_url", &redact_url(&self.database_url))
            .field("admin_telegram_ids", &self.admin_telegram_ids)
            .field("http_addr", &self.http_addr)
            .field("credentials_key", &hidden(&self.credentials_key))
            .field("credentials_key_file", &self.credentials_key_file)
            .field("payments", &self.payment_secrets())
            .field("sync", &self.sync_backend().ok().flatten())
            .field("policy", &self.policy)
            .field("rate_limit", &self.rate_limit)
            .field("api", &self.api)
            .field("channels", &self.channels)
            .field("epg", &self.epg)
            .field("notifications", &self.notifications)
            .field("metrics_token", &hidden(&self.metrics_token))
            .finish()
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

impl Settings {
    /// Reads the layers described in `config/default.toml`. The error is one line saying what
    /// is wrong and how to fix it.
    pub fn load() -> Result<Settings, String> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        if let Ok(path) = std::env::var("RESELLERBOT_CONFIG") {
            if !std::path::Path::new(&path).exists() {
                return Err(format!(
                    "RESELLERBOT_CONFIG names {path}, which does not exist"
                ));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(Env::raw().only(&ENV_KEYS)).merge(
            Env::prefixed("RESELLERBOT_")
                .split("__")
                .ignore(&["config"]),
        );
        let settings: Settings = figment.extract().map_err(|e| explain(&e))?;
        settings.check()?;
        Ok(settings)
    }

    /// The built-in defaults alone, for tests that then set what they need.
    pub fn defaults() -> Settings {
        Figment::from(Toml::string(DEFAULTS))
            .extract()
            .expect("config/default.toml is valid")
    }

    /// Where players reach the streams, and the proxies in front of this server.
    pub fn server_info(&self) -> Result<reseller_webhooks::ServerInfo, String> {
        let proxies = reseller_webhooks::TrustedProxies::parse(&self.trusted_proxies)
            .map_err(|e| format!("TRUSTED_PROXIES: {e}"))?;
        let api = reseller_webhooks::ApiLimits {
            requests_per_minute: self.api.requests_per_minute,
            burst: self.api.burst,
            actions: reseller_core::ratelimit::ActionBudget {
                per_minute: self.rate_limit.actions_per_minute,
                burst: self.rate_limit.burst,
            },
        };
        Ok(reseller_webhooks::ServerInfo::from_url(&self.stream_url)
            .behind(proxies)
            .with_api(api))
    }

    /// The panel to push subscriber changes to; `None` for the built-in backend.
    pub fn sync_backend(&self) -> Result<Option<reseller_webhooks::sync::Backend>, String> {
        use reseller_webhooks::sync::Backend;
        let set = |o: &Option<String>| {
            o.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        match self.sync_backend.as_str() {
            "builtin" => Ok(None),
            "xtream" => match (set(&self.sync_xtream_url), set(&self.sync_xtream_api_key)) {
                (Some(base_url), Some(api_key)) => Ok(Some(Backend::Xtream {
                    base_url,
                    access_path: self.sync_xtream_access_path.clone(),
                    api_key,
                })),
                _ => {
                    Err("SYNC_BACKEND=xtream needs SYNC_XTREAM_URL and SYNC_XTREAM_API_KEY".into())
                }
            },
            "webhook" => match (set(&self.sync_webhook_url), set(&self.sync_webhook_secret)) {
                (Some(url), Some(secret)) => Ok(Some(Backend::Webhook { url, secret })),
                _ => Err(
                    "SYNC_BACKEND=webhook needs SYNC_WEBHOOK_URL and SYNC_WEBHOOK_SECRET".into(),
                ),
            },
            other => Err(format!(
                "SYNC_BACKEND must be builtin, xtream or webhook; it is “{other}”"
            )),
        }
    }

    /// How the bot receives updates; webhook mode needs its URL and secret.
    pub fn bot_mode(&self) -> Result<reseller_bot::BotMode, String> {
        use reseller_bot::{BotMode, WebhookSettings};
        match self.bot_mode.as_str() {
            "polling" => Ok(BotMode::Polling {
                delete_webhook: self.telegram_delete_webhook,
            }),
            "webhook" => {
                let set = |o: &Option<String>| {
                    o.as_deref()
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                };
                let (Some(url), Some(secret)) = (
                    set(&self.telegram_webhook_url),
                    set(&self.telegram_webhook_secret),
                ) else {
                    return Err(
                        "BOT_MODE=webhook needs TELEGRAM_WEBHOOK_URL (this server's public \
                                base URL, e.g. https://bot.example.com) and \
                                TELEGRAM_WEBHOOK_SECRET (e.g. from `openssl rand -hex 32`)"
                            .into(),
                    );
                };
                let base_url: url::Url = url.parse().map_err(|e| {
                    format!(
                        "TELEGRAM_WEBHOOK_URL is not a URL ({e}); use e.g. https://bot.example.com"
                    )
                })?;
                if !matches!(base_url.scheme(), "https" | "http") {
                    return Err(format!(
                        "TELEGRAM_WEBHOOK_URL must be an https:// URL (http:// only behind a proxy), it is {}://…",
                        base_url.scheme()
                    ));
                }
                if !(16..=256).contains(&secret.len())
                    || !secret
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                {
                    return Err(format!(
                        "TELEGRAM_WEBHOOK_SECRET must be 16 to 256 of the characters A-Z, a-z, \
                         0-9, _ and - (Telegram's rule; it is {} characters long); make one with \
                         `openssl rand -hex 32`",
                        secret.chars().count()
                    ));
                }
                let max_connections = u8::try_from(self.telegram_webhook_max_connections)
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| {
                        format!(
                            "TELEGRAM_WEBHOOK_MAX_CONNECTIONS must be from 1 to 100, it is {}",
                            self.telegram_webhook_max_connections
                        )
                    })?;
                Ok(BotMode::Webhook(WebhookSettings {
                    base_url,
                    secret,
                    max_connections,
                }))
            }
            other => Err(format!(
                "BOT_MODE must be polling or webhook; it is “{other}”"
            )),
        }
    }

    fn check(&self) -> Result<(), String> {
        self.sync_backend()?;
        self.server_info()?;
        self.bot_mode()?;
        self.notifications.policy()?;
        if !(8..=64).contains(&self.policy.password_length) {
            return Err(format!(
                "policy.password_length must be from 8 to 64, it is {}",
                self.policy.password_length
            ));
        }
        if !(1..=1024).contains(&self.channels.max_playlist_mb) {
            return Err(format!(
                "channels.max_playlist_mb must be from 1 to 1024, it is {}",
                self.channels.max_playlist_mb
            ));
        }
        for (name, value, max) in [
            ("epg.refresh_hours", self.epg.refresh_hours, 24 * 7),
            ("epg.max_mb", self.epg.max_mb, 4096),
            ("epg.days_back", self.epg.days_back, 30),
            ("epg.days_ahead", self.epg.days_ahead, 30),
        ] {
            if !(1..=max).contains(&value) {
                return Err(format!("{name} must be from 1 to {max}, it is {value}"));
            }
        }
        for (name, secs) in [
            ("sync_lease_secs", self.sync_lease_secs),
            ("notification_lease_secs", self.notification_lease_secs),
        ] {
            if !(3..=3600).contains(&secs) {
                return Err(format!(
                    "{name} must be from 3 to 3600 seconds, it is {secs}"
                ));
            }
        }
        let trial = self.policy.trial_default_hours;
        if !(1..=reseller_core::ops::TRIAL_MAX_HOURS).contains(&trial) {
            return Err(format!(
                "policy.trial_default_hours must be from 1 to {}, it is {trial}",
                reseller_core::ops::TRIAL_MAX_HOURS
            ));
        }
        if self.policy.invite_ttl_hours < 1 {
            return Err(format!(
                "policy.invite_ttl_hours must be at least 1, it is {}",
                self.policy.invite_ttl_hours
            ));
        }
        Ok(())
    }

    /// The bot token, required to serve.
    pub fn require_bot_token(&self) -> Result<&str, String> {
        match self.bot_token.as_deref().map(str::trim) {
            Some(t) if t.contains(':') => Ok(t),
            Some(_) => Err("BOT_TOKEN does not look like a bot token (it should be like 123456:ABC-DEF...); copy it again from @BotFather".into()),
            None => Err("BOT_TOKEN is not set: create a bot with @BotFather in Telegram and export BOT_TOKEN=<the token it gives you>".into()),
        }
    }

    /// At least one admin, required to serve.
    pub fn require_admins(&self) -> Result<&[i64], String> {
        if self.admin_telegram_ids.is_empty() {
            return Err("ADMIN_TELEGRAM_IDS is not set: export ADMIN_TELEGRAM_IDS=<your numeric Telegram user id> (comma-separated for several; @userinfobot tells you yours)".into());
        }
        Ok(&self.admin_telegram_ids)
    }

    /// The webhook secrets; a provider without one stays switched off.
    pub fn payment_secrets(&self) -> reseller_webhooks::PaymentSecrets {
        let set = |o: &Option<String>| {
            o.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        reseller_webhooks::PaymentSecrets {
            stripe: [
                &self.stripe_webhook_secret,
                &self.stripe_webhook_secret_previous,
            ]
            .into_iter()
            .filter_map(set)
            .collect(),
            stripe_tolerance_secs: self.stripe_tolerance_secs,
            btcpay: set(&self.btcpay_webhook_secret),
            nowpayments: set(&self.nowpayments_ipn_secret),
            cryptomus: set(&self.cryptomus_payment_key),
        }
    }

    /// The providers whose checkout can be created: each needs all of its API settings.
    pub fn checkout(&self) -> reseller_webhooks::providers::checkout::CheckoutSettings {
        use reseller_webhooks::providers::checkout::{
            Api, BtcPayApi, CheckoutSettings, CryptomusApi,
        };
        let set = |o: &Option<String>| {
            o.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let base = |u: &str| u.trim_end_matches('/').to_string();
        CheckoutSettings {
            public_url: set(&self.public_url),
            stripe: set(&self.stripe_secret_key).map(|key| Api {
                base_url: base(&self.stripe_api_url),
                key,
            }),
            btcpay: match (
                set(&self.btcpay_url),
                set(&self.btcpay_api_key),
                set(&self.btcpay_store_id),
            ) {
                (Some(url), Some(key), Some(store_id)) => Some(BtcPayApi {
                    base_url: base(&url),
                    key,
                    store_id,
                }),
                _ => None,
            },
            nowpayments: set(&self.nowpayments_api_key).map(|key| Api {
                base_url: base(&self.nowpayments_api_url),
                key,
            }),
            cryptomus: match (
                set(&self.cryptomus_merchant_id),
                set(&self.cryptomus_payment_key),
            ) {
                (Some(merchant_id), Some(payment_key)) => Some(CryptomusApi {
                    base_url: base(&self.cryptomus_api_url),
                    merchant_id,
                    payment_key,
                }),
                _ => None,
            },
        }
    }

    /// The token `/metrics` scrapers must send; blank means none.
    pub fn metrics_token(&self) -> Option<String> {
        self.metrics_token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
    }

    /// How `/channels import` reads playlists.
    pub fn playlist_import(&self) -> reseller_bot::ImportSettings {
        reseller_bot::ImportSettings {
            allow_hosts: self.channels.import_allow_hosts.clone(),
            max_bytes: self.channels.max_playlist_mb * 1024 * 1024,
        }
    }

    /// How the programme guide is fetched and kept (its hosts as for playlists).
    pub fn guide(&self) -> reseller_bot::GuideSettings {
        const DAY: u64 = 24 * 3600;
        let max_bytes = self.epg.max_mb * 1024 * 1024;
        reseller_bot::GuideSettings {
            import: reseller_bot::ImportSettings {
                allow_hosts: self.channels.import_allow_hosts.clone(),
                max_bytes: max_bytes as usize,
            },
            limits: reseller_core::epg::GuideLimits {
                back: std::time::Duration::from_secs(self.epg.days_back * DAY),
                ahead: std::time::Duration::from_secs(self.epg.days_ahead * DAY),
                max_bytes,
            },
            refresh: std::time::Duration::from_secs(self.epg.refresh_hours * 3600),
        }
    }

    pub fn policy(&self) -> reseller_core::Policy {
        let p = &self.policy;
        reseller_core::Policy {
            password_length: p.password_length,
            invite_ttl: chrono::Duration::hours(p.invite_ttl_hours),
            default_max_connections: p.default_max_connections,
            expiring_soon_days: p.expiring_soon_days,
            trial_default_hours: p.trial_default_hours,
            sync_enabled: self.sync_backend != "builtin",
            access_cache_capacity: p.access_cache_capacity,
            failed_login_burst: p.failed_login_burst.get(),
            failed_login_interval: std::time::Duration::from_secs(
                p.failed_login_wait_secs.get().into(),
            ),
            sync_lease: std::time::Duration::from_secs(self.sync_lease_secs),
            notification_lease: std::time::Duration::from_secs(self.notification_lease_secs),
            catalogue: reseller_core::catalogue::Prefixes {
                vod: self.channels.vod_group_prefixes.clone(),
                series: self.channels.series_group_prefixes.clone(),
            },
            // Checked at start (`check`); the default never fails.
            notifications: self.notifications.policy().unwrap_or_default(),
        }
    }
}

/// Names the setting the way the operator sets it, e.g. `HTTP_ADDR` rather than `http_addr`.
fn explain(e: &figment::Error) -> String {
    let key = e.path.join(".");
    let name = if ENV_KEYS.contains(&key.as_str()) {
        key.to_ascii_uppercase()
    } else if key.is_empty() {
        "the configuration".to_string()
    } else {
        format!(
            "{key} (env RESELLERBOT_{})",
            key.to_ascii_uppercase().replace('.', "__")
        )
    };
    format!("{name} is invalid: {}", e.kind)
}

/// Accepts `"1,2"`, `123` or `[1, 2]`.
fn telegram_ids<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(i64),
        Many(Vec<i64>),
        Text(String),
    }
    let ids = match Raw::deserialize(d)? {
        Raw::One(id) => vec![id],
        Raw::Many(ids) => ids,
        Raw::Text(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<i64>().map_err(|_| {
                    serde::de::Error::custom(format!(
                        "“{s}” is not a numeric Telegram user id; use e.g. 123456789,987654321"
                    ))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    if let Some(bad) = ids.iter().find(|id| **id <= 0) {
        return Err(serde::de::Error::custom(format!(
            "{bad} is not a Telegram user id (they are positive)"
        )));
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_pass_their_own_checks() {
        let s = Settings::defaults();
        assert_eq!(s.http_addr.to_string(), "127.0.0.1:8080");
        assert!(s.database_url.starts_with("sqlite://"));
        assert!(s.admin_telegram_ids.is_empty());
        assert!(s.check().is_ok());
        assert!(s.require_bot_token().unwrap_err().contains("@BotFather"));
    }

    #[test]
    fn admin_ids_accept_lists_and_refuse_junk() {
        let parse = |v: &str| {
            Figment::from(Toml::string(DEFAULTS))
                .merge(Toml::string(&format!("admin_telegram_ids = {v}")))
                .extract::<Settings>()
                .map(|s| s.admin_telegram_ids)
                .map_err(|e| explain(&e))
        };
        assert_eq!(parse("\"11, 22\"").unwrap(), vec![11, 22]);
        assert_eq!(parse("33").unwrap(), vec![33]);
        assert!(
            parse("\"11,abc\"")
                .unwrap_err()
                .contains("“abc” is not a numeric Telegram user id")
        );
        assert!(parse("-5").is_err());
    }

    #[test]
    fn webhook_mode_needs_its_url_and_a_telegram_shaped_secret() {
        let mut s = Settings::defaults();
        assert!(matches!(
            s.bot_mode(),
            Ok(reseller_bot::BotMode::Polling {
                delete_webhook: false
            })
        ));
        s.bot_mode = "webhook".into();
        assert!(s.bot_mode().unwrap_err().contains("TELEGRAM_WEBHOOK_URL"));
        s.telegram_webhook_url = Some("https://bot.example.com".into());
        s.telegram_webhook_secret = Some("short".into());
        assert!(s.bot_mode().unwrap_err().contains("5 characters long"));
        s.telegram_webhook_secret = Some("a".repeat(20) + "!");
        assert!(s.bot_mode().unwrap_err().contains("A-Z, a-z"));
        s.telegram_webhook_secret = Some("s3cret_s3cret-s3cret".into());
        s.telegram_webhook_max_connections = 101;
        assert!(
            s.bot_mode()
                .unwrap_err()
                .contains("from 1 to 100, it is 101")
        );
        s.telegram_webhook_max_connections = 7;
        assert!(s.check().is_ok());
        assert!(!format!("{s:?}").contains("s3cret"));
        s.bot_mode = "push".into();
        assert!(s.bot_mode().unwrap_err().contains("“push”"));
    }

    #[test]
    fn lease_lengths_reach_the_policy_and_are_bounded() {
        let mut s = Settings::defaults();
        let policy = s.policy();
        assert_eq!(
            (
                policy.sync_lease.as_secs(),
                policy.notification_lease.as_secs()
            ),
            (60, 30)
        );
        s.notification_lease_secs = 2;
        assert_eq!(
            s.check().unwrap_err(),
            "notification_lease_secs must be from 3 to 3600 seconds, it is 2"
        );
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let mut s = Settings::defaults();
        s.bot_token = Some("123:supersecret".into());
        s.database_url = "postgres://bot:hunter2@db/resellerbot".into();
        s.stripe_webhook_secret = Some("whsec_topsecret".into());
        s.sync_backend = "xtream".into();
        s.sync_xtream_url = Some("http://panel.example".into());
        s.sync_xtream_api_key = Some("xt_topsecret".into());
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("supersecret") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert!(
            shown.contains("panel.example") && !shown.contains("xt_topsecret"),
            "{shown}"
        );
    }
}
