//! The `resellerbot` application: configuration, start-up, and the wiring of core, the bot and
//! the HTTP server. `main.rs` is only the command line over this.

pub mod settings;

use anyhow::Context as _;
use reseller_core::domain::TelegramId;
use reseller_core::{Core, CredentialCipher, Db, KeyClaim, deployment};
use settings::Settings;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::OnceLock;
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

/// Where the credentials key came from, for the sentences that name it.
enum KeySource<'a> {
    Env,
    File(&'a Path),
    /// Generated into this file by this start.
    Generated(&'a Path),
}

/// The credentials key from `CREDENTIALS_KEY`, else from the key file, else a new one written
/// to the key file, checked against the fingerprint the database records.
///
/// The database remembers the fingerprint of the first key used with it, and an instance with
/// another key refuses to start: it would store passwords the others cannot read. A key file is
/// generated only for a database that has no key yet; for one that has, the key exists on the
/// first host alone, and the operator is told to bring it over. Requiring `CREDENTIALS_KEY` on
/// PostgreSQL instead would break single-instance deployments that rely on the key file, for
/// no gain: the fingerprint catches every instance that would disagree.
async fn core_with_checked_key(settings: &Settings, db: &Db) -> anyhow::Result<Core> {
    let path = &settings.credentials_key_file;
    let (cipher, source) = if let Some(key) = &settings.credentials_key {
        let cipher = CredentialCipher::from_base64(key)
            .map_err(|e| anyhow::anyhow!("CREDENTIALS_KEY is invalid: {e}"))?;
        (cipher, KeySource::Env)
    } else if path.exists() {
        let key = std::fs::read_to_string(path)
            .with_context(|| format!("could not read the credentials key {}", path.display()))?;
        let cipher = CredentialCipher::from_base64(&key).map_err(|e| {
            anyhow::anyhow!("the credentials key in {} is invalid: {e}", path.display())
        })?;
        (cipher, KeySource::File(path))
    } else {
        let recorded = deployment::recorded(db, deployment::CREDENTIALS_KEY_FINGERPRINT).await?;
        if let Some(recorded) = recorded {
            anyhow::bail!(no_key_here(path, &recorded));
        }
        write_new_key(path)?;
        let key = std::fs::read_to_string(path)
            .with_context(|| format!("could not read the credentials key {}", path.display()))?;
        let cipher = CredentialCipher::from_base64(&key)
            .map_err(|e| anyhow::anyhow!("the generated credentials key is invalid: {e}"))?;
        (cipher, KeySource::Generated(path))
    };
    let core = Core::new(db.clone(), cipher, settings.policy());
    match core
        .claim_credentials_key()
        .await
        .context("could not check the credentials key against the database")?
    {
        KeyClaim::First => {
            if let KeySource::Generated(path) = source {
                tracing::warn!(path = %path.display(), "generated a new credentials key; back it up together with the database, and give it (as CREDENTIALS_KEY) to every other instance on this database");
            }
        }
        KeyClaim::Same => {}
        KeyClaim::Different { recorded } => {
            let ours = core.credentials_fingerprint();
            match source {
                KeySource::Env => anyhow::bail!(mismatch("CREDENTIALS_KEY", ours, &recorded)),
                KeySource::File(path) => anyhow::bail!(mismatch(
                    &format!("the key in {}", path.display()),
                    ours,
                    &recorded
                )),
                KeySource::Generated(path) => {
                    // Another instance started first on this new database: the key we just
                    // wrote encrypts nothing, and keeping it would only stop the next start.
                    let _ = std::fs::remove_file(path);
                    anyhow::bail!(no_key_here(path, &recorded));
                }
            }
        }
    }
    Ok(core)
}

/// Enough of a fingerprint to tell keys apart in a sentence.
fn short(fingerprint: &str) -> &str {
    fingerprint.get(..16).unwrap_or(fingerprint)
}

fn mismatch(what: &str, ours: &str, recorded: &str) -> String {
    format!(
        "{what} (fingerprint {}) is not the key this database's subscriber passwords are encrypted with (fingerprint {}); every instance on one database needs the same key, so set CREDENTIALS_KEY to the key of the instance that first started on it (its CREDENTIALS_KEY, or the contents of its key file) and start again",
        short(ours),
        short(recorded)
    )
}

fn no_key_here(path: &Path, recorded: &str) -> String {
    format!(
        "CREDENTIALS_KEY is not set and there is no key file at {}, but this database's subscriber passwords are encrypted with a key (fingerprint {}) that was generated on the host that first started on it and is stored only there; set CREDENTIALS_KEY to that key (the contents of its key file) and start again. If that key is lost for good, the stored passwords cannot be shown again: delete the row credentials_key_fingerprint from the deployment table to start with a new key",
        path.display(),
        short(recorded)
    )
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

/// The process's Prometheus recorder, installed by the first application built: the `metrics`
/// facade takes one recorder per process, and tests build many applications in one. A thread
/// drains the histograms now and then, so they stay small between scrapes.
pub fn prometheus() -> &'static metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: OnceLock<metrics_exporter_prometheus::PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
            .set_buckets(reseller_core::metrics::LATENCY_BUCKETS)
            .expect("the latency buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics will stay empty");
        }
        let upkeep = handle.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        });
        handle
    })
}

