//! Notifications straight against `Core`: the low-credit alert once per crossing (racing
//! debits included), preferences that stop a kind from being queued, and scheduled digests
//! queued once per local day at the configured hour (SQLite, or PostgreSQL with
//! TEST_DATABASE_URL).

use chrono::{TimeZone, Utc};
use reseller_core::domain::{Days, OperationId, TelegramId, Username};
use reseller_core::notify::Kind;
use reseller_core::ops::Command;
use reseller_core::{Actor, Core, Policy, testing};

const ADMIN: Actor = Actor::Admin(TelegramId(1));

fn name(s: &str) -> Username {
    Username::parse(s).expect("valid username")
}

/// A reseller linked to Telegram account `telegram_id`, with `balance` credits.
async fn reseller(core: &Core, username: &str, telegram_id: i64, balance: i64) -> Actor {
    let r = core
        .create_reseller(&ADMIN, &name(username), None)
        .await
        .expect("reseller created");
    core.redeem_invite(TelegramId(telegram_id), &r.invite.code)
        .await
        .expect("linked");
    if balance > 0 {
        grant(core, username, balance).await;
    }
    Actor::Reseller(r.id)
}

async fn grant(core: &Core, username: &str, credits: i64) {
    core.grant(
        &ADMIN,
        &OperationId::random(),
        &name(username),
        Days::new(credits).unwrap(),
        None,
    )
    .await
    .expect("granted");
}

async fn deduct(core: &Core, username: &str, credits: i64) {
    core.deduct(
        &ADMIN,
        &OperationId::random(),
        &name(username),
        Days::new(credits).unwrap(),
        "test",
    )
    .await
    .expect("deducted");
}

async fn queued(core: &Core, kind: Kind) -> i64 {
    core.scalar_for_tests(&format!(
        "SELECT COUNT(*) FROM notifications WHERE kind = '{}'",
        kind.name()
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn low_credit_alert_is_queued_once_per_crossing() {
    let core = testing::core().await;
    reseller(&core, "alice", 5_001, 40).await;
    // Granting into a balance still below the threshold would not alert; 40 is above it.
    assert_eq!(queued(&core, Kind::LowCredit).await, 0);

    // Two debits racing across the threshold (40 → 28): one alert.
    tokio::join!(deduct(&core, "alice", 6), deduct(&core, "alice", 6));
    assert_eq!(queued(&core, Kind::LowCredit).await, 1);
    deduct(&core, "alice", 3).await;
    assert_eq!(
        queued(&core, Kind::LowCredit).await,
        1,
        "still below: no second alert"
    );

    // A grant that leaves it below clears nothing and says nothing; one above re-arms it.
    grant(&core, "alice", 1).await;
    assert_eq!(queued(&core, Kind::LowCredit).await, 1);
    grant(&core, "alice", 20).await; // 46
    deduct(&core, "alice", 20).await; // 26
    assert_eq!(
        queued(&core, Kind::LowCredit).await,
        2,
        "a second crossing alerts again"
    );

    // Every credit movement by the admin was reported: 3 grants + 4 deductions.
    assert_eq!(queued(&core, Kind::CreditMovement).await, 7);
}

#[tokio::test]
async fn a_switched_off_kind_is_not_queued_and_bad_settings_change_nothing() {
    let core = testing::core().await;
    let alice = reseller(&core, "alice", 5_001, 100).await;
    let settings = core
        .set_notification(&alice, Kind::CreditMovement, false)
        .await
        .expect("switched off");
    assert!(settings.kinds.contains(&(Kind::CreditMovement, false)));
    grant(&core, "alice", 5).await;
    assert_eq!(
        queued(&core, Kind::CreditMovement).await,
        1,
        "only the first grant"
    );

    let refused = core
        .set_notification(&alice, Kind::DailySummary, false)
        .await;
    assert!(refused.is_err(), "an admin kind is not a reseller's");
    let e = core.set_low_credit_threshold(&alice, -5).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("from 0 to 1000000 credits; you gave -5"),
        "{e}"
    );
    let e = core
        .set_time_zone(&alice, "Mars/Olympus")
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("“Mars/Olympus” is not a time zone"),
        "{e}"
    );
    let settings = core.notification_settings(&alice).await.unwrap();
    assert_eq!(settings.reseller, Some((30, "UTC".to_string())));

    // Raising the level above the balance reports it at once, as a crossing.
    core.set_low_credit_threshold(&alice, 200).await.unwrap();
    assert_eq!(queued(&core, Kind::LowCredit).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn digests_are_queued_once_per_local_day_in_the_digest_hour() {
    let mut policy = Policy::default();
    policy.notifications.digest_hour = 9;
    let core = testing::core_with(policy).await;
    let tokyo = reseller(&core, "tokyo", 5_001, 100).await;
    core.set_time_zone(&tokyo, "Asia/Tokyo").await.unwrap();
    let london = reseller(&core, "london", 5_002, 100).await;
    for (actor, username) in [(&tokyo, "tsub1"), (&london, "lsub1")] {
        let (id, _) = core
            .propose(
                actor,
                Command::CreateSubscriber {
                    username: name(username),
                    days: Days::new(2).unwrap(),
                },
            )
            .await
            .expect("proposed");
        core.confirm(actor, &id).await.expect("created");
    }
    let today = Utc::now().date_naive();
    let at = |hour, minute| Utc.from_utc_datetime(&today.and_hms_opt(hour, minute, 0).unwrap());

    // 00:30 UTC is 09:30 in Tokyo: Tokyo's digest, not London's (UTC), no summary.
    let (a, b) = tokio::join!(
        core.queue_scheduled(at(0, 30)),
        core.queue_scheduled(at(0, 30))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.digests + b.digests, 1, "two passes at once queue it once");
    assert_eq!(a.summaries + b.summaries, 0);
    assert_eq!(core.queue_scheduled(at(0, 59)).await.unwrap().digests, 0);

    // 09:10 UTC: London's digest and the admins' summary; Tokyo's day already had its own.
    let q = core.queue_scheduled(at(9, 10)).await.unwrap();
    assert_eq!((q.digests, q.summaries), (1, 1));
    assert_eq!(queued(&core, Kind::ExpiryDigest).await, 2);

    // Catching up queues nothing already queued for its day (Tokyo's local day may have
    // moved on by now, so only London's and the summary are certain to be done).
    core.queue_digests_now(&ADMIN).await.unwrap();
    let Actor::Reseller(london) = london else {
        unreachable!()
    };
    let runs = |job: String| {
        let core = core.clone();
        async move {
            core.scalar_for_tests(&format!(
                "SELECT COUNT(*) FROM scheduled_runs WHERE job = '{job}'"
            ))
            .await
        }
    };
    assert_eq!(runs(format!("digest:{}", london.0)).await, 1);
    assert_eq!(runs("summary".into()).await, 1);
    assert!(core.queue_digests_now(&tokyo).await.is_err(), "admins only");
}
