//! Outbox work claimed under leases, with two instances (two `Core`s, each its own instance) on
//! one database: SQLite, or PostgreSQL with TEST_DATABASE_URL, where the claims also race for
//! real. A lease "running out" is forged by moving its expiry into the past, so no test sleeps.

use futures::future::join_all;
use reseller_core::domain::{Days, OperationId, TelegramId, Username};
use reseller_core::lease::{Outbox, Step};
use reseller_core::sync::{Job, JobKind};
use reseller_core::{Actor, Core, CredentialCipher, Policy, testing};
use std::collections::HashSet;
use std::time::Duration;

const ADMIN: Actor = Actor::Admin(TelegramId(1));

fn name(s: &str) -> Username {
    Username::parse(s).expect("valid username")
}

fn days(n: i64) -> Days {
    Days::new(n).expect("valid days")
}

/// Two instances of one deployment over one fresh database, syncing to a panel.
async fn two_instances() -> (Core, Core) {
    let url = testing::fresh_database_url().await;
    let key = CredentialCipher::generate_key();
    let policy = || Policy {
        sync_enabled: true,
        ..Default::default()
    };
    let a = testing::core_at(&url, &key, policy()).await;
    let b = testing::core_at(&url, &key, policy()).await;
    assert_ne!(a.instance_id(), b.instance_id());
    (a, b)
}

async fn create(core: &Core, actor: &Actor, username: &str) {
    core.create_subscriber(actor, &OperationId::random(), &name(username), days(30))
        .await
        .expect("created");
}

/// Every lease on `outbox` has run out, as if its owner had died long ago.
async fn expire_leases(core: &Core, outbox: Outbox) {
    let table = match outbox {
        Outbox::SyncJobs => "sync_jobs",
        Outbox::Notifications => "notifications",
        Outbox::Broadcasts => "broadcasts",
    };
    core.tamper_for_tests(&format!(
        "UPDATE {table} SET lease_until = 0 WHERE lease_owner IS NOT NULL"
    ))
    .await;
}

/// A reseller with 100 credits, and the id to read its balance by.
async fn reseller(core: &Core) -> (Actor, reseller_core::domain::ResellerId) {
    let r = core
        .create_reseller(&ADMIN, &name("bob"), None)
        .await
        .expect("reseller created");
    core.grant(
        &ADMIN,
        &OperationId::random(),
        &name("bob"),
        days(100),
        None,
    )
    .await
    .expect("granted");
    (Actor::Reseller(r.id), r.id)
}

fn ids(jobs: &[Job]) -> Vec<i64> {
    jobs.iter().map(|j| j.id).collect()
}

async fn open_jobs(core: &Core) -> Vec<(String, String)> {
    core.sync_status(&ADMIN)
        .await
        .expect("status")
        .into_iter()
        .map(|j| (j.username, j.status))
        .collect()
}

