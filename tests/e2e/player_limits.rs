//! What a guesser meets at `player_api.php`: after the failed logins allowed, every login from
//! the address waits, the right password included; unknown usernames cost no query; and the
//! login cache stays within its bound however many players log in.

use crate::support::{ADMIN, TestApp};
use serde_json::Value;
use std::net::IpAddr;

/// A client connecting from `from` (any 127.0.0.0/8 address reaches the test server).
fn client(from: &str) -> reqwest::Client {
    let from: IpAddr = from.parse().expect("an address");
    reqwest::Client::builder()
        .local_address(from)
        .build()
        .expect("client builds")
}

/// Status, `Retry-After` and body of a login.
async fn login(
    client: &reqwest::Client,
    app: &TestApp,
    username: &str,
    password: &str,
) -> (u16, Option<String>, String) {
    let resp = client
        .get(format!("http://{}/player_api.php", app.http))
        .query(&[("username", username), ("password", password)])
        .send()
        .await
        .expect("answers");
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, retry, resp.text().await.expect("a body"))
}

/// The app with 3 failed logins allowed per address, then one a minute.
async fn three_failures_a_minute() -> TestApp {
    TestApp::spawn_with(|s| {
        s.policy.failed_login_burst = 3.try_into().expect("non-zero");
        s.policy.failed_login_wait_secs = 60.try_into().expect("non-zero");
    })
    .await
}

