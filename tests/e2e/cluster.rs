//! Two real `resellerbot serve` processes on one PostgreSQL database, as an operator runs them
//! behind a load balancer: what one instance changes the other sees, limits hold across both,
//! outbox work is done once, and killing one loses nothing.
//!
//! PostgreSQL only: several instances are what the scale-out database is for, while SQLite is
//! one file for one process. On SQLite each test returns at once (the in-process two-instance
//! tests in the other modules still run there).

use crate::panel::{FakePanel, Mode};
use crate::support::{ADMIN, invite_code};
use crate::telegram::{FakeTelegram, Sent};
use reseller_core::domain::{Days, OperationId, TelegramId, Username};
use reseller_core::{Actor, Core};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Who the notifications in these tests are for.
const READER: i64 = 3_001;

/// One `resellerbot serve` process.
struct Instance {
    child: Child,
    http: SocketAddr,
    log: PathBuf,
}

impl Instance {
    /// Starts `serve` with the cluster's environment plus `extra`.
    fn spawn(cluster: &Cluster, extra: &[(&str, String)]) -> Instance {
        Self::spawn_at(cluster, free_port(), extra)
    }

    /// Starts `serve` listening on `http`.
    fn spawn_at(cluster: &Cluster, http: SocketAddr, extra: &[(&str, String)]) -> Instance {
        let log = std::env::temp_dir().join(format!(
            "resellerbot-cluster-{}-{}.log",
            std::process::id(),
            http.port()
        ));
        let child = Command::new(env!("CARGO_BIN_EXE_resellerbot"))
            .arg("serve")
            .env("BOT_TOKEN", "123456:TEST-TOKEN")
            .env("TELEGRAM_API_URL", cluster.tg.url())
            .env("DATABASE_URL", &cluster.db_url)
            .env("DATABASE_MAX_CONNECTIONS", "5")
            .env("ADMIN_TELEGRAM_IDS", ADMIN.to_string())
            .env("HTTP_ADDR", http.to_string())
            .env("CREDENTIALS_KEY", &cluster.key)
            .env("RESELLERBOT_SYNC_RETRY_BASE_SECS", "0.05")
            .env("RESELLERBOT_RATE_LIMIT__ACTIONS_PER_MINUTE", "10000")
            .env("RESELLERBOT_RATE_LIMIT__BURST", "10000")
            .env("RUST_LOG", "info,sqlx=warn")
            .envs(cluster.env.iter().map(|(k, v)| (*k, v.as_str())))
            .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("resellerbot starts");
        Instance { child, http, log }
    }

