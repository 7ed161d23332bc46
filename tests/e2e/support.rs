//! Boots the real application (the same `Application` that `resellerbot serve` runs) against the
//! fake Bot API and a fresh database, and plays users through it.

use crate::telegram::{FakeTelegram, Sent};
use reseller_core::Core;
use resellerbot::Application;
use resellerbot::settings::Settings;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;

/// The admin's Telegram user id in every test.
pub const ADMIN: i64 = 1_000;

/// The webhook secret token of apps started with [`TestApp::spawn_webhook`].
pub const WEBHOOK_SECRET: &str = "test-webhook-secret_0123456789";

/// Test settings against `tg` and a fresh database: polling, one admin, no rate limits.
pub async fn test_settings(tg: &FakeTelegram) -> Settings {
    let mut settings = Settings::defaults();
    settings.bot_token = Some("123456:TEST-TOKEN".into());
    settings.telegram_api_url = tg.url().parse().expect("fake URL parses");
    settings.database_url = reseller_core::testing::fresh_database_url().await;
    settings.database_max_connections = 5;
    settings.admin_telegram_ids = vec![ADMIN];
    settings.http_addr = "127.0.0.1:0".parse().expect("address parses");
    settings.credentials_key = Some(reseller_core::CredentialCipher::generate_key());
    settings.rate_limit.actions_per_minute = 10_000.try_into().expect("non-zero");
    settings.rate_limit.burst = 10_000.try_into().expect("non-zero");
    // The daily digests and summaries come at an hour twelve hours away, so none arrives in
    // the middle of a test that reads "the next message"; tests of them use `/digest now`.
    settings.notifications.digest_hour = (chrono::Timelike::hour(&chrono::Utc::now()) + 12) % 24;
    settings
}

/// With `RUST_LOG` set, the app's logs go to the test's output (shown when it fails).
fn log_when_asked() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

