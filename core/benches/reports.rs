//! How long the month report, the charts and the summary export take at operator scale:
//! 1,000 resellers, 1,000,000 subscribers and 1,000,000 ledger and audit rows, on SQLite or
//! (with TEST_DATABASE_URL) on PostgreSQL. Not a test: it prints figures. Target: every
//! report under 2 s on PostgreSQL.
//!
//!     TEST_DATABASE_URL=postgres://... cargo bench -p reseller-core --features test-support --bench reports

mod support;

use reseller_core::Actor;
use reseller_core::domain::{ResellerId, TelegramId};
use reseller_core::reports::{Chart, Export, Month};
use std::time::Instant;

use support::{measure, report};

const RESELLERS: i64 = 1_000;
const SUBSCRIBERS: i64 = 1_000_000;
const ACTIVITY: i64 = 1_000_000;
const CHUNK: i64 = 100_000;
const RUNS: usize = 5;

#[tokio::main]
async fn main() {
    let postgres = std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty());
    println!(
        "reports on {}: {RESELLERS} resellers, {SUBSCRIBERS} subscribers, {ACTIVITY} ledger rows",
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
    for chunk in 0..ACTIVITY / CHUNK {
        core.seed_activity_for_bench(&format!("a{chunk}x"), CHUNK, first, RESELLERS)
            .await;
    }
    core.tamper_for_tests(if postgres {
        "VACUUM ANALYZE"
    } else {
        "ANALYZE"
    })
    .await;
    println!("seeded in {:.1} s", seeding.elapsed().as_secs_f64());

    let reseller = Actor::Reseller(ResellerId(first + 7));
    let month = Month::current();
    for (name, actor) in [("admin", &admin), ("reseller", &reseller)] {
        let times = measure(RUNS, || async {
            let r = core.month_report(actor, month).await.expect("report");
            assert!(r.totals.active_end > 0);
        })
        .await;
        report(&format!("{name} /report"), &times);
        for chart in [Chart::Growth, Chart::Credits, Chart::Revenue] {
            let times = measure(RUNS, || async {
                core.chart_png(actor, chart).await.expect("chart");
            })
            .await;
            report(&format!("{name} chart {}", chart.file_name()), &times);
        }
    }
    let times = measure(RUNS, || async {
        core.export_csv(&admin, Export::Summary, month)
            .await
            .expect("export");
    })
    .await;
    report("admin /export summary", &times);
}
