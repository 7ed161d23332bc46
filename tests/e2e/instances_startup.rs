//! Many instances starting on one database, instances that disagree on the credentials key,
//! the shared action budget, and stopping within the shutdown grace (issue 8).

use crate::support::{ADMIN, TestApp};
use crate::telegram::FakeTelegram;
use reseller_core::CredentialCipher;
use reseller_core::domain::TelegramId;
use reseller_core::ratelimit::ActionBudget;
use resellerbot::Application;
use resellerbot::settings::Settings;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const ALICE: i64 = 2_001;

/// Serving settings on a fresh database, with no key file anywhere.
async fn settings() -> Settings {
    let mut s = Settings::defaults();
    s.bot_token = Some("123456:TEST-TOKEN".into());
    s.database_url = reseller_core::testing::fresh_database_url().await;
    s.database_max_connections = 2;
    s.admin_telegram_ids = vec![ADMIN];
    s.http_addr = "127.0.0.1:0".parse().expect("address parses");
    s.credentials_key = Some(CredentialCipher::generate_key());
    s.credentials_key_file = std::env::temp_dir()
        .join("resellerbot-tests")
        .join(format!("{}.key", rand_name()));
    s
}

fn rand_name() -> String {
    CredentialCipher::generate_key()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_eight_first_starts_on_one_database_all_succeed() {
    let settings = settings().await;
    let builds = (0..28).map(|_| Application::build(&settings));
    let apps: Vec<_> = futures::future::join_all(builds)
        .await
        .into_iter()
        .map(|built| built.expect("every instance starts"))
        .collect();
    assert_eq!(
        apps[27].core().admin_ids().await.expect("admins read"),
        vec![ADMIN]
    );
    for app in &apps {
        app.core().db().close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_with_another_credentials_key_refuses_to_start() {
    let first = settings().await;
    let app = Application::build(&first).await.expect("the first starts");
    app.core().db().close().await;

    let mut other = first.clone();
    other.credentials_key = Some(CredentialCipher::generate_key());
    let err = format!(
        "{:#}",
        Application::build(&other).await.err().expect("refused")
    );
    assert!(
        err.contains("CREDENTIALS_KEY (fingerprint")
            && err
                .contains("is not the key this database's subscriber passwords are encrypted with")
            && err.contains(
                "set CREDENTIALS_KEY to the key of the instance that first started on it"
            ),
        "{err}"
    );
    assert!(
        !err.contains(other.credentials_key.as_deref().unwrap()),
        "{err}"
    );

    // Without any key, a database that has one is not given a new one: the operator is told
    // where the key is, and no key file is left behind.
    let mut keyless = first.clone();
    keyless.credentials_key = None;
    let err = format!(
        "{:#}",
        Application::build(&keyless).await.err().expect("refused")
    );
    assert!(
        err.contains("CREDENTIALS_KEY is not set and there is no key file at")
            && err.contains("generated on the host that first started on it"),
        "{err}"
    );
    assert!(!keyless.credentials_key_file.exists());

    // The first key still starts.
    let again = Application::build(&first)
        .await
        .expect("the first key starts");
    again.core().db().close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_generated_for_a_new_database_is_recorded_and_reused() {
    let mut s = settings().await;
    s.credentials_key = None;
    let app = Application::build(&s).await.expect("starts with a new key");
    app.core().db().close().await;
    assert!(s.credentials_key_file.exists(), "the key was written");
    let again = Application::build(&s)
        .await
        .expect("restarts with its key file");
    again.core().db().close().await;
    let _ = std::fs::remove_file(&s.credentials_key_file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_action_limit_is_shared_by_two_instances() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limit.actions_per_minute = 1.try_into().unwrap();
        s.rate_limit.burst = 2.try_into().unwrap();
    })
    .await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 100).await;
    let peer = app.peer().await;
    let Some(reseller_core::Actor::Reseller(alice)) = peer
        .core
        .identify(TelegramId(ALICE))
        .await
        .expect("identify")
    else {
        panic!("alice is a reseller");
    };
    let budget = ActionBudget {
        per_minute: 1.try_into().unwrap(),
        burst: 2.try_into().unwrap(),
    };
    // Alice spends her burst through the second instance...
    for _ in 0..2 {
        peer.core
            .spend_action(alice, budget)
            .await
            .expect("within the burst");
    }
    // ...so the first refuses her, and says when she may act again.
    let refused = app.say(ALICE, "/new 5 third").await;
    assert!(
        refused
            .text
            .contains("too quickly: at most 1 a minute, 2 in a row. Please wait"),
        "{}",
        refused.text
    );
    let wait: i64 = refused
        .text
        .split("Please wait ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the wait is a number");
    assert!((1..=60).contains(&wait), "{}", refused.text);
    assert_eq!(app.balance(ALICE).await, 100);
}

/// Builds and runs an app with `grace_secs` of shutdown grace; returns its HTTP address, the
/// stop trigger and the running task.
async fn running(
    grace_secs: u64,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
    FakeTelegram,
) {
    let tg = FakeTelegram::start().await;
    let mut s = settings().await;
    s.telegram_api_url = tg.url().parse().expect("fake URL parses");
    s.shutdown_grace_secs = grace_secs;
    s.stripe_webhook_secret = Some("whsec_test".into());
    let app = Application::build(&s).await.expect("builds");
    let http = app.http_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run(async move {
        let _ = stopped.await;
    }));
    let polls = tg.calls("getUpdates");
    while tg.calls("getUpdates") == polls {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (http, stop, task, tg)
}

/// A webhook request whose body has not all arrived: work in flight for the HTTP server.
async fn half_sent_request(http: std::net::SocketAddr) -> tokio::net::TcpStream {
    let mut conn = tokio::net::TcpStream::connect(http)
        .await
        .expect("connects");
    conn.write_all(
        b"POST /webhooks/stripe HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
          Content-Length: 4\r\n\r\n{}",
    )
    .await
    .expect("writes");
    // Let the server start on it before it is told to stop.
    tokio::time::sleep(Duration::from_millis(200)).await;
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_finishes_after_the_stop_and_no_new_one_is_accepted() {
    let (http, stop, task, _tg) = running(10).await;
    let mut conn = half_sent_request(http).await;
    let started = Instant::now();
    stop.send(()).expect("the app is running");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        tokio::net::TcpStream::connect(http).await.is_err(),
        "no new connection once stopping"
    );
    conn.write_all(b"{}").await.expect("the rest of the body");
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).await.expect("reads");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    task.await.expect("joins").expect("stops cleanly");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "finished its work well within the 10 s grace: {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_still_in_flight_when_the_grace_runs_out_is_abandoned() {
    let (http, stop, task, _tg) = running(1).await;
    let _stuck = half_sent_request(http).await;
    let started = Instant::now();
    stop.send(()).expect("the app is running");
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the app exits despite the stuck request")
        .expect("joins")
        .expect("an abandoned request is no failure");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "waited the 1 s grace for the request, then exited: {took:?}"
    );
}