#[tokio::test]
async fn a_job_another_instance_holds_is_not_claimed_and_holds_back_its_subscribers_later_jobs() {
    let (a, b) = two_instances().await;
    create(&a, &ADMIN, "first").await;
    a.extend(&ADMIN, &OperationId::random(), &name("first"), days(5))
        .await
        .expect("extended");
    create(&a, &ADMIN, "second").await;

    let held = a.claim_sync_jobs(1).await.expect("claims");
    assert_eq!(held.len(), 1);
    assert_eq!(
        (held[0].username.as_str(), held[0].kind),
        ("first", JobKind::Create)
    );
    let other = b.claim_sync_jobs(20).await.expect("claims");
    assert_eq!(
        other
            .iter()
            .map(|j| (j.username.as_str(), j.kind))
            .collect::<Vec<_>>(),
        [("second", JobKind::Create)],
        "neither the held creation nor the extension behind it"
    );
    assert!(b.claim_sync_jobs(20).await.expect("claims").is_empty());

    assert!(a.sync_attempt_started(&held[0]).await.expect("starts"));
    assert!(a.sync_delivered(&held[0]).await.expect("records"));
    let next = b.claim_sync_jobs(20).await.expect("claims");
    assert_eq!(
        next.iter()
            .map(|j| (j.username.as_str(), j.kind))
            .collect::<Vec<_>>(),
        [("first", JobKind::Extend)],
        "the extension once the creation is done"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_never_share_a_job() {
    let (a, b) = two_instances().await;
    for i in 0..40 {
        create(&a, &ADMIN, &format!("line{i}")).await;
    }
    let claims = join_all((0..8).map(|i| {
        let core = if i % 2 == 0 { a.clone() } else { b.clone() };
        tokio::spawn(async move { core.claim_sync_jobs(7).await.expect("claims") })
    }))
    .await;
    let mut seen = HashSet::new();
    let mut total = 0;
    for batch in claims {
        for job in batch.expect("task joins") {
            total += 1;
            assert!(seen.insert(job.id), "job {} claimed twice", job.id);
        }
    }
    assert_eq!(total, 40, "eight claims of seven cover the forty jobs");
}

#[tokio::test]
async fn a_late_answer_under_an_expired_lease_neither_reopens_nor_closes_a_job() {
    let (a, b) = two_instances().await;
    create(&a, &ADMIN, "slowpoke").await;
    let stale = a.claim_sync_jobs(20).await.expect("claims").remove(0);
    assert!(a.sync_attempt_started(&stale).await.expect("starts"));

    // A's request hangs past its lease; B takes the job over and the panel applies it.
    expire_leases(&a, Outbox::SyncJobs).await;
    let fresh = b.claim_sync_jobs(20).await.expect("claims").remove(0);
    assert_eq!(fresh.id, stale.id);
    assert_eq!(
        fresh.attempts, 1,
        "A's attempt counts: it may have reached the panel"
    );
    assert!(b.sync_attempt_started(&fresh).await.expect("starts"));
    assert!(b.sync_delivered(&fresh).await.expect("records"));

    // Then A's answers arrive: none of them counts.
    assert!(
        !a.sync_retry_later(&stale, "HTTP 503", 1)
            .await
            .expect("runs")
    );
    assert!(
        !a.sync_rejected(&stale, "HTTP 409: exists")
            .await
            .expect("runs")
    );
    assert!(!a.sync_delivered(&stale).await.expect("runs"));
    assert!(!a.sync_attempt_started(&stale).await.expect("runs"));
    assert!(
        open_jobs(&a).await.is_empty(),
        "the job stays done: {:?}",
        open_jobs(&a).await
    );
    assert!(a.claim_sync_jobs(20).await.expect("claims").is_empty());
}

#[tokio::test]
async fn a_late_delivery_never_closes_a_refunded_creation_nor_refunds_it_twice() {
    let (a, b) = two_instances().await;
    let (bob, bob_id) = reseller(&a).await;
    create(&a, &bob, "taken").await;
    assert_eq!(a.me(bob_id).await.expect("me").balance, 70);
    // A claims the creation and stalls before sending it; B's first attempt is refused.
    let stale = a.claim_sync_jobs(20).await.expect("claims").remove(0);
    expire_leases(&a, Outbox::SyncJobs).await;
    let fresh = b.claim_sync_jobs(20).await.expect("claims").remove(0);
    assert!(b.sync_attempt_started(&fresh).await.expect("starts"));
    assert!(
        b.sync_rejected(&fresh, "username exists")
            .await
            .expect("records")
    );
    assert_eq!(
        a.me(bob_id).await.expect("me").balance,
        100,
        "refunded once"
    );

    assert!(
        !a.sync_attempt_started(&stale).await.expect("runs"),
        "never sent"
    );
    assert!(!a.sync_delivered(&stale).await.expect("runs"));
    assert!(
        !a.sync_rejected(&stale, "username exists")
            .await
            .expect("runs")
    );
    assert_eq!(
        open_jobs(&a).await,
        [("taken".to_string(), "failed".to_string())],
        "the refunded creation stays failed"
    );
    assert_eq!(
        a.me(bob_id).await.expect("me").balance,
        100,
        "and refunded once"
    );
    let report = reseller_core::ledger::verify(a.db())
        .await
        .expect("verifies");
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

#[tokio::test]
async fn a_lease_whose_owner_died_returns_the_job_with_its_attempt_counted() {
    let (a, b) = two_instances().await;
    let (bob, bob_id) = reseller(&a).await;
    create(&a, &bob, "orphan").await;
    let dead = a.claim_sync_jobs(20).await.expect("claims").remove(0);
    assert!(a.sync_attempt_started(&dead).await.expect("starts"));
    drop(a);

    assert!(
        b.claim_sync_jobs(20).await.expect("claims").is_empty(),
        "not while the lease is live"
    );
    expire_leases(&b, Outbox::SyncJobs).await;
    let job = b.claim_sync_jobs(20).await.expect("claims").remove(0);
    assert_eq!((job.id, job.attempts), (dead.id, 1));
    assert!(b.sync_attempt_started(&job).await.expect("starts"));
    // The dead instance's attempt may have created the line: a refusal now is not refunded.
    assert!(
        b.sync_rejected(&job, "username exists")
            .await
            .expect("records")
    );
    assert_eq!(b.me(bob_id).await.expect("me").balance, 70);
    let status = b.sync_status(&ADMIN).await.expect("status");
    assert!(
        status[0]
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("may have reached the panel"),
        "{:?}",
        status[0].last_error
    );
}

#[tokio::test]
async fn renewing_keeps_live_leases_and_never_revives_an_expired_one() {
    let (a, b) = two_instances().await;
    create(&a, &ADMIN, "kept").await;
    assert_eq!(a.claim_sync_jobs(20).await.expect("claims").len(), 1);
    assert_eq!(a.renew_leases(Outbox::SyncJobs).await.expect("renews"), 1);
    assert!(b.claim_sync_jobs(20).await.expect("claims").is_empty());
    expire_leases(&a, Outbox::SyncJobs).await;
    assert_eq!(a.renew_leases(Outbox::SyncJobs).await.expect("renews"), 0);
    assert_eq!(b.claim_sync_jobs(20).await.expect("claims").len(), 1);
}

#[tokio::test]
async fn released_jobs_are_claimed_at_once_by_another_instance() {
    let (a, b) = two_instances().await;
    create(&a, &ADMIN, "one").await;
    create(&a, &ADMIN, "two").await;
    let held = a.claim_sync_jobs(20).await.expect("claims");
    assert_eq!(held.len(), 2);
    assert_eq!(
        a.release_leases(Outbox::SyncJobs).await.expect("releases"),
        2
    );
    assert_eq!(
        ids(&b.claim_sync_jobs(20).await.expect("claims")),
        ids(&held)
    );
    assert!(!a.sync_attempt_started(&held[0]).await.expect("runs"));
}

/// `n` notifications to Telegram user 7, numbered from 1.
async fn notifications(core: &Core, n: usize) {
    let values: Vec<String> = (1..=n).map(|i| format!("(7, 'note {i}', 0)")).collect();
    core.tamper_for_tests(&format!(
        "INSERT INTO notifications (telegram_id, text, created_at) VALUES {}",
        values.join(", ")
    ))
    .await;
}

#[tokio::test]
async fn a_notification_is_claimed_by_one_sender_and_recorded_only_under_its_lease() {
    let (a, b) = two_instances().await;
    notifications(&a, 3).await;
    let mine = a.claim_notifications(2).await.expect("claims");
    let theirs = b.claim_notifications(50).await.expect("claims");
    assert_eq!(
        (mine.len(), theirs.len(), theirs[0].text.as_str()),
        (2, 1, "note 3")
    );
    assert!(a.mark_notified(&mine[0]).await.expect("records"));

    // B stalls past its lease; A takes the message over and sends it.
    expire_leases(&a, Outbox::Notifications).await;
    let taken = a.claim_notifications(50).await.expect("claims");
    assert_eq!(
        taken.iter().map(|n| n.text.as_str()).collect::<Vec<_>>(),
        ["note 2", "note 3"]
    );
    assert!(a.mark_notified(&taken[1]).await.expect("records"));
    assert!(!b.mark_notified(&theirs[0]).await.expect("runs"));
    assert!(
        !b.mark_notification_failed(&theirs[0], "Forbidden")
            .await
            .expect("runs")
    );
    assert!(
        a.failed_notifications().await.expect("reads").is_empty(),
        "a late refusal does not mark a sent message failed"
    );
    assert!(
        a.mark_notification_failed(&taken[0], "Forbidden: blocked")
            .await
            .expect("records")
    );
    assert!(a.claim_notifications(50).await.expect("claims").is_empty());
    assert!(b.claim_notifications(50).await.expect("claims").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_worker_finishes_the_item_in_hand_and_gives_back_the_rest() {
    let (a, b) = two_instances().await;
    notifications(&a, 5).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let stop = std::sync::Mutex::new(Some(stop));
    let sent = std::sync::Mutex::new(Vec::new());
    a.work_leased(
        Outbox::Notifications,
        Duration::from_millis(50),
        async {
            let _ = stopped.await;
        },
        || a.claim_notifications(50),
        |n| {
            // The stop comes while the second message is in hand.
            if sent.lock().unwrap().len() == 1 {
                let _ = stop.lock().unwrap().take().map(|s| s.send(()));
            }
            let a = &a;
            let sent = &sent;
            async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                assert!(a.mark_notified(&n).await.expect("records"));
                sent.lock().unwrap().push(n.text);
                Step::Next
            }
        },
    )
    .await;
    assert_eq!(*sent.lock().unwrap(), ["note 1", "note 2"]);
    let rest = b.claim_notifications(50).await.expect("claims");
    assert_eq!(
        rest.iter().map(|n| n.text.as_str()).collect::<Vec<_>>(),
        ["note 3", "note 4", "note 5"],
        "given back at once, not after the lease"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_due_while_the_work_holds_the_write_connection_waits_for_it() {
    let url = testing::fresh_database_url().await;
    let key = CredentialCipher::generate_key();
    // Renewals every 100 ms, while each item holds a write for 250 ms: on SQLite (one write
    // connection) a renewal that stopped the work to wait for it would never get it.
    let policy = Policy {
        notification_lease: Duration::from_millis(300),
        ..Default::default()
    };
    let core = testing::core_at(&url, &key, policy).await;
    notifications(&core, 2).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let stop = std::sync::Mutex::new(Some(stop));
    let sent = std::sync::Mutex::new(0);
    let worked = core.work_leased(
        Outbox::Notifications,
        Duration::from_millis(50),
        async {
            let _ = stopped.await;
        },
        || core.claim_notifications(50),
        |n| {
            let (core, sent, stop) = (&core, &sent, &stop);
            async move {
                core.hold_write_for_tests(Duration::from_millis(250)).await;
                core.mark_notified(&n).await.expect("records");
                let mut sent = sent.lock().unwrap();
                *sent += 1;
                if *sent == 2 {
                    let _ = stop.lock().unwrap().take().map(|s| s.send(()));
                }
                Step::Next
            }
        },
    );
    tokio::time::timeout(Duration::from_secs(10), worked)
        .await
        .expect("the worker never waits on itself");
    assert_eq!(*sent.lock().unwrap(), 2);
}
