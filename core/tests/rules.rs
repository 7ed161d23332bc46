//! The core rules under concurrency and replay, straight against `Core` on a fresh database
//! (SQLite, or PostgreSQL with TEST_DATABASE_URL). The bot-level tests in `tests/e2e` cover the
//! same rules one user at a time; these hammer them from many tasks at once.

use futures::future::join_all;
use reseller_core::domain::{Days, Limit, OperationId, TelegramId, Username};
use reseller_core::ops::Command;
use reseller_core::{Actor, Core, CoreError, testing};

const ADMIN: Actor = Actor::Admin(TelegramId(1));

fn name(s: &str) -> Username {
    Username::parse(s).expect("valid username")
}

fn days(n: i64) -> Days {
    Days::new(n).expect("valid days")
}

/// A reseller with `balance` credits.
async fn reseller(core: &Core, username: &str, balance: i64) -> Actor {
    let r = core
        .create_reseller(&ADMIN, &name(username), None)
        .await
        .expect("reseller created");
    if balance > 0 {
        core.grant(
            &ADMIN,
            &OperationId::random(),
            &name(username),
            days(balance),
            Some("seed"),
        )
        .await
        .expect("granted");
    }
    Actor::Reseller(r.id)
}

async fn balance(core: &Core, actor: &Actor) -> i64 {
    let Actor::Reseller(id) = actor else {
        panic!("not a reseller")
    };
    core.me(*id).await.expect("reseller exists").balance
}

