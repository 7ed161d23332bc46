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
