//! `ledger verify` on a live database: no false alarms while money moves, and every kind of
//! damage it promises to find is found, with a sentence naming it.

use reseller_core::domain::{Days, OperationId, TelegramId, Username};
use reseller_core::{Actor, Backend, Core, testing};

const ADMIN: Actor = Actor::Admin(TelegramId(1));

fn name(s: &str) -> Username {
    Username::parse(s).expect("valid username")
}

async fn grant(core: &Core, reseller: &str, credits: i64) {
    core.grant(
        &ADMIN,
        &OperationId::random(),
        &name(reseller),
        Days::new(credits).expect("valid days"),
        Some("seed"),
    )
    .await
    .expect("granted");
}

async fn violations(core: &Core) -> Vec<String> {
    core.verify_ledger().await.expect("verify runs").violations
}

/// A reseller with credits and one subscriber, on a sound ledger.
async fn live() -> (Core, Actor) {
    let core = testing::core().await;
    let r = core
        .create_reseller(&ADMIN, &name("alice"), None)
        .await
        .expect("reseller created");
    let alice = Actor::Reseller(r.id);
    grant(&core, "alice", 100).await;
    core.create_subscriber(
        &alice,
        &OperationId::random(),
        &name("first.one"),
        Days::new(30).unwrap(),
    )
    .await
    .expect("created");
    assert!(violations(&core).await.is_empty());
    (core, alice)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_sees_one_snapshot_while_credits_move() {
    let (core, alice) = live().await;
    let writer = {
        let core = core.clone();
        tokio::spawn(async move {
            for i in 0..150 {
                grant(&core, "alice", 2).await;
                core.create_subscriber(
                    &alice,
                    &OperationId::random(),
                    &name(&format!("busy.{i}")),
                    Days::new(1).unwrap(),
                )
                .await
                .expect("created");
            }
        })
    };
    let mut runs = 0;
    while !writer.is_finished() {
        let found = violations(&core).await;
        assert!(found.is_empty(), "false alarm on a live system: {found:?}");
        runs += 1;
    }
    writer.await.expect("writer finishes");
    assert!(runs > 1, "verify ran {runs} times during the writes");
    assert!(violations(&core).await.is_empty());
}

#[tokio::test]
async fn a_row_whose_sign_does_not_fit_its_kind_is_reported() {
    let (core, _) = live().await;
    // A debit that adds credits, kept consistent otherwise (chain and balance both follow it).
    core.tamper_for_tests(
        "UPDATE credit_transactions SET amount = 30, balance_after = balance_before + 30 \
         WHERE kind = 'debit'; UPDATE resellers SET balance = 130",
    )
    .await;
    let found = violations(&core).await;
    assert!(
        found
            .iter()
            .any(|v| v.contains("a debit of 30 credits should take credits")),
        "{found:?}"
    );
}

#[tokio::test]
async fn a_payment_row_for_an_unpaid_order_is_reported() {
    let (core, alice) = live().await;
    let package = core.packages(false).await.unwrap().remove(0);
    let order = core
        .create_order(&alice, package.id, "stripe")
        .await
        .expect("order created");
    // A purchase row for the still pending order, balance moved with it.
    core.tamper_for_tests(&format!(
        "INSERT INTO credit_transactions (reseller_id, amount, kind, balance_before, balance_after, actor, \
         idempotency_key, created_at) SELECT 1, 5, 'purchase', 70, 75, 'payment:stripe', \
         'order:' || CAST(id AS TEXT) || ':purchase', 0 FROM orders WHERE public_id = '{}'; \
         UPDATE resellers SET balance = 75",
        order.public_id
    ))
    .await;
    let found = violations(&core).await;
    assert!(
        found
            .iter()
            .any(|v| v.contains("a purchase for order") && v.ends_with("which is pending")),
        "{found:?}"
    );
}

#[tokio::test]
async fn ledger_rows_of_a_missing_reseller_are_reported() {
    let (core, _) = live().await;
    // As an operator's hand edit could: the sqlite3 shell runs without foreign keys.
    let insert = "INSERT INTO credit_transactions (reseller_id, amount, kind, balance_before, \
         balance_after, actor, idempotency_key, created_at) VALUES (999, 10, 'credit', 0, 10, 'admin:1', 'ghost', 0)";
    core.tamper_for_tests(&match core.db().backend() {
        Backend::Sqlite => format!("PRAGMA foreign_keys = OFF; {insert}; PRAGMA foreign_keys = ON"),
        Backend::Postgres => format!(
            "ALTER TABLE credit_transactions DROP CONSTRAINT credit_transactions_reseller_id_fkey; {insert}"
        ),
    })
    .await;
    let found = violations(&core).await;
    assert!(
        found
            .iter()
            .any(|v| v.contains("reseller 999 does not exist")),
        "{found:?}"
    );
}

#[tokio::test]
async fn subscriber_counters_that_drift_are_reported() {
    let (core, _) = live().await;
    core.tamper_for_tests(
        "UPDATE resellers SET subscriber_count = 5; UPDATE expiry_buckets SET enabled = enabled + 2",
    )
    .await;
    let found = violations(&core).await;
    assert!(
        found
            .iter()
            .any(|v| v.contains("(alice): subscriber count 5 but 1 subscribers")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|v| v.contains("3 enabled subscribers kept but 1 counted")),
        "{found:?}"
    );
}
