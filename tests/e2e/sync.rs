//! Syncing subscriber changes to an external panel through the outbox.

use crate::panel::{FakePanel, Mode};
use crate::support::{ADMIN, TestApp};
use hmac::{Hmac, Mac};

const ALICE: i64 = 2_001;
const SECRET: &str = "panel-secret";

async fn app_with(panel: &FakePanel, backend: &str) -> TestApp {
    let url = panel.url.clone();
    let backend = backend.to_string();
    let app = TestApp::spawn_with(move |s| {
        s.sync_backend = backend.clone();
        s.sync_webhook_url = Some(format!("{url}/events"));
        s.sync_webhook_secret = Some(SECRET.into());
        s.sync_xtream_url = Some(url.clone());
        s.sync_xtream_api_key = Some("xt-key".into());
        s.sync_retry_base_secs = 0.05;
    })
    .await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 100).await;
    app.say_expecting(ADMIN, "/perm alice can_delete_users on", "is on")
        .await;
    app
}

async fn confirm(app: &TestApp, command: &str) {
    let card = app.say_expecting(ALICE, command, "?").await;
    app.press(ALICE, &card, "Confirm").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_reaches_the_webhook_in_order_and_signed() {
    let panel = FakePanel::start().await;
    let app = app_with(&panel, "webhook").await;
    confirm(&app, "/new 30 synced").await;
    confirm(&app, "/extend synced 10").await;
    confirm(&app, "/reset synced").await;
    app.say_expecting(ALICE, "/disable synced", "disabled")
        .await;
    app.say_expecting(ALICE, "/enable synced", "enabled").await;
    confirm(&app, "/delete synced").await;
    let got = panel.wait_for(6).await;
    let types: Vec<&str> = got
        .iter()
        .map(|(_, v)| v["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "subscriber.create",
            "subscriber.extend",
            "subscriber.reset",
            "subscriber.disable",
            "subscriber.enable",
            "subscriber.delete"
        ]
    );
    let (headers, create) = &got[0];
    assert_eq!(create["username"], "synced");
    assert_eq!(create["password"].as_str().unwrap().len(), 10);
    let sig = headers["x-resellerbot-signature"].to_str().unwrap();
    let (t, v1) = sig.strip_prefix("t=").unwrap().split_once(",v1=").unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", headers["x-raw-body"].to_str().unwrap()).as_bytes());
    assert_eq!(
        hex::encode(mac.finalize().into_bytes()),
        v1,
        "the event is signed like Stripe's"
    );
    assert_eq!(
        got[1].1["expires_at"].as_i64().unwrap() - create["expires_at"].as_i64().unwrap(),
        10 * 86_400
    );
    // The last job is marked done just after the panel answered it.
    let admin = reseller_core::Actor::Admin(reseller_core::domain::TelegramId(ADMIN));
    for _ in 0..500 {
        if app.core.sync_status(&admin).await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let status = app.say_expecting(ADMIN, "/syncstatus", "").await;
    assert!(status.text.contains("Nothing waiting"), "{}", status.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panel_that_is_down_gets_every_change_once_when_it_is_back() {
    let panel = FakePanel::start().await;
    panel.set(Mode::Down);
    let app = app_with(&panel, "webhook").await;
    confirm(&app, "/new 30 patient").await;
    confirm(&app, "/extend patient 5").await;
    let waiting = app
        .say_expecting(ADMIN, "/syncstatus", "Sync to the streaming panel")
        .await;
    assert!(
        waiting.text.contains("create <code>patient</code>"),
        "{}",
        waiting.text
    );
    panel.set(Mode::Up);
    let got = panel.wait_for(2).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let got_later = panel.received();
    assert_eq!(
        got_later.len(),
        2,
        "each change exactly once: {:?}",
        got_later.iter().map(|r| &r.1).collect::<Vec<_>>()
    );
    assert_eq!(
        (got[0].1["type"].as_str(), got[1].1["type"].as_str()),
        (Some("subscriber.create"), Some("subscriber.extend"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_creation_the_panel_refuses_is_refunded_once() {
    let panel = FakePanel::start().await;
    panel.set(Mode::RefuseCreates);
    let app = app_with(&panel, "xtream").await;
    let before = app.tg.sent().len();
    confirm(&app, "/new 30 taken").await;
    let told = app
        .tg
        .wait_for(ALICE, before, "refused subscriber taken")
        .await;
    assert!(
        told.text
            .contains("Your 30 credits were refunded; balance 100."),
        "{}",
        told.text
    );
    app.tg
        .wait_for(ADMIN, before, "was refused by the panel: username exists")
        .await;
    assert_eq!(app.balance(ALICE).await, 100);
    let status = app
        .say_expecting(ADMIN, "/syncstatus", "Sync to the streaming panel")
        .await;
    assert!(
        status
            .text
            .contains("failed after 1 attempts: username exists"),
        "{}",
        status.text
    );
    let id = status
        .text
        .split('#')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .to_string();
    // Retried by an admin while the panel still refuses: refused again, refunded not twice.
    app.say_expecting(ADMIN, &format!("/syncstatus retry {id}"), "sent again")
        .await;
    app.tg
        .wait_for(ADMIN, before + 3, "was refused by the panel")
        .await;
    assert_eq!(app.balance(ALICE).await, 100);
    app.say_expecting(ADMIN, &format!("/syncstatus drop {id}"), "dropped")
        .await;
    let history = app.say_expecting(ALICE, "/history", "Credit history").await;
    assert_eq!(
        history.text.matches("refund").count(),
        1,
        "{}",
        history.text
    );
    app.assert_ledger_sound().await;

    // The Xtream API got the creation with the key and the line's settings.
    panel.set(Mode::Up);
    confirm(&app, "/new 10 welcome").await;
    let got = panel.wait_for(1).await;
    let call = &got[0].1;
    assert_eq!(
        (
            call["action"].as_str(),
            call["api_key"].as_str(),
            call["username"].as_str()
        ),
        (Some("create_line"), Some("xt-key"), Some("welcome"))
    );
    assert_eq!(call["max_connections"], "3");
}

/// `resellerbot serve` as a separate process, so it can be killed with SIGKILL.
fn serve(tg_url: &str, db_url: &str, key: &str, panel_url: &str) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_resellerbot"))
        .arg("serve")
        .env("BOT_TOKEN", "123456:TEST-TOKEN")
        .env("TELEGRAM_API_URL", tg_url)
        .env("DATABASE_URL", db_url)
        .env("ADMIN_TELEGRAM_IDS", ADMIN.to_string())
        .env("HTTP_ADDR", "127.0.0.1:0")
        .env("CREDENTIALS_KEY", key)
        .env("SYNC_BACKEND", "webhook")
        .env("SYNC_WEBHOOK_URL", format!("{panel_url}/events"))
        .env("SYNC_WEBHOOK_SECRET", SECRET)
        .env("RESELLERBOT_SYNC_RETRY_BASE_SECS", "0.05")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("resellerbot starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_in_the_middle_of_a_delivery_loses_nothing() {
    use reseller_core::domain::{Days, OperationId, TelegramId, Username};
    let tg = crate::telegram::FakeTelegram::start().await;
    let panel = FakePanel::start().await;
    panel.set(Mode::Hang);
    let db_url = reseller_core::testing::fresh_database_url().await;
    let key = reseller_core::CredentialCipher::generate_key();
    let policy = reseller_core::Policy {
        sync_enabled: true,
        ..Default::default()
    };
    let core = reseller_core::testing::core_at(&db_url, &key, policy).await;
    let admin = reseller_core::Actor::Admin(TelegramId(ADMIN));
    for name in ["first", "second", "third"] {
        let u = Username::parse(name).unwrap();
        core.create_subscriber(&admin, &OperationId::random(), &u, Days::new(30).unwrap())
            .await
            .unwrap();
    }

    let mut child = serve(&tg.url(), &db_url, &key, &panel.url);
    for _ in 0..500 {
        if panel.attempts() > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(panel.attempts() > 0, "the worker started delivering");
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");

    panel.set(Mode::Up);
    let mut child = serve(&tg.url(), &db_url, &key, &panel.url);
    let got = panel.wait_for(3).await;
    // The worker marks a job done after the panel answered; wait for it before stopping.
    for _ in 0..500 {
        if core.sync_status(&admin).await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        core.sync_status(&admin).await.unwrap().is_empty(),
        "nothing left in the outbox"
    );
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let names: Vec<&str> = got
        .iter()
        .map(|(_, v)| v["username"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["first", "second", "third"],
        "every change once, in order"
    );
    let keys: std::collections::HashSet<String> = got
        .iter()
        .map(|(h, _)| h["idempotency-key"].to_str().unwrap().to_string())
        .collect();
    assert_eq!(
        keys.len(),
        3,
        "one idempotency key per change, so a receiver can apply each once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_xtream_creation_refused_after_an_unanswered_try_is_not_refunded_blindly() {
    let panel = FakePanel::start().await;
    panel.set(Mode::Down);
    let app = app_with(&panel, "xtream").await;
    confirm(&app, "/new 30 ambiguous").await;
    for _ in 0..500 {
        if panel.attempts() > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // The first try failed without an answer; now the panel says the line exists.
    let before = app.tg.sent().len();
    panel.set(Mode::RefuseCreates);
    let alert = app
        .tg
        .wait_for(ADMIN, before, "may have reached the panel")
        .await;
    assert!(
        alert.text.contains("no credits were refunded"),
        "{}",
        alert.text
    );
    assert_eq!(
        app.balance(ALICE).await,
        70,
        "the line may exist upstream: the admin decides"
    );
    app.assert_ledger_sound().await;
}
