//! Throughput and latency of money-moving operations, on SQLite or (with TEST_DATABASE_URL) on
//! PostgreSQL. Not a test: it prints figures.
//!
//!     cargo bench -p reseller-core --features test-support --bench ledger
//!
//! Workloads, each from CLIENTS concurrent tasks:
//! - spread: every client is its own reseller creating subscribers (no shared row);
//! - hot: every client creates subscribers for the same reseller (one balance, contended);
//! - hot, owning 10k / 100k: the same, for a reseller that already owns that many subscribers
//!   (a creation's cost must not grow with them).

use reseller_core::Actor;
use reseller_core::domain::{Days, OperationId, Username};
use std::time::{Duration, Instant};

const CLIENTS: usize = 16;
const OPS_PER_CLIENT: usize = 100;

#[tokio::main]
async fn main() {
    let backend = if std::env::var("TEST_DATABASE_URL").is_ok() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!("ledger benchmark on {backend}: {CLIENTS} clients × {OPS_PER_CLIENT} creates");
    for (hot, owned) in [(false, 0), (true, 0), (true, 10_000), (true, 100_000)] {
        let core = reseller_core::testing::core().await;
        let admin = Actor::Admin(reseller_core::domain::TelegramId(1));
        let resellers = if hot { 1 } else { CLIENTS };
        let mut actors = Vec::new();
        for i in 0..resellers {
            let name = Username::parse(&format!("bench{i}")).expect("valid");
            let r = core
                .create_reseller(&admin, &name, None)
                .await
                .expect("reseller");
            core.set_limit(
                &admin,
                &name,
                reseller_core::domain::Limit::MaxUsers,
                reseller_core::domain::Limit::MaxUsers
                    .value("1000000")
                    .expect("in range"),
            )
            .await
            .expect("limit");
            core.grant(
                &admin,
                &OperationId::random(),
                &name,
                Days::new(Days::MAX as i64).expect("max"),
                None,
            )
            .await
            .expect("grant");
            if owned > 0 {
                core.seed_subscribers_for_bench("owned", owned, r.id.0, 1)
                    .await;
            }
            actors.push(Actor::Reseller(r.id));
        }
        let started = Instant::now();
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let core = core.clone();
                let actor = actors[c % actors.len()];
                tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(OPS_PER_CLIENT);
                    for n in 0..OPS_PER_CLIENT {
                        let user = Username::parse(&format!("c{c}n{n}")).expect("valid");
                        let t = Instant::now();
                        core.create_subscriber(
                            &actor,
                            &OperationId::random(),
                            &user,
                            Days::new(1).expect("1"),
                        )
                        .await
                        .expect("create succeeds");
                        latencies.push(t.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        let mut latencies: Vec<Duration> = Vec::new();
        for t in tasks {
            latencies.extend(t.await.expect("client task"));
        }
        let elapsed = started.elapsed();
        latencies.sort();
        let pct =
            |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
        let report = reseller_core::ledger::verify(core.db())
            .await
            .expect("verify");
        assert!(report.violations.is_empty(), "{:?}", report.violations);
        println!(
            "{:>6} owning {:>7}: {:>7.0} creates/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} ops in {:.2} s, ledger verified)",
            if hot { "hot" } else { "spread" },
            owned,
            latencies.len() as f64 / elapsed.as_secs_f64(),
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            latencies.len(),
            elapsed.as_secs_f64()
        );
    }
}