/// A built application: database open, admins synced, HTTP port bound. [`Application::run`]
/// starts answering.
pub struct Application {
    core: Core,
    listener: TcpListener,
    bot: reseller_bot::BotSettings,
    payments: reseller_webhooks::PaymentSecrets,
    server: reseller_webhooks::ServerInfo,
    metrics: reseller_webhooks::MetricsEndpoint,
    sync: Option<(reseller_webhooks::sync::Backend, std::time::Duration)>,
    payment_replay_after: std::time::Duration,
    shutdown_grace: std::time::Duration,
}

impl Application {
    pub async fn build(settings: &Settings) -> anyhow::Result<Application> {
        let token = settings
            .require_bot_token()
            .map_err(anyhow::Error::msg)?
            .to_string();
        let admins = settings.require_admins().map_err(anyhow::Error::msg)?;
        let db = open_database(settings).await?;
        let core = core_with_checked_key(settings, &db).await?;
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
            checkout: reseller_webhooks::providers::checkout::checkouts(settings.checkout()),
            import: settings.playlist_import(),
            mode: settings.bot_mode().map_err(anyhow::Error::msg)?,
            guide: settings.guide(),
            stream_url: settings.stream_url.clone(),
        };
        Ok(Application {
            core,
            listener,
            bot,
            payments: settings.payment_secrets(),
            server: settings.server_info().map_err(anyhow::Error::msg)?,
            metrics: reseller_webhooks::MetricsEndpoint {
                // Installed now, before anything is counted; rendered at each scrape.
                render: std::sync::Arc::new({
                    let handle = prometheus();
                    move || handle.render()
                }),
                token: settings.metrics_token(),
            },
            payment_replay_after: std::time::Duration::from_secs(
                settings.payment_replay_after_secs,
            ),
            shutdown_grace: std::time::Duration::from_secs(settings.shutdown_grace_secs),
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

    /// Runs the bot, the HTTP server and the workers until `stop` completes or one of them
    /// ends. Then each stops taking new work (the bot polls no more updates, the server accepts
    /// no more connections, the workers claim no more jobs) and finishes what it has in hand;
    /// whatever is still running when the shutdown grace runs out is abandoned and named in
    /// the log, so a stuck request cannot hold a deploy.
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
            .context("could not listen for other instances' changes")?;
        let intake = reseller_bot::Intake::new(self.core.clone());
        // Whichever part ends first, for a failure or because it was stopped, the others go
        // with it.
        let part = |name: &'static str, work: BoxFuture| {
            let tx = tx.clone();
            (
                name,
                tokio::spawn(async move {
                    let result = work.await;
                    let _ = tx.send(true);
                    result
                }),
            )
        };
        let mut parts = vec![part(
            "the HTTP server",
            Box::pin({
                let served = reseller_webhooks::serve(
                    self.listener,
                    self.core.clone(),
                    self.payments,
                    self.server,
                    Some(self.metrics),
                    reseller_bot::webhook_routes(&self.bot, &intake),
                    stopped(),
                );
                async move { served.await.context("the HTTP server failed") }
            }),
        )];
        if let Some((backend, retry)) = self.sync {
            let sync = reseller_webhooks::sync::run(self.core.clone(), backend, retry, stopped());
            parts.push(part(
                "the sync worker",
                Box::pin(async move {
                    sync.await;
                    Ok(())
                }),
            ));
        }
        if let Some(listener) = listener {
            let heard = listener.run(stopped());
            parts.push(part(
                "the change listener",
                Box::pin(async move {
                    heard.await;
                    Ok(())
                }),
            ));
        }
        let replay = reseller_webhooks::replay_payments(
            self.core.clone(),
            self.payment_replay_after,
            stopped(),
        );
        parts.push(part(
            "the payment replay worker",
            Box::pin(async move {
                replay.await;
                Ok(())
            }),
        ));
        let guide = reseller_bot::guide::run(self.core.clone(), self.bot.guide.clone(), stopped());
        parts.push(part(
            "the programme guide worker",
            Box::pin(async move {
                guide.await;
                Ok(())
            }),
        ));
        let bot = reseller_bot::run(self.core.clone(), self.bot, intake, stopped());
        parts.push(part(
            "the bot",
            Box::pin(async move { bot.await.map_err(anyhow::Error::msg) }),
        ));
        let trigger = tx.clone();
        tokio::spawn(async move {
            stop.await;
            let _ = trigger.send(true);
        });

        let mut stopping = tx.subscribe();
        let _ = stopping.wait_for(|s| *s).await;
        let grace = self.shutdown_grace;
        tracing::info!(
            grace_secs = grace.as_secs_f64(),
            "stopping: finishing the work in flight"
        );
        let deadline = tokio::time::Instant::now() + grace;
        let mut abandoned = Vec::new();
        let mut first_error = None;
        for (name, mut task) in parts {
            match tokio::time::timeout_at(deadline, &mut task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => {
                    first_error.get_or_insert(e);
                }
                Ok(Err(panic)) => {
                    first_error.get_or_insert(anyhow::anyhow!("{name} panicked: {panic}"));
                }
                Err(_) => {
                    task.abort();
                    abandoned.push(name);
                }
            }
        }
        if !abandoned.is_empty() {
            tracing::warn!(
                grace_secs = grace.as_secs_f64(),
                abandoned = %abandoned.join(", "),
                "the shutdown grace ran out; abandoned the work still in flight"
            );
        }
        // Closing waits for connections in use; those of abandoned work are dropped with it.
        let closing_bound = deadline
            .saturating_duration_since(tokio::time::Instant::now())
            .max(std::time::Duration::from_secs(1));
        if tokio::time::timeout(closing_bound, self.core.db().close())
            .await
            .is_err()
        {
            tracing::warn!("the database pool did not close in time");
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// One part of the running application, boxed so the parts can be kept in one list.
type BoxFuture = std::pin::Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// `resellerbot backup FILE`: a consistent copy of the SQLite database, taken while the bot
/// runs (`VACUUM INTO` reads one snapshot). It never overwrites a file. PostgreSQL has its own
/// tools for this, which the error names.
pub async fn backup(settings: &Settings, dest: &Path) -> anyhow::Result<()> {
    let url = &settings.database_url;
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        anyhow::bail!(
            "backup copies SQLite databases, and DATABASE_URL is PostgreSQL: use pg_dump --format=custom --file={} \"$DATABASE_URL\" (and pg_restore to bring it back), as the README's backup section describes",
            dest.display()
        );
    }
    if dest.exists() {
        anyhow::bail!(
            "{} already exists; backup never overwrites a file, so name a new one",
            dest.display()
        );
    }
    let source = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .and_then(|rest| rest.split('?').next())
        .unwrap_or_default();
    if !Path::new(source).exists() {
        anyhow::bail!(
            "there is no database at {source} (DATABASE_URL), so there is nothing to back up"
        );
    }
    let db = Db::connect(url, 2).await.with_context(|| {
        format!(
            "could not open the database {}",
            settings::redact_url(&settings.database_url)
        )
    })?;
    let copied = db
        .backup_into(dest)
        .await
        .with_context(|| format!("could not write the backup to {}", dest.display()));
    db.close().await;
    copied
}
