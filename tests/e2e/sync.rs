//! Syncing subscriber changes to an external panel through the outbox.

use crate::panel::{FakePanel, Mode};
use crate::support::{ADMIN, TestApp};
use crate::telegram::Sent;
use hmac::{Hmac, Mac};
use serde_json::Value;

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

async fn confirm(app: &TestApp, command: &str) -> Sent {
    let card = app.say_expecting(ALICE, command, "?").await;
    app.press(ALICE, &card, "Confirm").await
}

/// The `user_info` that `player_api.php` gives for these credentials.
async fn login(app: &TestApp, username: &str, password: &str) -> Value {
    let resp = reqwest::Client::new()
        .get(format!("http://{}/player_api.php", app.http))
        .query(&[("username", username), ("password", password)])
        .send()
        .await
        .expect("answers");
    resp.json::<Value>().await.expect("JSON")["user_info"].clone()
}

/// The first job number in a `/syncstatus` listing.
fn first_job(listing: &str) -> String {
    listing
        .split('#')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("a job is listed")
        .to_string()
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
async fn a_refused_creation_is_refunded_once_and_leaves_no_working_line() {
    let panel = FakePanel::start().await;
    panel.set(Mode::RefuseCreates);
    let app = app_with(&panel, "xtream").await;
    let before = app.tg.sent().len();
    let card = app.say_expecting(ALICE, "/new 30 taken", "?").await;
    app.tg
        .press(ALICE, card.message_id, &card.button("Confirm"));
    let created = app.tg.wait_for(ALICE, before, "Password: <code>").await;
    let password = created
        .text
        .split("Password: <code>")
        .nth(1)
        .and_then(|s| s.split("</code>").next())
        .unwrap()
        .to_string();
    let told = app
        .tg
        .wait_for(ALICE, before, "refused subscriber taken")
        .await;
    assert!(
        told.text.contains(
            "Your 30 credits were refunded; balance 100. taken is disabled and its 30 days are taken back."
        ),
        "{}",
        told.text
    );
    app.tg
        .wait_for(ADMIN, before, "was refused by the panel: username exists")
        .await;
    assert_eq!(app.balance(ALICE).await, 100);
    assert_eq!(
        login(&app, "taken", &password).await["status"],
        "Disabled",
        "refunded in the same transaction, so the line stops at once"
    );
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
    let id = first_job(&status.text);
    // Sending it again would make the line work on the panel with the credits refunded.
    let refused = app
        .say_expecting(ADMIN, &format!("/syncstatus retry {id}"), "")
        .await;
    assert!(
        refused.text.contains(&format!(
            "Sync job {id} cannot be sent again: the panel refused creating taken and its 30 credits were refunded"
        )),
        "{}",
        refused.text
    );
    // Enabling it again gives no time back: the refunded days are gone.
    app.say_expecting(ALICE, "/enable taken", "is now enabled")
        .await;
    assert_eq!(login(&app, "taken", &password).await["status"], "Expired");
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
    let mut call = None;
    for _ in 0..500 {
        call = panel
            .received()
            .into_iter()
            .map(|(_, c)| c)
            .find(|c| c["username"] == "welcome");
        if call.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let call = call.expect("the creation reached the panel");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_answering_401_or_404_is_retried_not_refunded() {
    let panel = FakePanel::start().await;
    panel.set(Mode::Status(401));
    let app = app_with(&panel, "webhook").await;
    let before = app.tg.sent().len();
    confirm(&app, "/new 30 patient").await;
    // A wrong secret, then a wrong path: the operator's mistakes, not refusals of the line.
    for code in [401, 404] {
        panel.set(Mode::Status(code));
        let seen = panel.attempts();
        for _ in 0..500 {
            if panel.attempts() >= seen + 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(panel.attempts() >= seen + 2, "HTTP {code} is tried again");
    }
    let status = app
        .say_expecting(ADMIN, "/syncstatus", "Sync to the streaming panel")
        .await;
    assert!(
        status
            .text
            .contains("create <code>patient</code> — retrying"),
        "{}",
        status.text
    );
    panel.set(Mode::Up);
    let got = panel.wait_for(1).await;
    assert_eq!(got[0].1["type"], "subscriber.create");
    assert_eq!(app.balance(ALICE).await, 70, "nothing refunded");
    assert!(
        !app.tg.sent()[before..]
            .iter()
            .any(|m| m.text.contains("refused")),
        "nobody is told of a refusal"
    );
    app.assert_ledger_sound().await;
}

/// `resellerbot serve` as a separate process, so it can be killed with SIGKILL, syncing with
/// the backend set in `sync` and writing its log to `log`.
fn serve(
    tg_url: &str,
    db_url: &str,
    key: &str,
    sync: &[(&str, String)],
    log: std::process::Stdio,
) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_resellerbot"))
        .arg("serve")
        .env("BOT_TOKEN", "123456:TEST-TOKEN")
        .env("TELEGRAM_API_URL", tg_url)
        .env("DATABASE_URL", db_url)
        .env("ADMIN_TELEGRAM_IDS", ADMIN.to_string())
        .env("HTTP_ADDR", "127.0.0.1:0")
        .env("CREDENTIALS_KEY", key)
        .env("RESELLERBOT_SYNC_RETRY_BASE_SECS", "0.05")
        // A killed instance keeps its leases until they run out: short ones, so the next
        // instance takes its jobs over within the tests' patience.
        .env("RESELLERBOT_SYNC_LEASE_SECS", "3")
        .envs(sync.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("resellerbot starts")
}

fn webhook_env(panel_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("SYNC_BACKEND", "webhook".into()),
        ("SYNC_WEBHOOK_URL", format!("{panel_url}/events")),
        ("SYNC_WEBHOOK_SECRET", SECRET.into()),
    ]
}

fn xtream_env(panel_url: &str, api_key: &str) -> Vec<(&'static str, String)> {
    vec![
        ("SYNC_BACKEND", "xtream".into()),
        ("SYNC_XTREAM_URL", panel_url.into()),
        ("SYNC_XTREAM_API_KEY", api_key.into()),
    ]
}

/// Polls `check` for up to ten seconds; whether it came true.
async fn eventually(mut check: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..500 {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
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

    let mut child = serve(
        &tg.url(),
        &db_url,
        &key,
        &webhook_env(&panel.url),
        std::process::Stdio::null(),
    );
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
    let mut child = serve(
        &tg.url(),
        &db_url,
        &key,
        &webhook_env(&panel.url),
        std::process::Stdio::null(),
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_panel_applied_a_creation_is_never_refunded() {
    use reseller_core::domain::{Days, OperationId, TelegramId, Username};
    use reseller_core::{Actor, Policy};
    let tg = crate::telegram::FakeTelegram::start().await;
    let panel = FakePanel::start().await;
    panel.set(Mode::Hang);
    let db_url = reseller_core::testing::fresh_database_url().await;
    let key = reseller_core::CredentialCipher::generate_key();
    let policy = Policy {
        sync_enabled: true,
        ..Default::default()
    };
    let core = reseller_core::testing::core_at(&db_url, &key, policy).await;
    let admin = Actor::Admin(TelegramId(ADMIN));
    let bob = Username::parse("bob").unwrap();
    let reseller = core.create_reseller(&admin, &bob, None).await.unwrap().id;
    let days = |n| Days::new(n).unwrap();
    core.grant(&admin, &OperationId::random(), &bob, days(100), None)
        .await
        .unwrap();
    let line = Username::parse("applied").unwrap();
    core.create_subscriber(
        &Actor::Reseller(reseller),
        &OperationId::random(),
        &line,
        days(30),
    )
    .await
    .unwrap();

    // The panel applies the creation and the process dies before the answer is recorded.
    let env = xtream_env(&panel.url, "xt-key");
    let mut child = serve(&tg.url(), &db_url, &key, &env, std::process::Stdio::null());
    assert!(
        eventually(async || !panel.received().is_empty()).await,
        "the creation reached the panel"
    );
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");

    // After the restart the panel says the line exists: it may be our own.
    panel.set(Mode::RefuseCreates);
    let mut child = serve(&tg.url(), &db_url, &key, &env, std::process::Stdio::null());
    let failed = eventually(async || {
        core.sync_status(&admin)
            .await
            .unwrap()
            .iter()
            .any(|j| j.status == "failed")
    })
    .await;
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    assert!(failed, "the refusal was recorded");
    let job = core.sync_status(&admin).await.unwrap().remove(0);
    assert!(
        job.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("may have reached the panel"),
        "{:?}",
        job.last_error
    );
    assert_eq!(
        core.me(reseller).await.unwrap().balance,
        70,
        "no refund for a line the panel may have"
    );
    assert!(
        core.subscriber(&Actor::Reseller(reseller), &line)
            .await
            .is_ok_and(|s| s.active),
        "and the line keeps working until an admin decides"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panel_url_with_the_api_key_never_reaches_syncstatus_or_the_logs() {
    use reseller_core::domain::{Days, OperationId, TelegramId, Username};
    use reseller_core::{Actor, Policy};
    const API_KEY: &str = "xt-SECRET-4242";
    let tg = crate::telegram::FakeTelegram::start().await;
    // A panel URL where nothing listens: every attempt fails with a connection error.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let panel_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let db_url = reseller_core::testing::fresh_database_url().await;
    let key = reseller_core::CredentialCipher::generate_key();
    let policy = Policy {
        sync_enabled: true,
        ..Default::default()
    };
    let core = reseller_core::testing::core_at(&db_url, &key, policy).await;
    let admin = Actor::Admin(TelegramId(ADMIN));
    let line = Username::parse("leaky").unwrap();
    core.create_subscriber(
        &admin,
        &OperationId::random(),
        &line,
        Days::new(30).unwrap(),
    )
    .await
    .unwrap();
    let password = core.credentials(&admin, &line).await.unwrap().password;

    let log_path =
        std::env::temp_dir().join(format!("resellerbot-sync-{}.log", std::process::id()));
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut child = serve(
        &tg.url(),
        &db_url,
        &key,
        &xtream_env(&panel_url, API_KEY),
        log.into(),
    );
    let retried = eventually(async || {
        core.sync_status(&admin)
            .await
            .unwrap()
            .iter()
            .any(|j| j.attempts >= 2 && j.last_error.is_some())
    })
    .await;
    let before = tg.sent().len();
    tg.send_text(ADMIN, "/syncstatus");
    let shown = tg
        .wait_for(ADMIN, before, "Sync to the streaming panel")
        .await;
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let logged = std::fs::read_to_string(&log_path).expect("log readable");
    let _ = std::fs::remove_file(&log_path);
    assert!(retried, "the worker tried the panel");
    assert!(
        shown.text.contains("error sending request"),
        "the error is still shown: {}",
        shown.text
    );
    assert!(
        logged.contains("panel sync will be retried"),
        "the failure is still logged: {logged}"
    );
    for (place, text) in [("/syncstatus", &shown.text), ("the log", &logged)] {
        assert!(
            !text.contains(API_KEY) && !text.contains(&password) && !text.contains("api_key="),
            "a secret in {place}: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_the_panel_refused_is_never_changed_or_deleted_there() {
    let panel = FakePanel::start().await;
    panel.set(Mode::RefuseCreates);
    let app = app_with(&panel, "xtream").await;
    let before = app.tg.sent().len();
    confirm(&app, "/new 30 taken").await;
    app.tg
        .wait_for(ALICE, before, "refused subscriber taken")
        .await;
    // Waits behind the refused creation until an admin drops it.
    app.say_expecting(ALICE, "/enable taken", "is now enabled")
        .await;
    let status = app
        .say_expecting(ADMIN, "/syncstatus", "Sync to the streaming panel")
        .await;
    let refused = status
        .text
        .split('#')
        .skip(1)
        .find(|job| job.contains("failed"))
        .and_then(|job| job.split_whitespace().next())
        .expect("the refused creation is listed")
        .to_string();
    let before = app.tg.sent().len();
    app.say_expecting(ADMIN, &format!("/syncstatus drop {refused}"), "dropped")
        .await;
    // "taken" is someone else's line on the panel: the enable goes as a creation, which the
    // panel refuses again, so nothing of theirs is enabled, and nothing more is refunded.
    app.tg
        .wait_for(ADMIN, before, "(create taken) was refused by the panel")
        .await;
    assert!(
        panel
            .received()
            .iter()
            .all(|(_, c)| c["username"] != "taken"),
        "nothing reached the panel's line: {:?}",
        panel.received()
    );
    assert_eq!(app.balance(ALICE).await, 100);

    // Deleting it here sends nothing there either.
    let status = app
        .say_expecting(ADMIN, "/syncstatus", "Sync to the streaming panel")
        .await;
    let enable = first_job(&status.text);
    app.say_expecting(ADMIN, &format!("/syncstatus drop {enable}"), "dropped")
        .await;
    panel.set(Mode::Up);
    confirm(&app, "/delete taken").await;
    confirm(&app, "/new 5 after").await;
    // Jobs go in order per subscriber, not across them: wait for the later line, then check.
    let mut delivered = false;
    for _ in 0..500 {
        if panel
            .received()
            .iter()
            .any(|(_, c)| c["username"] == "after")
        {
            delivered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(delivered, "the panel works again");
    for _ in 0..50 {
        if !app.say(ADMIN, "/syncstatus").await.text.contains("taken") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        panel
            .received()
            .iter()
            .all(|(_, c)| c["username"] != "taken"),
        "the deletion of a line that was never ours is not sent: {:?}",
        panel.received()
    );
    app.assert_ledger_sound().await;
}
