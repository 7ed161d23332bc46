//! Two instances of one deployment (`TestApp::peer`) over one database share the outboxes: each
//! sync job reaches the panel once and in order per subscriber, each notification becomes one
//! message, and work a dead instance held comes back once its lease runs out. Two in-process
//! instances on one SQLite file race like two processes would, so these assert on both databases.

use crate::panel::{FakePanel, Mode};
use crate::support::{ADMIN, TestApp};
use reseller_core::domain::{Days, OperationId, TelegramId, Username};
use reseller_core::{Actor, Core};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

const ADMIN_ACTOR: Actor = Actor::Admin(TelegramId(ADMIN));

fn webhook_to(panel: &FakePanel) -> impl FnOnce(&mut resellerbot::settings::Settings) {
    let url = format!("{}/events", panel.url);
    move |s| {
        s.sync_backend = "webhook".into();
        s.sync_webhook_url = Some(url);
        s.sync_webhook_secret = Some("panel-secret".into());
        s.sync_retry_base_secs = 0.05;
    }
}

fn name(s: &str) -> Username {
    Username::parse(s).expect("valid username")
}

fn days(n: i64) -> Days {
    Days::new(n).expect("valid days")
}

/// Polls `check` for up to twenty seconds; whether it came true.
async fn eventually(mut check: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..1000 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

async fn outbox_empty(core: &Core) -> bool {
    core.sync_status(&ADMIN_ACTOR)
        .await
        .expect("status")
        .is_empty()
}

/// The events per subscriber, in the order the panel took them: (type, expires_at).
fn by_subscriber(
    received: &[(axum::http::HeaderMap, Value)],
) -> BTreeMap<String, Vec<(String, i64)>> {
    let mut lines: BTreeMap<String, Vec<(String, i64)>> = BTreeMap::new();
    for (_, event) in received {
        lines
            .entry(event["username"].as_str().expect("a username").to_string())
            .or_default()
            .push((
                event["type"].as_str().expect("a type").to_string(),
                event["expires_at"].as_i64().expect("an expiry"),
            ));
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_deliver_each_sync_job_once_and_in_order_per_subscriber() {
    let panel = FakePanel::start().await;
    panel.set(Mode::Slow(200));
    let app = TestApp::spawn_with(webhook_to(&panel)).await;
    let peer = app.peer().await;
    const LINES: usize = 4;
    for i in 0..LINES {
        let line = name(&format!("line{i}"));
        app.core
            .create_subscriber(&ADMIN_ACTOR, &OperationId::random(), &line, days(30))
            .await
            .expect("created");
        for extra in [5, 7] {
            peer.core
                .extend(&ADMIN_ACTOR, &OperationId::random(), &line, days(extra))
                .await
                .expect("extended");
        }
    }
    let jobs = LINES * 3;
    assert!(
        eventually(async || panel.received().len() >= jobs && outbox_empty(&app.core).await).await,
        "the panel got {} of {jobs} events",
        panel.received().len()
    );
    // Time for a duplicate in flight to land.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let received = panel.received();
    assert_eq!(
        (panel.attempts(), received.len()),
        (jobs, jobs),
        "each job sent once: {:?}",
        received
            .iter()
            .map(|(_, e)| (e["id"].as_i64(), e["type"].as_str()))
            .collect::<Vec<_>>()
    );
    let keys: HashSet<String> = received
        .iter()
        .map(|(h, _)| h["idempotency-key"].to_str().expect("ascii").to_string())
        .collect();
    assert_eq!(keys.len(), jobs, "one idempotency key per job");
    let lines = by_subscriber(&received);
    assert_eq!(lines.len(), LINES);
    for (line, events) in lines {
        let kinds: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "subscriber.create",
                "subscriber.extend",
                "subscriber.extend"
            ],
            "{line}"
        );
        assert_eq!(
            (events[1].1 - events[0].1, events[2].1 - events[1].1),
            (5 * 86_400, 7 * 86_400),
            "{line}: the extensions in the order they were made"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_an_instance_died_holding_are_delivered_by_another_once_its_lease_runs_out() {
    let panel = FakePanel::start().await;
    let url = reseller_core::testing::fresh_database_url().await;
    let key = reseller_core::CredentialCipher::generate_key();
    let dead = reseller_core::testing::core_at(
        &url,
        &key,
        reseller_core::Policy {
            sync_enabled: true,
            sync_lease: Duration::from_secs(3),
            ..Default::default()
        },
    )
    .await;
    for line in ["first", "second"] {
        dead.create_subscriber(&ADMIN_ACTOR, &OperationId::random(), &name(line), days(30))
            .await
            .expect("created");
    }
    // The dead instance claimed both and was sending the first when it died.
    let held = dead.claim_sync_jobs(20).await.expect("claims");
    let claimed_at = Instant::now();
    assert_eq!(held.len(), 2);
    assert!(dead.sync_attempt_started(&held[0]).await.expect("starts"));
    drop(dead);

    let sync = webhook_to(&panel);
    let app = TestApp::spawn_with(move |s| {
        sync(s);
        s.database_url = url;
        s.credentials_key = Some(key);
        s.sync_lease_secs = 3;
    })
    .await;
    assert!(
        eventually(async || panel.received().len() >= 2 && outbox_empty(&app.core).await).await,
        "the other instance took the jobs over: {:?}",
        panel.received().iter().map(|r| &r.1).collect::<Vec<_>>()
    );
    assert!(
        claimed_at.elapsed() >= Duration::from_secs(2),
        "not before the lease ran out"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let names: Vec<String> = panel
        .received()
        .iter()
        .map(|(_, e)| e["username"].as_str().expect("a username").to_string())
        .collect();
    assert_eq!(names, ["first", "second"], "each once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_notifications_with_two_senders_become_three_hundred_messages() {
    let app = TestApp::spawn().await;
    let peer = app.peer().await;
    const N: usize = 300;
    let before = app.tg.calls("sendMessage");
    let sent_before = app.tg.sent().len();
    let values: Vec<String> = (1..=N)
        .map(|i| format!("({ADMIN}, 'notice {i}', 0)"))
        .collect();
    app.core
        .tamper_for_tests(&format!(
            "INSERT INTO notifications (telegram_id, text, created_at) VALUES {}",
            values.join(", ")
        ))
        .await;
    assert!(
        eventually(async || app.tg.calls("sendMessage") >= before + N).await,
        "{} of {N} sent",
        app.tg.calls("sendMessage") - before
    );
    // Time for a duplicate in flight to land.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        app.tg.calls("sendMessage") - before,
        N,
        "each notification sent once"
    );
    let texts: HashSet<String> = app.tg.sent()[sent_before..]
        .iter()
        .filter(|m| m.text.starts_with("notice "))
        .map(|m| m.text.clone())
        .collect();
    assert_eq!(texts.len(), N, "and every one of them");
    drop(peer);
}