    /// Waits until the instance answers `/readyz`.
    async fn ready(&mut self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("instance exited with {status}: {}", self.log_text());
            }
            if client
                .get(format!("http://{}/readyz", self.http))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("instance never became ready: {}", self.log_text());
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no shutdown, no lease released, connections cut.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A port free now, for an instance's HTTP server (the instance binds it a moment later).
fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

/// The deployment: one database, one key, one fake Bot API, the instances.
struct Cluster {
    tg: Arc<FakeTelegram>,
    db_url: String,
    key: String,
    env: Vec<(&'static str, String)>,
    /// A `Core` of the test's own over the same database, for setting up and checking.
    core: Core,
}

impl Cluster {
    /// `None` on SQLite (see the module comment).
    async fn new(env: Vec<(&'static str, String)>, policy: reseller_core::Policy) -> Option<Self> {
        if std::env::var("TEST_DATABASE_URL").is_err() {
            return None;
        }
        let tg = Arc::new(FakeTelegram::start().await);
        tg.start_chat(ADMIN);
        let db_url = reseller_core::testing::fresh_database_url().await;
        let key = reseller_core::CredentialCipher::generate_key();
        let core = reseller_core::testing::core_at(&db_url, &key, policy).await;
        let admin = Actor::Admin(TelegramId(ADMIN));
        let playlist = reseller_core::channels::parse_m3u(
            "#EXTM3U\n#EXTINF:-1 group-title=\"News\",News One\nhttp://origin.example/1.ts\n",
        )
        .expect("playlist parses");
        core.import_channels(&admin, &playlist)
            .await
            .expect("channels imported");
        Some(Cluster {
            tg,
            db_url,
            key,
            env,
            core,
        })
    }

    /// Starts `n` instances at once and waits until all are ready.
    async fn start(&self, n: usize) -> Vec<Instance> {
        let mut instances: Vec<Instance> = (0..n).map(|_| Instance::spawn(self, &[])).collect();
        for i in &mut instances {
            i.ready().await;
        }
        instances
    }

    /// `n` notifications for `chat` in the outbox, as changes would leave them.
    async fn notifications_waiting(&self, chat: i64, n: usize) {
        self.tg.start_chat(chat);
        self.core
            .tamper_for_tests(&format!(
                "INSERT INTO notifications (telegram_id, text, created_at) \
                 SELECT {chat}, 'notice ' || CAST(n AS TEXT), 0 FROM generate_series(1, {n}) AS n"
            ))
            .await;
    }

    /// Every text sent to `chat` so far.
    fn texts_to(&self, chat: i64) -> Vec<String> {
        self.tg
            .sent()
            .into_iter()
            .filter(|m| m.chat_id == chat)
            .map(|m| m.text)
            .collect()
    }

    /// `text` from `user`; the first reply afterwards containing `needle`.
    async fn say(&self, user: i64, text: &str, needle: &str) -> Sent {
        let before = self.tg.sent().len();
        self.tg.send_text(user, text);
        self.tg.wait_for(user, before, needle).await
    }

    async fn press(&self, user: i64, message: &Sent, label: &str) -> Sent {
        let before = self.tg.sent().len();
        self.tg
            .press(user, message.message_id, &message.button(label));
        self.tg.wait_for(user, before, "").await
    }

    /// Reseller `name` on Telegram account `user`, linked through the bot, with `credits`.
    async fn reseller(&self, name: &str, user: i64, credits: i64) {
        let created = self
            .say(ADMIN, &format!("/newreseller {name}"), "start=")
            .await;
        let welcome = self
            .say(user, &format!("/start {}", invite_code(&created.text)), "")
            .await;
        assert!(welcome.text.contains("Welcome"), "{}", welcome.text);
        let card = self
            .say(ADMIN, &format!("/grant {name} {credits}"), "Grant")
            .await;
        let before = self.tg.sent().len();
        let done = self.press(ADMIN, &card, "Confirm").await;
        assert!(done.text.contains("Granted"), "{}", done.text);
        // The reseller is told; let it arrive before their next exchange takes it for a reply.
        self.tg.wait_for(user, before, "An admin granted you").await;
    }

    /// Subscriber `name` created by reseller `user` through the bot; its password.
    async fn subscriber(&self, user: i64, name: &str, days: i64) -> String {
        let card = self
            .say(user, &format!("/new {days} {name}"), "Create")
            .await;
        // The card's own edit, not a notification (a low-credit alert) arriving meanwhile.
        let before = self.tg.sent().len();
        self.tg
            .press(user, card.message_id, &card.button("Confirm"));
        let done = self.tg.wait_for_edit(user, card.message_id, before).await;
        password_in(&done.text)
    }
}

/// The password in a credentials message (`Password: <code>…</code>`).
fn password_in(text: &str) -> String {
    text.split("Password")
        .nth(1)
        .and_then(|rest| rest.split("<code>").nth(1))
        .and_then(|rest| rest.split("</code>").next())
        .unwrap_or_else(|| panic!("no password in {text}"))
        .to_string()
}

/// `player_api.php`'s `auth` for these credentials on `instance` (1 or 0).
async fn auth(instance: &Instance, username: &str, password: &str) -> i64 {
    let body: serde_json::Value = reqwest::Client::new()
        .get(format!("http://{}/player_api.php", instance.http))
        .query(&[("username", username), ("password", password)])
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .unwrap_or_default();
    body["user_info"]["auth"].as_i64().unwrap_or(-1)
}

/// The streaming server's check of `session` on `instance` (the one imported channel): the
/// HTTP status and the reason.
async fn stream(
    instance: &Instance,
    username: &str,
    password: &str,
    session: &str,
) -> (u16, String) {
    let answer = reqwest::Client::new()
        .get(format!("http://{}/auth/stream", instance.http))
        .query(&[
            ("username", username),
            ("password", password),
            ("session", session),
            ("stream", "1"),
            ("ip", "203.0.113.7"),
        ])
        .send()
        .await
        .expect("answers");
    let status = answer.status().as_u16();
    (status, answer.text().await.unwrap_or_default())
}

/// Polls `check` until it holds or `within` passed; how long it took.
async fn within(within: Duration, mut check: impl AsyncFnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < within {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_started_together_on_a_fresh_database_both_come_up() {
    let Some(cluster) = Cluster::new(Vec::new(), Default::default()).await else {
        return;
    };
    // Both migrate, sync the admins and check the key at the same moment.
    let instances = cluster.start(2).await;
    assert_eq!(instances.len(), 2);
    let admins = cluster.core.admin_ids().await.expect("admins read");
    assert_eq!(admins, [ADMIN]);
    let reply = cluster.say(ADMIN, "/help", "").await;
    assert!(!reply.text.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_or_disable_on_one_instance_is_refused_by_every_instance_within_a_second() {
    let Some(cluster) = Cluster::new(Vec::new(), Default::default()).await else {
        return;
    };
    let instances = cluster.start(2).await;
    cluster.reseller("alice", 2_001, 100).await;
    let password = cluster.subscriber(2_001, "viewer", 30).await;
    // Both instances have the login cached.
    for i in &instances {
        assert_eq!(auth(i, "viewer", &password).await, 1);
    }

    let card = cluster.say(2_001, "/reset viewer", "").await;
    let done = cluster.press(2_001, &card, "Confirm").await;
    let new_password = password_in(&done.text);
    for i in &instances {
        let took = within(Duration::from_secs(1), async || {
            auth(i, "viewer", &password).await == 0
        })
        .await;
        assert!(
            took.is_some(),
            "instance {} still takes the old password a second after the reset",
            i.http
        );
        assert_eq!(auth(i, "viewer", &new_password).await, 1);
    }

    cluster.say(2_001, "/disable viewer", "disabled").await;
    for i in &instances {
        let refused = within(Duration::from_secs(1), async || {
            stream(i, "viewer", &new_password, &format!("s-{}", i.http.port()))
                .await
                .0
                == 403
        })
        .await;
        assert!(
            refused.is_some(),
            "instance {} still streams to a disabled line",
            i.http
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_and_kick_hold_across_instances() {
    let Some(cluster) = Cluster::new(Vec::new(), Default::default()).await else {
        return;
    };
    let instances = cluster.start(2).await;
    cluster.reseller("alice", 2_001, 100).await;
    let password = cluster.subscriber(2_001, "viewer", 30).await;
    cluster
        .core
        .tamper_for_tests("UPDATE subscribers SET max_connections = 1 WHERE username = 'viewer'")
        .await;
    let (a, b) = (&instances[0], &instances[1]);
    // The tampering went around core: wait for both caches to reload it (they hold 30 s at
    // most), through a change made by the bot, which every instance hears about.
    let card = cluster.say(2_001, "/extend viewer 1", "").await;
    cluster.press(2_001, &card, "Confirm").await;

    assert_eq!(stream(a, "viewer", &password, "phone").await.0, 200);
    assert_eq!(
        stream(b, "viewer", &password, "tv").await,
        (403, "too many connections".to_string()),
        "a second session on the other instance goes past max_connections = 1"
    );
    assert_eq!(
        stream(b, "viewer", &password, "phone").await.0,
        200,
        "the same session moves"
    );

    let kicked = cluster.say(2_001, "/kick viewer", "").await;
    assert!(
        kicked.text.contains('1') || kicked.text.contains("ended"),
        "{}",
        kicked.text
    );
    for i in [a, b] {
        let refused = within(Duration::from_secs(1), async || {
            stream(i, "viewer", &password, "phone").await.0 != 200
        })
        .await;
        assert!(
            refused.is_some(),
            "instance {} kept the kicked session",
            i.http
        );
    }
    assert_eq!(
        stream(b, "viewer", &password, "tv").await.0,
        200,
        "a new session is welcome"
    );
}

/// Creates `n` subscribers through the test's own core (each writes a sync job), as admin.
async fn subscribers_with_jobs(core: &Core, prefix: &str, n: usize) -> Vec<String> {
    let admin = Actor::Admin(TelegramId(ADMIN));
    let mut names = Vec::new();
    for i in 0..n {
        let name = format!("{prefix}{i}");
        let u = Username::parse(&name).expect("valid");
        core.create_subscriber(&admin, &OperationId::random(), &u, Days::new(30).unwrap())
            .await
            .expect("created");
        names.push(name);
    }
    names
}

fn sync_env(panel: &FakePanel) -> Vec<(&'static str, String)> {
    vec![
        ("SYNC_BACKEND", "webhook".into()),
        ("SYNC_WEBHOOK_URL", format!("{}/events", panel.url)),
        ("SYNC_WEBHOOK_SECRET", "whsec-cluster".into()),
    ]
}

fn sync_policy() -> reseller_core::Policy {
    reseller_core::Policy {
        sync_enabled: true,
        ..Default::default()
    }
}

/// Waits until no sync job is open; panics with the open ones otherwise.
async fn outbox_drained(core: &Core, patience: Duration) {
    let admin = Actor::Admin(TelegramId(ADMIN));
    let drained = within(patience, async || {
        core.sync_status(&admin).await.expect("reads").is_empty()
    })
    .await;
    assert!(
        drained.is_some(),
        "sync jobs still open: {:?}",
        core.sync_status(&admin).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_panel_gets_each_job_once_and_in_order_with_two_workers() {
    let panel = FakePanel::start().await;
    let Some(cluster) = Cluster::new(sync_env(&panel), sync_policy()).await else {
        return;
    };
    panel.set(Mode::Slow(400));
    let names = subscribers_with_jobs(&cluster.core, "slow", 6).await;
    // Each subscriber gets a second change behind its creation, which must not overtake it.
    let admin = Actor::Admin(TelegramId(ADMIN));
    for name in &names {
        let u = Username::parse(name).unwrap();
        cluster
            .core
            .extend(&admin, &OperationId::random(), &u, Days::new(10).unwrap())
            .await
            .expect("extended");
    }
    let _instances = cluster.start(2).await;
    outbox_drained(&cluster.core, Duration::from_secs(60)).await;

    let got = panel.received();
    assert_eq!(got.len(), 12, "each of 12 jobs delivered exactly once");
    for name in &names {
        let kinds: Vec<&str> = got
            .iter()
            .filter(|(_, v)| v["username"] == name.as_str())
            .map(|(_, v)| v["type"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            kinds,
            ["subscriber.create", "subscriber.extend"],
            "{name}: in order"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_notifications_become_three_hundred_messages() {
    let Some(cluster) = Cluster::new(Vec::new(), Default::default()).await else {
        return;
    };
    cluster.notifications_waiting(READER, 300).await;
    let _instances = cluster.start(2).await;
    let to_reader = || cluster.texts_to(READER);
    let all = within(Duration::from_secs(60), async || to_reader().len() >= 300).await;
    assert!(all.is_some(), "only {} of 300 arrived", to_reader().len());
    // Give a duplicate time to show up.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let texts = to_reader();
    let distinct: std::collections::HashSet<&String> = texts.iter().collect();
    assert_eq!((texts.len(), distinct.len()), (300, 300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_of_one_instance_mid_work_loses_nothing_and_duplicates_nothing() {
    let panel = FakePanel::start().await;
    let mut env = sync_env(&panel);
    // Short leases, so the dead instance's work comes back within the test's patience.
    env.push(("RESELLERBOT_SYNC_LEASE_SECS", "3".into()));
    env.push(("RESELLERBOT_NOTIFICATION_LEASE_SECS", "3".into()));
    let Some(cluster) = Cluster::new(env, sync_policy()).await else {
        return;
    };
    panel.set(Mode::Slow(200));
    let names = subscribers_with_jobs(&cluster.core, "kill", 20).await;
    cluster.notifications_waiting(READER, 200).await;
    let mut instances = cluster.start(2).await;
    let started = within(Duration::from_secs(20), async || panel.attempts() >= 4).await;
    assert!(started.is_some(), "the workers started delivering");
    instances[0].kill();

    outbox_drained(&cluster.core, Duration::from_secs(60)).await;
    let got = panel.received();
    let keys: std::collections::HashSet<String> = got
        .iter()
        .map(|(h, _)| h["idempotency-key"].to_str().unwrap().to_string())
        .collect();
    assert_eq!(keys.len(), names.len(), "every job reached the panel");
    // A delivery the kill cut short is sent again under the same idempotency key, so the panel
    // applies each change once; nothing else repeats.
    assert!(
        got.len() <= names.len() + 1,
        "{} deliveries for {} jobs",
        got.len(),
        names.len()
    );

    let to_reader = || cluster.texts_to(READER);
    let all = within(Duration::from_secs(60), async || {
        to_reader()
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len()
            == 200
    })
    .await;
    assert!(
        all.is_some(),
        "notifications lost: {} arrived",
        to_reader().len()
    );
    // Telegram takes no idempotency key: the one message the killed sender may have had on the
    // wire, unrecorded, is the most that can repeat.
    assert!(
        to_reader().len() <= 201,
        "{} messages for 200",
        to_reader().len()
    );
    let report = cluster.core.verify_ledger().await.expect("verify runs");
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

/// A Telegram update as the Bot API sends it: `/help` from the admin.
fn help_update(update_id: i64) -> serde_json::Value {
    serde_json::json!({
        "update_id": update_id,
        "message": {
            "message_id": 900_000 + update_id,
            "date": chrono::Utc::now().timestamp(),
            "chat": { "id": ADMIN, "type": "private", "first_name": "Admin" },
            "from": { "id": ADMIN, "is_bot": false, "first_name": "Admin" },
            "text": "/help",
            "entities": [{ "type": "bot_command", "offset": 0, "length": 5 }],
        },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_webhook_mode_an_update_redelivered_to_the_other_instance_is_answered_once() {
    const SECRET: &str = "cluster-webhook-secret-0123456789";
    let Some(cluster) = Cluster::new(
        vec![
            ("BOT_MODE", "webhook".into()),
            ("TELEGRAM_WEBHOOK_SECRET", SECRET.into()),
        ],
        Default::default(),
    )
    .await
    else {
        return;
    };
    // Telegram knows one URL (the proxy's); here it leads to the first instance.
    let proxy = free_port();
    let webhook_url = [("TELEGRAM_WEBHOOK_URL", format!("http://{proxy}"))];
    let mut a = Instance::spawn_at(&cluster, proxy, &webhook_url);
    let mut b = Instance::spawn(&cluster, &webhook_url);
    a.ready().await;
    b.ready().await;
    let registered = cluster.tg.webhook().expect("setWebhook was called");
    assert_eq!(registered.secret_token.as_deref(), Some(SECRET));

    let before = cluster.tg.sent().len();
    let id = cluster.tg.send_text(ADMIN, "/help");
    cluster.tg.wait_for(ADMIN, before, "").await;
    // The proxy retries the same update on the other instance (the first answer got lost).
    let path = registered
        .url
        .split_once("/telegram/")
        .map(|(_, p)| p.to_string())
        .expect("the webhook path");
    let at_b = format!("http://{}/telegram/{path}", b.http);
    let post = |token: &'static str, body: serde_json::Value| {
        reqwest::Client::new()
            .post(&at_b)
            .header("X-Telegram-Bot-Api-Secret-Token", token)
            .json(&body)
            .send()
    };
    let after_first = cluster.tg.sent().len();
    let answer = post(SECRET, help_update(id)).await.expect("answers");
    assert_eq!(answer.status().as_u16(), 200);
    let wrong = post("not-the-secret-token-000", help_update(id + 100))
        .await
        .expect("answers");
    assert_eq!(wrong.status().as_u16(), 401);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        cluster.tg.sent().len(),
        after_first,
        "the redelivered update was answered again, or the forged one was handled"
    );
    // A new update through the second instance is handled: it was the id, not the route.
    let fresh = post(SECRET, help_update(id + 200)).await.expect("answers");
    assert_eq!(fresh.status().as_u16(), 200);
    cluster.tg.wait_for(ADMIN, after_first, "").await;
}
