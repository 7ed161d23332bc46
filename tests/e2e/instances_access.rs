//! Two instances on one database (issue 8): a change made on one reaches the other's login
//! cache within a second, `max_connections` and `/kick` hold across both, and failed logins
//! spread over both share one allowance. Changes are made through instance A's core directly,
//! since both instances' bots poll the same fake Bot API and either could take a command.
//!
//! Instances hear of each other's changes through PostgreSQL notifications; SQLite serves one
//! process, so the tests that need that news return early there (the shared session count
//! needs none and runs on both).

use crate::support::{ADMIN, TestApp};
use reseller_core::Backend;
use reseller_core::domain::{OperationId, TelegramId, Username};
use reseller_core::{Actor, Core};
use std::future::Future;
use std::time::{Duration, Instant};

const PASSWORD: &str = "right-password";

fn admin() -> Actor {
    Actor::Admin(TelegramId(ADMIN))
}

fn viewer() -> Username {
    Username::parse("viewer0").expect("a valid username")
}

/// Whether `app` runs on SQLite, where only one process uses the database.
fn single_process(app: &TestApp) -> bool {
    app.core.db().backend() == Backend::Sqlite
}

/// Two instances on one fresh database with subscriber `viewer0` (password [`PASSWORD`]).
async fn two_instances(app: TestApp) -> (TestApp, TestApp) {
    app.core
        .bulk_subscribers_for_bench("viewer", 1, PASSWORD)
        .await;
    let peer = app.peer().await;
    (app, peer)
}

async fn get(app: &TestApp, path: &str, query: &[(&str, &str)]) -> (u16, String) {
    let resp = reqwest::Client::new()
        .get(format!("http://{}{path}", app.http))
        .query(query)
        .send()
        .await
        .expect("answers");
    (resp.status().as_u16(), resp.text().await.expect("a body"))
}

/// `player_api.php`'s `auth` (1 or 0), or the HTTP status when it refused with one.
async fn login(app: &TestApp, password: &str) -> serde_json::Value {
    let (status, body) = get(
        app,
        "/player_api.php",
        &[("username", "viewer0"), ("password", password)],
    )
    .await;
    if status != 200 {
        return status.into();
    }
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    v["user_info"]["auth"].clone()
}

/// The streaming server asks whether `session` of viewer0 may play.
async fn stream(app: &TestApp, session: &str) -> (u16, String) {
    get(
        app,
        "/auth/stream",
        &[
            ("username", "viewer0"),
            ("password", PASSWORD),
            ("session", session),
            ("stream", "1"),
        ],
    )
    .await
}

/// Waits until `check` holds, failing the test after a second.
async fn within_a_second<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(1);
    while !check().await {
        assert!(Instant::now() < deadline, "{what} took more than a second");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn import_one_channel(core: &Core) {
    let entries = reseller_core::channels::parse_m3u(
        "#EXTM3U\n#EXTINF:-1 group-title=\"News\",News One\nhttp://origin/news1.ts\n",
    )
    .expect("the playlist parses");
    core.import_channels(&admin(), &entries)
        .await
        .expect("the playlist imports");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_on_one_instance_stops_the_old_password_on_the_other_within_a_second() {
    let (a, b) = two_instances(TestApp::spawn().await).await;
    if single_process(&a) {
        return;
    }
    assert_eq!(login(&b, PASSWORD).await, 1, "B has the password cached");

    a.core
        .reset(&admin(), &OperationId::random(), &viewer())
        .await
        .expect("the reset goes through");
    within_a_second("B refusing the old password", || async {
        login(&b, PASSWORD).await == 0
    })
    .await;
    let new = a
        .core
        .credentials(&admin(), &viewer())
        .await
        .expect("credentials")
        .password;
    assert_eq!(login(&b, &new).await, 1, "B takes the new password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_disabled_on_one_instance_cannot_watch_on_the_other_within_a_second() {
    let (a, b) = two_instances(TestApp::spawn().await).await;
    if single_process(&a) {
        return;
    }
    import_one_channel(&a.core).await;
    assert_eq!(stream(&b, "s1").await.0, 200);

    a.core
        .set_subscriber_active(&admin(), &OperationId::random(), &viewer(), false)
        .await
        .expect("the subscriber is disabled");
    within_a_second("B refusing the disabled subscriber's heartbeat", || async {
        stream(&b, "s1").await
            == (
                403,
                "subscription disabled, expired or session ended".to_string(),
            )
    })
    .await;

    a.core
        .set_subscriber_active(&admin(), &OperationId::random(), &viewer(), true)
        .await
        .expect("the subscriber is enabled again");
    within_a_second("B admitting the enabled subscriber again", || async {
        stream(&b, "s1").await.0 == 200
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_hold_across_instances() {
    let (a, b) = two_instances(TestApp::spawn().await).await;
    a.core
        .tamper_for_tests("UPDATE subscribers SET max_connections = 1")
        .await;
    import_one_channel(&a.core).await;

    assert_eq!(stream(&a, "s1").await.0, 200);
    assert_eq!(
        stream(&b, "s2").await,
        (403, "too many connections".to_string()),
        "the one connection allowed is taken on A"
    );
    let card = a.say_expecting(ADMIN, "/user viewer0", "viewer0").await;
    assert!(card.text.contains("Connections: 1 of 1"), "{}", card.text);
    assert_eq!(stream(&b, "s1").await.0, 200, "B serves A's session too");

    let end = [
        ("username", "viewer0"),
        ("password", PASSWORD),
        ("session", "s1"),
    ];
    assert_eq!(get(&a, "/auth/stream/end", &end).await.0, 204);
    assert_eq!(
        stream(&b, "s2").await.0,
        200,
        "the freed slot is usable on B"
    );
    assert_eq!(
        stream(&a, "s3").await,
        (403, "too many connections".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kick_on_one_instance_ends_the_sessions_on_the_other() {
    let (a, b) = two_instances(TestApp::spawn().await).await;
    if single_process(&a) {
        return;
    }
    import_one_channel(&a.core).await;
    assert_eq!(stream(&b, "s1").await.0, 200);
    assert_eq!(stream(&b, "s1").await.0, 200, "a heartbeat");

    let ended = a.core.kick(&admin(), &viewer()).await.expect("kicks");
    assert_eq!(ended, 1, "A ends the session B admitted");
    within_a_second("B refusing the kicked session", || async {
        stream(&b, "s1").await.0 == 403
    })
    .await;
    assert_eq!(
        stream(&a, "s1").await,
        (
            403,
            "subscription disabled, expired or session ended".to_string()
        ),
        "A refuses it too"
    );
    assert_eq!(
        stream(&b, "s2").await.0,
        200,
        "the player may connect again"
    );
    let card = a.say_expecting(ADMIN, "/user viewer0", "viewer0").await;
    assert!(card.text.contains("Connections: 1 of 3"), "{}", card.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_spread_over_instances_share_one_allowance() {
    let app = TestApp::spawn_with(|s| {
        s.policy.failed_login_burst = 3.try_into().expect("non-zero");
        s.policy.failed_login_wait_secs = 60.try_into().expect("non-zero");
    })
    .await;
    let (a, b) = two_instances(app).await;
    if single_process(&a) {
        return;
    }
    for (i, instance) in [&a, &b, &a].into_iter().enumerate() {
        assert_eq!(login(instance, &format!("guess{i}")).await, 0);
    }
    within_a_second("B refusing the address out of failures", || async {
        login(&b, PASSWORD).await == 429
    })
    .await;
    assert_eq!(login(&a, PASSWORD).await, 429);
}
