//! The change listener: a lost connection drops everything cached, since notifications sent
//! while it was away are not replayed. PostgreSQL only (SQLite has no listener: one process).

use reseller_core::Backend;
use reseller_core::bus::Event;
use reseller_core::testing;
use std::time::Duration;
use tokio::sync::broadcast::Receiver;

/// Waits for the listener to (re)connect.
async fn resynced(events: &mut Receiver<Event>) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while events.recv().await.expect("the bus is open") != Event::Resynced {}
    })
    .await
    .expect("the listener connects within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnected_listener_drops_what_it_may_have_missed() {
    let core = testing::core().await;
    if core.db().backend() == Backend::Sqlite {
        return;
    }
    core.bulk_subscribers_for_bench("viewer", 1, "secret-pass")
        .await;
    let listener = core
        .listen_for_changes()
        .await
        .expect("the listener connects")
        .expect("PostgreSQL has a listener");
    let mut events = core.events();
    let listening = tokio::spawn(listener.run(std::future::pending()));
    let active = || async {
        core.authenticate("viewer0", "secret-pass")
            .await
            .expect("lookup works")
            .expect("right password")
            .active
    };
    assert!(active().await);

    // A change no instance announced: the cached entry stands.
    core.tamper_for_tests("UPDATE subscribers SET active = 0")
        .await;
    assert!(active().await, "cached, and nobody said it changed");

    core.tamper_for_tests(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .await;
    resynced(&mut events).await;
    assert!(!active().await, "the cache was dropped on reconnection");
    listening.abort();
}
