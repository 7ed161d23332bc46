//! `GET /metrics`: the counters show what happened, with the right labels and values; the
//! gauges match the database; a set token is required.
//!
//! The `metrics` recorder is one per process, and the other e2e tests run in this process at
//! the same time, moving the same counters. So each test here runs alone, in a child process
//! of this test binary, and the figures it asserts are its own.

use crate::panel::{FakePanel, Mode};
use crate::support::{ADMIN, TestApp};
use reseller_core::Actor;
use reseller_core::domain::{Days, OperationId, TelegramId, Username};
use std::collections::BTreeMap;
use std::time::Duration;

const ALICE: i64 = 2_001;
const TOKEN: &str = "scrape-me-e2e";
const STRIPE_SECRET: &str = "whsec_metrics_e2e";
/// A series' labels, as (name, value) pairs.
type Labels<'a> = &'a [(&'a str, &'a str)];
/// Set in the child process that runs one test alone.
const ALONE: &str = "RESELLERBOT_METRICS_TEST_ALONE";

/// In the test process: runs test `name` alone in a child process, asserts it passed, and
/// returns true (the caller stops). In that child: returns false (the caller runs the test).
fn ran_alone(name: &str) -> bool {
    if std::env::var_os(ALONE).is_some() {
        return false;
    }
    let out = std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env(ALONE, "1")
        .output()
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{name} failed in its own process:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

async fn app_with(panel: &FakePanel) -> TestApp {
    let url = panel.url.clone();
    TestApp::spawn_with(move |s| {
        s.metrics_token = Some(TOKEN.into());
        s.stripe_webhook_secret = Some(STRIPE_SECRET.into());
        s.sync_backend = "webhook".into();
        s.sync_webhook_url = Some(format!("{url}/events"));
        s.sync_webhook_secret = Some("panel-secret".into());
        s.sync_retry_base_secs = 0.05;
    })
    .await
}

/// `/metrics` with `token` as the bearer token: its status and body.
async fn scrape(app: &TestApp, token: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new().get(format!("http://{}/metrics", app.http));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("answers");
    (resp.status().as_u16(), resp.text().await.expect("a body"))
}

/// The value of the series `name{labels}` (labels in any order), if present.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted: BTreeMap<&str, &str> = labels.iter().copied().collect();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, number) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
            if metric != name {
                return None;
            }
            let got: BTreeMap<&str, &str> = rest
                .trim_end_matches('}')
                .split(',')
                .filter(|p| !p.is_empty())
                .filter_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    Some((k, v.trim_matches('"')))
                })
                .collect();
            (got == wanted).then(|| number.parse().ok()).flatten()
        })
}

