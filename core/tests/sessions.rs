//! Live viewing sessions against a real database (SQLite, or PostgreSQL with TEST_DATABASE_URL).

use reseller_core::connections::Verdict;
use reseller_core::testing;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_whose_count_was_not_written_does_not_hold_a_slot() {
    let core = testing::core().await;
    core.bulk_subscribers_for_bench("viewer", 1, "secret-pass")
        .await;
    let access = core
        .authenticate("viewer0", "secret-pass")
        .await
        .expect("lookup works")
        .expect("right password");
    assert_eq!(access.max_connections, 3);
    for s in ["s1", "s2"] {
        assert_eq!(
            core.authorize_stream(&access, s).await.unwrap(),
            Verdict::Allow
        );
    }

    core.rename_table_for_tests("subscribers", "subscribers_away")
        .await;
    assert!(
        core.authorize_stream(&access, "s3").await.is_err(),
        "the count cannot be written"
    );
    core.rename_table_for_tests("subscribers_away", "subscribers")
        .await;
    assert_eq!(core.live_connections("viewer0"), 2, "s3 was not admitted");

    assert_eq!(
        core.authorize_stream(&access, "s3-retry").await.unwrap(),
        Verdict::Allow,
        "the player's retry takes the slot at once"
    );
    assert_eq!(core.live_connections("viewer0"), 3);
    assert_eq!(
        core.authorize_stream(&access, "s4").await.unwrap(),
        Verdict::TooManyConnections
    );
}

/// Sessions no instance refreshed for the idle timeout are deleted by any instance's clean-up,
/// and the subscriber's `active_connections` follows; a second instance (another `Core` on the
/// same database) counts the sessions the first admitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_counted_in_the_database_and_idle_ones_cleaned_up() {
    use reseller_core::Actor;
    use reseller_core::domain::{TelegramId, Username};

    let url = testing::fresh_database_url().await;
    let key = reseller_core::CredentialCipher::generate_key();
    let policy = reseller_core::Policy::default;
    let (a, b) = (
        testing::core_at(&url, &key, policy()).await,
        testing::core_at(&url, &key, policy()).await,
    );
    a.bulk_subscribers_for_bench("viewer", 1, "secret-pass")
        .await;
    let access = a
        .authenticate("viewer0", "secret-pass")
        .await
        .expect("lookup works")
        .expect("right password");
    for (core, s) in [(&a, "s1"), (&b, "s2"), (&a, "s3")] {
        assert_eq!(
            core.authorize_stream(&access, s).await.unwrap(),
            Verdict::Allow
        );
    }
    assert_eq!(
        b.authorize_stream(&access, "s4").await.unwrap(),
        Verdict::TooManyConnections,
        "three sessions live over both instances"
    );
    let admin = Actor::Admin(TelegramId(1));
    let viewer = Username::parse("viewer0").expect("valid");
    let connections = || async {
        a.subscriber(&admin, &viewer)
            .await
            .expect("found")
            .active_connections
    };
    assert_eq!(connections().await, Some(3));

    a.tamper_for_tests(
        "UPDATE stream_sessions SET last_seen = last_seen - 91 WHERE session IN ('s1', 's2')",
    )
    .await;
    b.clean_up_shared().await.expect("clean-up runs");
    assert_eq!(connections().await, Some(1), "s1 and s2 went idle");
    assert_eq!(
        b.authorize_stream(&access, "s4").await.unwrap(),
        Verdict::Allow,
        "their slots are free"
    );
}
