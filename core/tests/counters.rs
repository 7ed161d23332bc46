//! The subscriber counters kept on reseller rows and in expiry buckets follow every change, so
//! `max_users` and the dashboards never need to count the whole table.

use reseller_core::domain::{Days, Limit, OperationId, Permission, TelegramId, Username};
use reseller_core::{Actor, CoreError, testing};

const ADMIN: Actor = Actor::Admin(TelegramId(1));

fn name(s: &str) -> Username {
    Username::parse(s).expect("valid username")
}

fn days(n: i64) -> Days {
    Days::new(n).expect("valid days")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_follow_creates_extends_disables_and_deletes() {
    let core = testing::core().await;
    let r = core
        .create_reseller(&ADMIN, &name("alice"), None)
        .await
        .unwrap();
    let alice = Actor::Reseller(r.id);
    core.grant(
        &ADMIN,
        &OperationId::random(),
        &name("alice"),
        days(3000),
        None,
    )
    .await
    .unwrap();
    core.set_permission(&ADMIN, &name("alice"), Permission::CanDeleteUsers, true)
        .await
        .unwrap();
    core.set_limit(
        &ADMIN,
        &name("alice"),
        Limit::MaxUsers,
        Limit::MaxUsers.value("2").unwrap(),
    )
    .await
    .unwrap();
    let create = |n: &'static str| {
        let core = core.clone();
        async move {
            core.create_subscriber(&alice, &OperationId::random(), &name(n), days(30))
                .await
        }
    };
    create("one").await.unwrap();
    create("two").await.unwrap();
    assert!(matches!(
        create("three").await,
        Err(CoreError::MaxUsersReached { max: 2, current: 2 })
    ));
    // An extension far ahead moves the subscriber to another expiry bucket; a disable takes it
    // out of the enabled count; the ledger check re-derives both.
    core.extend(&alice, &OperationId::random(), &name("one"), days(365))
        .await
        .unwrap();
    core.set_subscriber_active(&alice, &OperationId::random(), &name("two"), false)
        .await
        .unwrap();
    let report = core.verify_ledger().await.unwrap();
    assert!(report.violations.is_empty(), "{:?}", report.violations);

    core.delete_subscriber(&alice, &OperationId::random(), &name("two"))
        .await
        .unwrap();
    create("three").await.expect("a deletion frees a place");
    let report = core.verify_ledger().await.unwrap();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert_eq!(core.me(r.id).await.unwrap().balance, 3000 - 30 * 3 - 365);
}