/// Scrapes until `ready` holds for the body (the last handler may still be recording), at
/// most a few seconds; returns the last body.
async fn scrape_until(app: &TestApp, ready: impl Fn(&str) -> bool) -> String {
    let mut body = String::new();
    for _ in 0..100 {
        let (status, text) = scrape(app, Some(TOKEN)).await;
        assert_eq!(status, 200, "{text}");
        body = text;
        if ready(&body) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    body
}

fn stripe_paid(order: &str) -> String {
    serde_json::json!({
        "id": "evt_metrics_paid", "object": "event", "type": "checkout.session.completed",
        "created": 1,
        "data": { "object": {
            "id": "cs_metrics", "object": "checkout.session", "payment_status": "paid",
            "amount_total": 5000, "currency": "usd", "client_reference_id": order,
            "payment_intent": "pi_metrics", "metadata": { "order_id": order }
        } }
    })
    .to_string()
}

async fn post_stripe(app: &TestApp, body: &str, secret: &str) -> u16 {
    use hmac::{Hmac, Mac};
    let t = chrono::Utc::now().timestamp();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let header = format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()));
    reqwest::Client::new()
        .post(format!("http://{}/webhooks/stripe", app.http))
        .header("stripe-signature", header)
        .body(body.to_string())
        .send()
        .await
        .expect("answers")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_show_each_action_with_its_labels_and_a_token_is_required() {
    if ran_alone("metrics::counters_show_each_action_with_its_labels_and_a_token_is_required") {
        return;
    }
    let panel = FakePanel::start().await;
    let app = app_with(&panel).await;
    // Messages 1 and 2: the invite and its opening; 3 and a press: the grant.
    app.reseller("alice", ALICE).await;
    app.grant("alice", 100).await;
    // Message 4 and a press: a creation, which the panel then receives.
    let card = app.say_expecting(ALICE, "/new 30 watcher", "?").await;
    let done = app.press(ALICE, &card, "Confirm").await;
    assert!(done.text.contains("watcher"), "{}", done.text);
    let created = panel.wait_for(1).await;
    let password = created[0].1["password"].as_str().expect("a password");
    // A creation refused: the username is taken.
    let alice = Actor::Reseller(
        app.core
            .identify(TelegramId(ALICE))
            .await
            .unwrap()
            .and_then(|a| match a {
                Actor::Reseller(id) => Some(id),
                Actor::Admin(_) => None,
            })
            .expect("alice is a reseller"),
    );
    let taken = app
        .core
        .create_subscriber(
            &alice,
            &OperationId::random(),
            &Username::parse("watcher").unwrap(),
            Days::new(5).unwrap(),
        )
        .await;
    assert!(taken.is_err(), "{taken:?}");
    // A player logs in, once with the right password and once with a wrong one.
    for pass in [password, "wrong-password"] {
        let status = reqwest::Client::new()
            .get(format!("http://{}/player_api.php", app.http))
            .query(&[("username", "watcher"), ("password", pass)])
            .send()
            .await
            .expect("answers")
            .status();
        assert_eq!(status, 200);
    }
    // A paid order through Stripe, and a forged copy of its webhook.
    let package = app
        .core
        .packages(false)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.name == "Starter")
        .expect("the Starter package")
        .id;
    let order = app
        .core
        .create_order(&alice, package, "stripe")
        .await
        .unwrap();
    let paid = stripe_paid(&order.public_id);
    assert_eq!(post_stripe(&app, &paid, STRIPE_SECRET).await, 200);
    assert_eq!(post_stripe(&app, &paid, "whsec_forged").await, 401);
    assert_eq!(post_stripe(&app, &paid, STRIPE_SECRET).await, 200);

    assert_eq!(scrape(&app, None).await.0, 401, "no token");
    assert_eq!(
        scrape(&app, Some("not-the-token")).await.0,
        401,
        "a wrong token"
    );
    let body = scrape_until(&app, |b| {
        value(
            b,
            "resellerbot_bot_update_seconds_count",
            &[("kind", "message")],
        ) == Some(4.0)
            && value(
                b,
                "resellerbot_sync_deliveries_total",
                &[("outcome", "done")],
            ) == Some(1.0)
    })
    .await;
    let is = |name: &str, labels: &[(&str, &str)]| value(&body, name, labels);
    assert_eq!(
        is(
            "resellerbot_bot_update_seconds_count",
            &[("kind", "message")]
        ),
        Some(4.0),
        "{body}"
    );
    assert_eq!(
        is(
            "resellerbot_bot_update_seconds_count",
            &[("kind", "callback_query")]
        ),
        Some(2.0),
        "{body}"
    );
    let creations = |outcome| {
        is(
            "resellerbot_subscriber_creations_total",
            &[("outcome", outcome)],
        )
    };
    assert_eq!(creations("created"), Some(1.0), "{body}");
    assert_eq!(creations("failed"), Some(1.0), "{body}");
    let credits = |kind| is("resellerbot_credit_transactions_total", &[("kind", kind)]);
    assert_eq!(credits("credit"), Some(1.0), "the grant: {body}");
    assert_eq!(credits("debit"), Some(1.0), "the creation: {body}");
    assert_eq!(credits("purchase"), Some(1.0), "the payment: {body}");
    assert_eq!(credits("refund"), None, "{body}");
    let webhooks = |outcome| {
        is(
            "resellerbot_webhooks_total",
            &[("provider", "stripe"), ("outcome", outcome)],
        )
    };
    assert_eq!(webhooks("applied"), Some(1.0), "{body}");
    assert_eq!(webhooks("duplicate"), Some(1.0), "{body}");
    assert_eq!(webhooks("refused"), Some(1.0), "{body}");
    let logins = |status| {
        is(
            "resellerbot_player_requests_total",
            &[("endpoint", "player_api"), ("status", status)],
        )
    };
    // Xtream players expect a refused login as a 200 too (with `auth: 0`).
    assert_eq!(logins("200"), Some(2.0), "{body}");
    assert_eq!(
        is(
            "resellerbot_player_request_seconds_count",
            &[("endpoint", "player_api")]
        ),
        Some(2.0),
        "both logins are timed: {body}"
    );
    assert_eq!(
        is("resellerbot_sync_deliveries_total", &[("outcome", "done")]),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        is(
            "resellerbot_sync_delivery_seconds_count",
            &[("outcome", "done")]
        ),
        Some(1.0),
        "{body}"
    );
    assert!(
        !body.contains("resellerbot_errors_total"),
        "nothing failed on our side: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gauges_match_the_database() {
    if ran_alone("metrics::gauges_match_the_database") {
        return;
    }
    let panel = FakePanel::start().await;
    // The panel is down: the sync jobs stay open.
    panel.set(Mode::Down);
    let app = app_with(&panel).await;
    app.reseller("alice", ALICE).await;
    app.reseller("bob", ALICE + 1).await;
    app.grant("alice", 100).await;
    let admin = Actor::Admin(TelegramId(ADMIN));
    for name in ["live", "lapsed", "off", "spare"] {
        app.core
            .create_subscriber(
                &admin,
                &OperationId::random(),
                &Username::parse(name).unwrap(),
                Days::new(30).unwrap(),
            )
            .await
            .expect("created");
    }
    app.core
        .set_expiry_for_tests("lapsed", chrono::Utc::now() - chrono::Duration::days(2))
        .await;
    app.core
        .tamper_for_tests(
            "UPDATE subscribers SET active = 0 WHERE username = 'off'; \
             UPDATE subscribers SET active_connections = 2 WHERE username = 'live'; \
             UPDATE resellers SET active = 0 WHERE username = 'bob'; \
             UPDATE sync_jobs SET created_at = created_at - 3600",
        )
        .await;
    // Notifications go out while the bot runs: wait until the outbox is empty, so that it
    // cannot move between the scrape and the check.
    let unsent = "SELECT COUNT(*) FROM notifications WHERE sent_at IS NULL AND failed_at IS NULL";
    for _ in 0..200 {
        if app.core.scalar_for_tests(unsent).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let (status, body) = scrape(&app, Some(TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    let gauge = |name: &str, labels: &[(&str, &str)]| {
        value(&body, name, labels).unwrap_or_else(|| panic!("{name} is missing: {body}")) as i64
    };
    let db = |sql: &'static str| app.core.scalar_for_tests(sql);
    let now = chrono::Utc::now().timestamp();
    let checks: [(&str, Labels, i64); 6] = [
        (
            "resellerbot_subscribers",
            &[("state", "active")],
            app.core
                .scalar_for_tests(&format!(
                    "SELECT COUNT(*) FROM subscribers WHERE active = 1 AND expires_at > {now}"
                ))
                .await,
        ),
        (
            "resellerbot_subscribers",
            &[("state", "expired")],
            app.core
                .scalar_for_tests(&format!(
                    "SELECT COUNT(*) FROM subscribers WHERE active = 1 AND expires_at <= {now}"
                ))
                .await,
        ),
        (
            "resellerbot_resellers_active",
            &[],
            db("SELECT COUNT(*) FROM resellers WHERE active = 1").await,
        ),
        (
            "resellerbot_credits_outstanding",
            &[],
            db("SELECT CAST(COALESCE(SUM(balance), 0) AS BIGINT) FROM resellers").await,
        ),
        (
            "resellerbot_live_sessions",
            &[],
            db("SELECT CAST(COALESCE(SUM(active_connections), 0) AS BIGINT) FROM subscribers")
                .await,
        ),
        (
            "resellerbot_sync_jobs_open",
            &[],
            db("SELECT COUNT(*) FROM sync_jobs WHERE status IN ('pending', 'retrying')").await,
        ),
    ];
    for (name, labels, expected) in checks {
        assert_eq!(gauge(name, labels), expected, "{name}{labels:?}: {body}");
    }
    // What this test set up, so the comparison above is not of empty tables.
    assert_eq!(gauge("resellerbot_subscribers", &[("state", "active")]), 2);
    assert_eq!(gauge("resellerbot_subscribers", &[("state", "expired")]), 1);
    assert_eq!(gauge("resellerbot_resellers_active", &[]), 1);
    assert_eq!(gauge("resellerbot_credits_outstanding", &[]), 100);
    assert_eq!(gauge("resellerbot_live_sessions", &[]), 2);
    assert_eq!(gauge("resellerbot_sync_jobs_open", &[]), 4);
    let oldest = gauge("resellerbot_sync_oldest_open_age_seconds", &[]);
    assert!((3600..3660).contains(&oldest), "{oldest}: {body}");
    assert_eq!(
        gauge("resellerbot_notifications_unsent", &[]),
        db(unsent).await,
        "{body}"
    );

    // A second instance reads the same database, so its gauges say the same.
    let peer = app.peer().await;
    let (status, theirs) = scrape(&peer, Some(TOKEN)).await;
    assert_eq!(status, 200, "{theirs}");
    for name in ["resellerbot_resellers_active", "resellerbot_sync_jobs_open"] {
        assert_eq!(
            value(&theirs, name, &[]),
            value(&body, name, &[]),
            "{theirs}"
        );
    }
}