async fn assert_sound(core: &Core) {
    let report = core.verify_ledger().await.expect("verify runs");
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_spend_exactly_the_balance() {
    let core = testing::core().await;
    let alice = reseller(&core, "alice", 95).await;
    let results = join_all((0..20).map(|i| {
        let core = core.clone();
        async move {
            core.create_subscriber(
                &alice,
                &OperationId::random(),
                &name(&format!("sub{i:02}")),
                days(10),
            )
            .await
        }
    }))
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let refused = results
        .iter()
        .filter(|r| {
            matches!(
                r,
                Err(CoreError::InsufficientCredits {
                    needed: 10,
                    balance: 5,
                    ..
                })
            )
        })
        .count();
    assert_eq!((ok, refused), (9, 11), "{results:?}");
    assert_eq!(balance(&core, &alice).await, 5);
    let page = core
        .subscribers(&alice, Default::default(), None, 0)
        .await
        .expect("list");
    assert_eq!(page.total, 9);
    assert_sound(&core).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_operation_id_run_ten_times_at_once_debits_once() {
    let core = testing::core().await;
    let alice = reseller(&core, "alice", 100).await;
    let op = OperationId::random();
    let results = join_all((0..10).map(|_| {
        let (core, op) = (core.clone(), op.clone());
        async move {
            core.create_subscriber(&alice, &op, &name("once"), days(30))
                .await
        }
    }))
    .await;
    let done: Vec<_> = results
        .into_iter()
        .map(|r| r.expect("every call sees success"))
        .collect();
    assert_eq!(done.iter().filter(|d| !d.replayed).count(), 1);
    assert!(
        done.iter()
            .all(|d| d.value.username == "once" && d.value.balance == Some(70))
    );
    assert_eq!(balance(&core, &alice).await, 70);
    assert_sound(&core).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn max_users_holds_under_concurrency() {
    let core = testing::core().await;
    let alice = reseller(&core, "alice", 1000).await;
    core.set_limit(
        &ADMIN,
        &name("alice"),
        Limit::MaxUsers,
        Limit::MaxUsers.value("3").unwrap(),
    )
    .await
    .expect("limit set");
    let results = join_all((0..8).map(|i| {
        let core = core.clone();
        async move {
            core.create_subscriber(
                &alice,
                &OperationId::random(),
                &name(&format!("cap{i}")),
                days(1),
            )
            .await
        }
    }))
    .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 3);
    assert!(
        results
            .iter()
            .any(|r| matches!(r, Err(CoreError::MaxUsersReached { max: 3, current: 3 })))
    );
    assert_eq!(
        balance(&core, &alice).await,
        997,
        "refused creates are not charged"
    );
    assert_sound(&core).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grants_and_spending_on_one_balance_interleave_without_loss() {
    let core = testing::core().await;
    let alice = reseller(&core, "alice", 50).await;
    let spends = (0..10).map(|i| {
        let core = core.clone();
        tokio::spawn(async move {
            core.create_subscriber(
                &alice,
                &OperationId::random(),
                &name(&format!("mix{i}")),
                days(5),
            )
            .await
            .is_ok()
        })
    });
    let grants = (0..10).map(|_| {
        let core = core.clone();
        tokio::spawn(async move {
            core.grant(
                &ADMIN,
                &OperationId::random(),
                &name("alice"),
                days(3),
                None,
            )
            .await
            .is_ok()
        })
    });
    let spent = join_all(spends)
        .await
        .into_iter()
        .filter(|r| *r.as_ref().unwrap())
        .count() as i64;
    let granted = join_all(grants)
        .await
        .into_iter()
        .filter(|r| *r.as_ref().unwrap())
        .count() as i64;
    assert_eq!(granted, 10);
    assert_eq!(balance(&core, &alice).await, 50 + 3 * granted - 5 * spent);
    assert_sound(&core).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_operation_id_of_someone_else_reveals_nothing() {
    let core = testing::core().await;
    let alice = reseller(&core, "alice", 100).await;
    let bob = reseller(&core, "bob", 100).await;
    let op = OperationId::random();
    core.create_subscriber(&alice, &op, &name("alices"), days(10))
        .await
        .expect("created");
    let replay = core
        .create_subscriber(&bob, &op, &name("bobs"), days(10))
        .await;
    assert!(
        matches!(replay, Err(CoreError::ConfirmationGone)),
        "{replay:?}"
    );
    assert_eq!(balance(&core, &bob).await, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposals_belong_to_their_proposer() {
    let core = testing::core().await;
    let alice = reseller(&core, "alice", 100).await;
    let bob = reseller(&core, "bob", 100).await;
    let (id, quote) = core
        .propose(
            &alice,
            Command::CreateSubscriber {
                username: name("prop"),
                days: days(40),
            },
        )
        .await
        .expect("proposed");
    assert_eq!(
        (quote.cost, quote.balance, quote.balance_after),
        (40, Some(100), Some(60))
    );
    assert!(matches!(
        core.confirm(&bob, &id).await,
        Err(CoreError::ConfirmationGone)
    ));
    assert!(
        !core.cancel(&bob, &id).await.expect("cancel runs"),
        "bob cannot cancel it either"
    );
    assert_eq!(balance(&core, &alice).await, 100);
    let first = core.confirm(&alice, &id).await.expect("confirmed");
    let second = core.confirm(&alice, &id).await.expect("replayed");
    assert!(!first.replayed && second.replayed);
    assert!(
        !core.cancel(&alice, &id).await.expect("cancel runs"),
        "done is done"
    );
    assert_eq!(balance(&core, &alice).await, 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_subscribers_renew_from_now_and_early_renewals_keep_their_days() {
    let core = testing::core().await;
    let alice = reseller(&core, "alice", 100).await;
    core.create_subscriber(&alice, &OperationId::random(), &name("early"), days(10))
        .await
        .expect("created");
    core.create_subscriber(&alice, &OperationId::random(), &name("late"), days(10))
        .await
        .expect("created");
    let now = chrono::Utc::now();
    core.set_expiry_for_tests("late", now - chrono::Duration::days(20))
        .await;
    let early = core
        .extend(&alice, &OperationId::random(), &name("early"), days(5))
        .await
        .expect("extended");
    let late = core
        .extend(&alice, &OperationId::random(), &name("late"), days(5))
        .await
        .expect("extended");
    let around = |t: chrono::DateTime<chrono::Utc>, d: i64| {
        (t - (now + chrono::Duration::days(d))).num_seconds().abs() < 60
    };
    assert!(
        around(early.value.expires_at, 15),
        "{:?}",
        early.value.expires_at
    );
    assert!(
        around(late.value.expires_at, 5),
        "{:?}",
        late.value.expires_at
    );
    assert_eq!(balance(&core, &alice).await, 70);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_shown_again_and_reset_replaces_them() {
    let core = testing::core().await;
    let alice = reseller(&core, "alice", 100).await;
    core.create_subscriber(&alice, &OperationId::random(), &name("creds"), days(10))
        .await
        .expect("created");
    let first = core
        .credentials(&alice, &name("creds"))
        .await
        .expect("shown");
    assert_eq!(first.password.len(), 10);
    assert_eq!(
        core.credentials(&alice, &name("creds"))
            .await
            .expect("shown")
            .password,
        first.password
    );
    core.reset(&alice, &OperationId::random(), &name("creds"))
        .await
        .expect("reset");
    let second = core
        .credentials(&alice, &name("creds"))
        .await
        .expect("shown");
    assert_ne!(second.password, first.password);
    assert_ne!(second.token, first.token);
    // Another reseller cannot see them.
    let bob = reseller(&core, "bob", 0).await;
    assert!(matches!(
        core.credentials(&bob, &name("creds")).await,
        Err(CoreError::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_verify_reports_a_balance_changed_behind_its_back() {
    let core = testing::core().await;
    let alice = reseller(&core, "alice", 100).await;
    core.create_subscriber(&alice, &OperationId::random(), &name("fine"), days(10))
        .await
        .expect("created");
    assert_sound(&core).await;
    core.corrupt_balance_for_tests("alice").await;
    let report = core.verify_ledger().await.expect("verify runs");
    assert_eq!(report.transactions, 2);
    assert_eq!(
        report.violations,
        vec!["reseller 1 (alice): balance 97 is not the sum of its transactions 90".to_string()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspension_stops_reads_and_writes_until_lifted() {
    let core = testing::core().await;
    let alice = reseller(&core, "alice", 100).await;
    core.create_subscriber(&alice, &OperationId::random(), &name("kept"), days(10))
        .await
        .expect("created");
    core.set_reseller_active(&ADMIN, &name("alice"), false)
        .await
        .expect("suspended");
    assert!(matches!(
        core.subscribers(&alice, Default::default(), None, 0).await,
        Err(CoreError::Suspended)
    ));
    assert!(matches!(
        core.history(&alice, None, 0).await,
        Err(CoreError::Suspended)
    ));
    assert!(matches!(
        core.reseller_stats(&alice).await,
        Err(CoreError::Suspended)
    ));
    assert!(matches!(
        core.credentials(&alice, &name("kept")).await,
        Err(CoreError::Suspended)
    ));
    assert!(matches!(
        core.create_subscriber(&alice, &OperationId::random(), &name("new1"), days(1))
            .await,
        Err(CoreError::Suspended)
    ));
    assert!(matches!(
        core.extend(&alice, &OperationId::random(), &name("kept"), days(1))
            .await,
        Err(CoreError::Suspended)
    ));
    assert_eq!(balance(&core, &alice).await, 90);
    core.set_reseller_active(&ADMIN, &name("alice"), true)
        .await
        .expect("reinstated");
    core.extend(&alice, &OperationId::random(), &name("kept"), days(1))
        .await
        .expect("works again");
}

#[tokio::test]
async fn payments_that_keep_failing_never_hold_back_the_replay_of_later_ones() {
    let core = testing::core().await;
    let alice = reseller(&core, "alice", 0).await;
    let package = core.packages(false).await.expect("packages")[0].id;
    let order = core
        .create_order(&alice, package, "stripe")
        .await
        .expect("order created");
    // More unreadable stored events than one page of the replay, all older than the good one.
    let broken: Vec<String> = (0..150)
        .map(|i| format!("('stripe', 'broken-{i}', '{{}}', '{{}}', 0, 'not json')"))
        .collect();
    core.tamper_for_tests(&format!(
        "INSERT INTO payment_events (provider, event_key, headers, body, received_at, event) VALUES {}",
        broken.join(", ")
    ))
    .await;
    let paid = reseller_core::payments::PaymentEvent::Paid {
        order: order.public_id.clone(),
        amount_minor: order.amount_minor,
        currency: order.currency.clone(),
        reference: None,
    };
    core.store_payment("stripe", "evt-late", "{}", "{}", &paid)
        .await
        .expect("stored");
    assert_eq!(core.replay_payments(0).await.expect("replays"), 1);
    assert_eq!(balance(&core, &alice).await, order.credits);
    assert_eq!(core.replay_payments(0).await.expect("replays"), 0);
    assert_sound(&core).await;
}
