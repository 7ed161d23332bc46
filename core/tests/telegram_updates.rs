//! Update ids recorded once, concurrently too, pruned after a day; the poller lock held by one
//! core at a time on PostgreSQL (SQLite has one process, so it is always granted).

use futures::future::join_all;
use reseller_core::testing;
use std::time::Duration;

#[tokio::test]
async fn an_update_id_is_taken_once_however_many_deliver_it() {
    let core = testing::core().await;
    let takes = join_all((0..8).map(|_| core.record_update(41))).await;
    let taken = takes
        .into_iter()
        .map(|t| t.expect("records"))
        .filter(|t| *t)
        .count();
    assert_eq!(taken, 1);
    assert!(core.record_update(42).await.expect("records"));
}

#[tokio::test]
async fn recorded_ids_are_forgotten_after_a_day() {
    let core = testing::core().await;
    assert!(core.record_update(7).await.expect("records"));
    assert!(core.record_update(8).await.expect("records"));
    let day = Duration::from_secs(24 * 60 * 60);
    assert_eq!(core.prune_updates(day).await.expect("prunes"), 0);
    core.tamper_for_tests(
        "UPDATE telegram_updates SET received_at = received_at - 86401 WHERE update_id = 7",
    )
    .await;
    assert_eq!(core.prune_updates(day).await.expect("prunes"), 1);
    assert!(core.record_update(7).await.expect("records"));
    assert!(!core.record_update(8).await.expect("records"));
}

#[tokio::test]
async fn one_core_holds_the_poller_lock_until_it_releases_it() {
    let core = testing::core().await;
    let held = core.try_poller_lock(99).await.expect("asks");
    assert!(held.is_some());
    if core.db().backend() == reseller_core::Backend::Sqlite {
        return;
    }
    let other = core.try_poller_lock(99).await.expect("asks");
    assert!(other.is_none(), "a second poller is refused");
    assert!(
        core.try_poller_lock(100).await.expect("asks").is_some(),
        "another bot's lock is another lock"
    );
    held.expect("held").release().await;
    assert!(core.try_poller_lock(99).await.expect("asks").is_some());
}
