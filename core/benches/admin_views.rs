//! How long the admins' views take at operator scale: 1,000 resellers and 1,000,000
//! subscribers, on SQLite or (with TEST_DATABASE_URL) on PostgreSQL. Not a test: it prints
//! figures. Target: under 50 ms for a page of `/resellers` and for the admin `/stats`.
//!
//!     cargo bench -p reseller-core --features test-support --bench admin_views

mod support;

use reseller_core::Actor;
use reseller_core::domain::TelegramId;
use std::time::Instant;

use support::{measure, report};

const RESELLERS: i64 = 1_000;
const SUBSCRIBERS: i64 = 1_000_000;
const CHUNK: i64 = 100_000;
const RUNS: usize = 40;

#[tokio::main]
async fn main() {
    let postgres = std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty());
    println!(
        "admin views on {}: {RESELLERS} resellers, {SUBSCRIBERS} subscribers",
        if postgres { "PostgreSQL" } else { "SQLite" }
    );
    let core = reseller_core::testing::core().await;
    let admin = Actor::Admin(TelegramId(1));
    let seeding = Instant::now();
    let first = core.seed_resellers_for_bench("shop", RESELLERS).await;
    for chunk in 0..SUBSCRIBERS / CHUNK {
        core.seed_subscribers_for_bench(&format!("s{chunk}x"), CHUNK, first, RESELLERS)
            .await;
    }
    // What autovacuum and a periodic ANALYZE give a live database.
    core.tamper_for_tests(if postgres {
        "VACUUM ANALYZE"
    } else {
        "ANALYZE"
    })
    .await;
    println!("seeded in {:.1} s", seeding.elapsed().as_secs_f64());

    for page in [0, RESELLERS / 20, RESELLERS / 10 - 1] {
        let times = measure(RUNS, || async {
            let p = core.resellers(&admin, page).await.expect("overview");
            assert_eq!(p.items.len(), 10);
        })
        .await;
        report(&format!("/resellers page {}", page + 1), &times);
    }
    let times = measure(RUNS, || async {
        let stats = core.global_stats(&admin).await.expect("stats");
        assert_eq!(stats.counts.total, SUBSCRIBERS);
    })
    .await;
    report("admin /stats", &times);
}