pub struct TestApp {
    pub tg: Arc<FakeTelegram>,
    pub http: SocketAddr,
    pub core: Core,
    settings: Settings,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Starts the app with test settings adjusted by `tweak`.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
        log_when_asked();
        let tg = Arc::new(FakeTelegram::start().await);
        let mut settings = test_settings(&tg).await;
        tweak(&mut settings);
        Self::boot(tg, settings).await
    }

    /// Starts the app in webhook mode with secret token [`WEBHOOK_SECRET`], its HTTP server on a
    /// port chosen beforehand so that the webhook URL can name it.
    pub async fn spawn_webhook(tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Self::spawn_with(|s| {
            s.bot_mode = "webhook".into();
            s.http_addr = SocketAddr::from(([127, 0, 0, 1], port));
            s.telegram_webhook_url = Some(format!("http://127.0.0.1:{port}"));
            s.telegram_webhook_secret = Some(WEBHOOK_SECRET.into());
            tweak(s);
        })
        .await
    }

    /// Starts the app with `settings` against `tg`; returns once it receives updates.
    pub async fn boot(tg: Arc<FakeTelegram>, settings: Settings) -> TestApp {
        // Whoever runs the bot has pressed Start in it; resellers start it through their invite.
        for admin in &settings.admin_telegram_ids {
            tg.start_chat(*admin);
        }
        let app = Application::build(&settings)
            .await
            .expect("application builds");
        let http = app.http_addr();
        let core = app.core().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run(async move {
            let _ = stopped.await;
        }));
        // The bot is up once it has asked Telegram for updates, or set its webhook.
        let method = if settings.bot_mode == "webhook" {
            "setWebhook"
        } else {
            "getUpdates"
        };
        let before = tg.calls(method);
        for _ in 0..1000 {
            if tg.calls(method) > before {
                return TestApp {
                    tg,
                    http,
                    core,
                    settings,
                    stop: Some(stop),
                    task: Some(task),
                };
            }
            if task.is_finished() {
                panic!("the app stopped during start-up: {:?}", task.await);
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the bot never asked Telegram for updates");
    }

    /// A second instance of the same deployment: its own process state (caches, sessions,
    /// workers, bot) over the same database and the same Bot API, as a second `resellerbot
    /// serve` behind a load balancer would be. Meaningful on PostgreSQL, the scale-out database.
    pub async fn peer(&self) -> TestApp {
        let app = Application::build(&self.settings)
            .await
            .expect("the second instance builds");
        let http = app.http_addr();
        let core = app.core().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run(async move {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::new();
        for _ in 0..1000 {
            if client
                .get(format!("http://{http}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return TestApp {
                    tg: self.tg.clone(),
                    http,
                    core,
                    settings: self.settings.clone(),
                    stop: Some(stop),
                    task: Some(task),
                };
            }
            if task.is_finished() {
                panic!(
                    "the second instance stopped during start-up: {:?}",
                    task.await
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the second instance never answered /healthz");
    }

    /// Stops the app the way a deploy does, and waits until it has.
    pub async fn stop(mut self) {
        self.shutdown().await;
    }

    /// Stops the app the way a deploy does, and starts it again on the same database.
    pub async fn restart(mut self) -> TestApp {
        self.shutdown().await;
        let settings = self.settings.clone();
        Self::boot(self.tg.clone(), settings).await
    }

    async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("app task joins")
                .expect("app stops cleanly");
        }
    }

    /// `text` from `user`; returns the first reply sent to them afterwards.
    pub async fn say(&self, user: i64, text: &str) -> Sent {
        self.say_expecting(user, text, "").await
    }

    /// `text` from `user`; returns the first reply afterwards that contains `needle`.
    pub async fn say_expecting(&self, user: i64, text: &str, needle: &str) -> Sent {
        let before = self.tg.sent().len();
        self.tg.send_text(user, text);
        self.tg.wait_for(user, before, needle).await
    }

    /// `user` presses the button labelled `label` on `message`; returns the next message or
    /// edit in their chat.
    pub async fn press(&self, user: i64, message: &Sent, label: &str) -> Sent {
        let before = self.tg.sent().len();
        self.tg
            .press(user, message.message_id, &message.button(label));
        self.tg.wait_for(user, before, "").await
    }

    /// Presses Confirm on every card at once; returns what each card was edited into, in order.
    pub async fn confirm_all(&self, cards: &[(i64, Sent)]) -> Vec<String> {
        let before = self.tg.sent().len();
        for (user, card) in cards {
            self.tg
                .press(*user, card.message_id, &card.button("Confirm"));
        }
        let mut outcomes = Vec::new();
        for (user, card) in cards {
            let edit = self.tg.wait_for_edit(*user, card.message_id, before).await;
            outcomes.push(edit.text);
        }
        outcomes
    }

    /// The admin creates reseller `name`, and Telegram user `telegram_id` opens the invite.
    pub async fn reseller(&self, name: &str, telegram_id: i64) {
        let created = self
            .say_expecting(ADMIN, &format!("/newreseller {name}"), "start=")
            .await;
        let code = invite_code(&created.text);
        let welcome = self.say(telegram_id, &format!("/start {code}")).await;
        assert!(welcome.text.contains("Welcome"), "{}", welcome.text);
    }

    /// The admin grants `days` credits to `name`, confirming the card.
    pub async fn grant(&self, name: &str, days: i64) {
        let card = self
            .say_expecting(ADMIN, &format!("/grant {name} {days}"), "Grant")
            .await;
        let done = self.press(ADMIN, &card, "Confirm").await;
        assert!(done.text.contains("Granted"), "{}", done.text);
        // The reseller is told too; let that arrive before the test's next exchange with them,
        // which would otherwise take it for the answer.
        self.outbox_drained().await;
    }

    /// Waits until every queued notification was sent (or refused for good).
    pub async fn outbox_drained(&self) {
        let open = "SELECT COUNT(*) FROM notifications WHERE sent_at IS NULL AND failed_at IS NULL";
        for _ in 0..1000 {
            if self.core.scalar_for_tests(open).await == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("notifications still queued after 10 s");
    }

    /// The balance `/balance` reports to reseller `user`.
    pub async fn balance(&self, user: i64) -> i64 {
        let reply = self.say_expecting(user, "/balance", "Balance").await;
        let digits: String = reply
            .text
            .split("<b>")
            .nth(1)
            .and_then(|s| s.split("</b>").next())
            .expect("balance is in bold")
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '-')
            .collect();
        digits.parse().expect("balance is a number")
    }

    /// Asserts the ledger invariants hold, as `resellerbot ledger verify` checks them.
    pub async fn assert_ledger_sound(&self) {
        let report = reseller_core::ledger::verify(self.core.db())
            .await
            .expect("verify runs");
        assert!(
            report.violations.is_empty(),
            "ledger violations: {:?}",
            report.violations
        );
    }

    /// The credentials key this app runs with (`CREDENTIALS_KEY`).
    pub fn credentials_key(&self) -> Option<&str> {
        self.settings.credentials_key.as_deref()
    }

    pub fn database_url(&self) -> &str {
        &self.settings.database_url
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The start code of the invite link in an admin's `/newreseller` or `/invite` reply.
pub fn invite_code(text: &str) -> String {
    text.split("start=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the reply has an invite link")
        .to_string()
}
