//! The `resellerbot` application: configuration, start-up, and the wiring of core, the bot and
//! the HTTP server. `main.rs` is only the command line over this.

pub mod settings;

use anyhow::Context as _;
use reseller_core::domain::TelegramId;
use reseller_core::{Core, CredentialCipher, Db};
use settings::Settings;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Connects to the configured database and applies pending migrations.
pub async fn open_database(settings: &Settings) -> anyhow::Result<Db> {
    let db = Db::connect(&settings.database_url, settings.database_max_connections)
        .await
        .with_context(|| {
            format!(
                "could not open the database {}",
                settings::redact_url(&settings.database_url)
            )
        })?;
    db.migrate()
        .await
        .context("could not apply the database migrations")?;
    Ok(db)
}

/// The credentials key from `CREDENTIALS_KEY`, else from the key file, created on first run.
pub fn credentials_cipher(settings: &Settings) -> anyhow::Result<CredentialCipher> {
    if let Some(key) = &settings.credentials_key {
        return CredentialCipher::from_base64(key)
            .map_err(|e| anyhow::anyhow!("CREDENTIALS_KEY is invalid: {e}"));
    }
    let path = &settings.credentials_key_file;
    if !path.exists() {
        write_new_key(path)?;
        tracing::warn!(path = %path.display(), "generated a new credentials key; back it up together with the database");
    }
    let key = std::fs::read_to_string(path)
        .with_context(|| format!("could not read the credentials key {}", path.display()))?;
    CredentialCipher::from_base64(&key)
        .map_err(|e| anyhow::anyhow!("the credentials key in {} is invalid: {e}", path.display()))
}

fn write_new_key(path: &Path) -> anyhow::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("could not create {}", path.display()))?;
    file.write_all(CredentialCipher::generate_key().as_bytes())?;
    Ok(())
}

/// A built application: database open, admins synced, HTTP port bound. [`Application::run`]
/// starts answering.
pub struct Application {
    core: Core,
    listener: TcpListener,
    bot: reseller_bot::BotSettings,
    payments: reseller_webhooks::PaymentSecrets,
    server: reseller_webhooks::ServerInfo,
    sync: Option<(reseller_webhooks::sync::Backend, std::time::Duration)>,
    payment_replay_after: std::time::Duration,
}

impl Application {
    pub async fn build(settings: &Settings) -> anyhow::Result<Application> {
        let token = settings
            .require_bot_token()
            .map_err(anyhow::Error::msg)?
            .to_string();
        let admins = settings.require_admins().map_err(anyhow::Error::msg)?;
        let cipher = credentials_cipher(settings)?;
        let core = Core::new(open_database(settings).await?, cipher, settings.policy());
        let admins: Vec<TelegramId> = admins.iter().copied().map(TelegramId).collect();
        core.sync_admins(&admins)
            .await
            .context("could not record the admins")?;
        let listener = TcpListener::bind(settings.http_addr)
            .await
            .with_context(|| format!("could not listen on HTTP_ADDR {}", settings.http_addr))?;
        let bot = reseller_bot::BotSettings {
            token,
            api_url: settings.telegram_api_url.clone(),
            actions_per_minute: settings.rate_limit.actions_per_minute,
            action_burst: settings.rate_limit.burst,
            stars_enabled: settings.stars_enabled,
            manual_instructions: settings.manual_payment_instructions.clone(),
            checkout: settings.checkout(),
            import: settings.playlist_import(),
        };
        Ok(Application {
            core,
            listener,
            bot,
            payments: settings.payment_secrets(),
            server: reseller_webhooks::ServerInfo::from_url(&settings.stream_url),
            payment_replay_after: std::time::Duration::from_secs(
                settings.payment_replay_after_secs,
            ),
            sync: settings
                .sync_backend()
                .map_err(anyhow::Error::msg)?
                .map(|b| {
                    (
                        b,
                        std::time::Duration::from_secs_f64(settings.sync_retry_base_secs.max(0.05)),
                    )
                }),
        })
    }

    /// Where the HTTP server listens (useful with port 0).
    pub fn http_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn core(&self) -> &Core {
        &self.core
    }

    /// Runs the bot and the HTTP server until `stop` completes or one of them fails.
    pub async fn run(self, stop: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let (tx, rx) = watch::channel(false);
        let stopped = move || {
            let mut rx = rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        // Other instances' changes to what this one keeps in memory (PostgreSQL only), heard
        // from before the first request.
        let listener = self
            .core
            .listen_for_changes()
            .await
            .context("could not listen for other instances' changes")?
            .map(|l| tokio::spawn(l.run(stopped())));
        let http = tokio::spawn(reseller_webhooks::serve(
            self.listener,
            self.core.clone(),
            self.payments,
            self.server,
            stopped(),
        ));
        let sync = self.sync.map(|(backend, retry)| {
            tokio::spawn(reseller_webhooks::sync::run(
                self.core.clone(),
                backend,
                retry,
                stopped(),
            ))
        });
        let replay = tokio::spawn(reseller_webhooks::replay_payments(
            self.core.clone(),
            self.payment_replay_after,
            stopped(),
        ));
        let bot = tokio::spawn(reseller_bot::run(self.core.clone(), self.bot, stopped()));
        let trigger = tx.clone();
        tokio::spawn(async move {
            stop.await;
            let _ = trigger.send(true);
        });
        let bot_result = bot.await.context("the bot task panicked")?;
        // However the bot ended, the HTTP server goes with it.
        let _ = tx.send(true);
        if let Some(sync) = sync {
            sync.await.context("the sync task panicked")?;
        }
        replay.await.context("the payment replay task panicked")?;
        if let Some(listener) = listener {
            listener
                .await
                .context("the change listener task panicked")?;
        }
        http.await
            .context("the HTTP task panicked")?
            .context("the HTTP server failed")?;
        self.core.db().close().await;
        bot_result.map_err(anyhow::Error::msg)
    }
}