fn auth(body: &str) -> Value {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    v["user_info"]["auth"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_failed_logins_even_the_right_password_waits_and_other_addresses_do_not() {
    let app = three_failures_a_minute().await;
    app.core
        .bulk_subscribers_for_bench("viewer", 1, "right-password")
        .await;
    let (guesser, neighbour) = (client("127.0.0.1"), client("127.0.0.2"));

    for i in 0..3 {
        let (status, _, body) = login(&guesser, &app, "viewer0", &format!("guess{i}")).await;
        assert_eq!((status, auth(&body)), (200, 0.into()), "{body}");
    }
    let (status, retry, body) = login(&guesser, &app, "viewer0", "right-password").await;
    assert_eq!(status, 429, "the right password waits too: {body}");
    assert_eq!(retry.as_deref(), Some("60"));
    assert_eq!(
        body,
        "too many failed logins from this address; try again in 60 s"
    );
    let (status, _, body) = login(&guesser, &app, "nobody", "anything").await;
    assert_eq!(status, 429, "{body}");

    let (status, _, body) = login(&neighbour, &app, "viewer0", "right-password").await;
    assert_eq!((status, auth(&body)), (200, 1.into()), "{body}");
    let (status, _, body) = login(&neighbour, &app, "viewer0", "a-guess").await;
    assert_eq!(
        (status, auth(&body)),
        (200, 0.into()),
        "another address keeps its own allowance: {body}"
    );
}

/// A login through a proxy that says it forwards for `player`.
async fn login_via(app: &TestApp, player: &str, password: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("http://{}/player_api.php", app.http))
        .header("X-Forwarded-For", player)
        .query(&[("username", "viewer0"), ("password", password)])
        .send()
        .await
        .expect("answers")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_failed_logins_count_per_player_and_elsewhere_the_header_is_ignored()
{
    // Every request reaches the app from 127.0.0.1: the reverse proxy of a deployment.
    let app = TestApp::spawn_with(|s| {
        s.policy.failed_login_burst = 3.try_into().expect("non-zero");
        s.policy.failed_login_wait_secs = 60.try_into().expect("non-zero");
        s.trusted_proxies = "127.0.0.1".into();
    })
    .await;
    app.core
        .bulk_subscribers_for_bench("viewer", 1, "right-password")
        .await;
    for i in 0..3 {
        assert_eq!(
            login_via(&app, "198.51.100.7", &format!("guess{i}")).await,
            200
        );
    }
    assert_eq!(
        login_via(&app, "198.51.100.7", "right-password").await,
        429,
        "the guesser waits"
    );
    assert_eq!(
        login_via(&app, "198.51.100.8", "right-password").await,
        200,
        "another player behind the same proxy is not locked out"
    );

    // Without the proxy listed, the header is the client's own invention: all one address.
    let direct = three_failures_a_minute().await;
    direct
        .core
        .bulk_subscribers_for_bench("viewer", 1, "right-password")
        .await;
    for i in 0..3 {
        assert_eq!(
            login_via(&direct, &format!("192.0.2.{i}"), "wrong").await,
            200
        );
    }
    assert_eq!(
        login_via(&direct, "192.0.2.99", "right-password").await,
        429,
        "a forged X-Forwarded-For does not buy new tries"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_username_costs_no_query_and_can_be_created_at_once() {
    let app = TestApp::spawn().await;
    let player = client("127.0.0.1");
    let before = app.core.access_cache_stats().loads;
    for i in 0..5 {
        let (status, _, body) = login(&player, &app, "late.comer", &format!("guess{i}")).await;
        assert_eq!((status, auth(&body)), (200, 0.into()), "{body}");
    }
    assert_eq!(
        app.core.access_cache_stats().loads - before,
        1,
        "only the first guess at an unknown name reads the database"
    );

    let card = app
        .say_expecting(ADMIN, "/new 30 late.comer", "Create")
        .await;
    let done = app.press(ADMIN, &card, "Confirm").await;
    let password = done
        .text
        .split("Password: <code>")
        .nth(1)
        .and_then(|s| s.split("</code>").next())
        .expect("the password is shown");
    let (status, _, body) = login(&player, &app, "late.comer", password).await;
    assert_eq!(
        (status, auth(&body)),
        (200, 1.into()),
        "the cached “unknown” went with the creation: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_cache_stays_within_its_bound() {
    let app = TestApp::spawn_with(|s| s.policy.access_cache_capacity = 50).await;
    app.core
        .bulk_subscribers_for_bench("many", 200, "many-password")
        .await;
    let player = client("127.0.0.1");
    for i in 0..200 {
        let (status, _, body) = login(&player, &app, &format!("many{i}"), "many-password").await;
        assert_eq!((status, auth(&body)), (200, 1.into()), "many{i}: {body}");
    }
    let stats = app.core.access_cache_stats();
    assert_eq!(stats.loads, 200);
    assert!(
        (1..=50).contains(&stats.entries),
        "at most 50 usernames stay cached, not {}",
        stats.entries
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_sent_in_parallel_are_counted_too() {
    let app = three_failures_a_minute().await;
    app.core
        .bulk_subscribers_for_bench("viewer", 1, "right-password")
        .await;
    let guesser = client("127.0.0.1");
    // Distinct names, each looked up in the database: the guesses are in flight together.
    let guesses = (0..20).map(|i| {
        let (guesser, app) = (&guesser, &app);
        async move { login(guesser, app, &format!("guess{i}"), "a-password").await }
    });
    let statuses: Vec<u16> = futures::future::join_all(guesses)
        .await
        .into_iter()
        .map(|(status, _, _)| status)
        .collect();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    let tried = statuses.iter().filter(|s| **s == 200).count() as u64;
    // Every guess that was tried is counted: the wait grows by a minute for each one past the
    // three allowed, and the right password waits too.
    let (status, retry, _) = login(&guesser, &app, "viewer0", "right-password").await;
    assert_eq!(status, 429);
    let retry: u64 = retry.expect("Retry-After").parse().expect("seconds");
    assert!(
        retry + 5 >= (tried - 3) * 60 && retry <= (tried - 2) * 60 + 1,
        "{tried} guesses tried, wait {retry} s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_players_behind_one_address_log_in_at_once_without_waiting() {
    let app = three_failures_a_minute().await;
    app.core
        .bulk_subscribers_for_bench("viewer", 64, "right-password")
        .await;
    // A household NAT, or the streaming server asking for all its viewers: far more logins at
    // once than failures allowed, all with the right password, cold cache.
    let nat = client("127.0.0.1");
    let logins = (0..64).map(|i| {
        let (nat, app) = (&nat, &app);
        async move { login(nat, app, &format!("viewer{i}"), "right-password").await }
    });
    for (status, _, body) in futures::future::join_all(logins).await {
        assert_eq!((status, auth(&body)), (200, 1.into()), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_guessing_through_the_streaming_server_locks_out_only_that_viewer() {
    let app = three_failures_a_minute().await;
    app.core
        .bulk_subscribers_for_bench("viewer", 2, "right-password")
        .await;
    // One streaming server asks for every viewer, naming each viewer's address.
    let server = client("127.0.0.1");
    let ask = |viewer: &'static str, password: &'static str, ip: &'static str| {
        let (server, app) = (&server, &app);
        async move {
            server
                .get(format!("http://{}/auth/stream", app.http))
                .query(&[
                    ("username", viewer),
                    ("password", password),
                    ("session", "s1"),
                    ("stream", "1"),
                    ("ip", ip),
                ])
                .send()
                .await
                .expect("answers")
                .status()
                .as_u16()
        }
    };
    for _ in 0..3 {
        assert_eq!(ask("viewer0", "guess", "203.0.113.7").await, 403);
    }
    assert_eq!(
        ask("viewer0", "right-password", "203.0.113.7").await,
        429,
        "the guessing viewer waits, the right password included"
    );
    assert_ne!(
        ask("viewer1", "right-password", "198.51.100.9").await,
        429,
        "another viewer of the same streaming server is not held up"
    );
}
