//! The reseller API's creations over HTTP (`POST /api/v1/subscribers`, each a debit, its ledger
//! and audit rows, the shared action budget and the key's check) against the same creations
//! called on core directly, the figure of `core/benches/ledger.rs`. Not a test: it prints
//! figures.
//!
//!     cargo bench -p reseller-webhooks --bench api
//!
//! (prefix TEST_DATABASE_URL=postgres://... for PostgreSQL; API_BENCH_CREATES=N to change the
//! number of creations per run.)

#[path = "support/load.rs"]
mod load;

use load::{figures, report};
use reseller_core::domain::{Days, Limit, OperationId, Permission, TelegramId, Username};
use reseller_core::ratelimit::ActionBudget;
use reseller_core::{Actor, Core};
use reseller_webhooks::{ApiLimits, PaymentSecrets, ServerInfo};
use std::num::NonZeroU32;
use std::time::Instant;

const CLIENTS: usize = 16;

/// A reseller allowed the API, unlimited in subscribers and with a credit for each of
/// `creates` one-day creations.
async fn reseller(core: &Core, name: &str, creates: usize) -> Actor {
    let admin = Actor::Admin(TelegramId(1));
    let username = Username::parse(name).expect("valid");
    let r = core
        .create_reseller(&admin, &username, None)
        .await
        .expect("reseller");
    core.set_limit(
        &admin,
        &username,
        Limit::MaxUsers,
        Limit::MaxUsers.value("1000000").expect("in range"),
    )
    .await
    .expect("limit");
    core.set_permission(&admin, &username, Permission::CanApiAccess, true)
        .await
        .expect("permission");
    for _ in 0..=creates / Days::MAX as usize {
        core.grant(
            &admin,
            &OperationId::random(),
            &username,
            Days::new(Days::MAX as i64).expect("max"),
            None,
        )
        .await
        .expect("grant");
    }
    Actor::Reseller(r.id)
}

#[tokio::main]
async fn main() {
    let creates: usize = std::env::var("API_BENCH_CREATES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    let backend = if std::env::var("TEST_DATABASE_URL").is_ok() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "reseller API benchmark on {backend}: {creates} creations per run, {CLIENTS} clients, one reseller"
    );
    let core = reseller_core::testing::core().await;

    // Core only, as the ledger benchmark measures it.
    let direct = reseller(&core, "direct", creates).await;
    let started = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let core = core.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                for n in (c..creates).step_by(CLIENTS) {
                    let user = Username::parse(&format!("core{n}")).expect("valid");
                    let t = Instant::now();
                    core.create_subscriber(
                        &direct,
                        &OperationId::random(),
                        &user,
                        Days::new(1).expect("valid"),
                    )
                    .await
                    .expect("created");
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    report("core create_subscriber", figures(all, started.elapsed()));

    // The same through the API, on a server with limits out of the way.
    let api = reseller(&core, "viaapi", creates).await;
    let key = core.new_api_key(&api).await.expect("a key");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let many = NonZeroU32::new(u32::MAX).expect("non-zero");
    let server = ServerInfo::from_url(&base.parse().expect("valid URL")).with_api(ApiLimits {
        requests_per_minute: many,
        burst: many,
        actions: ActionBudget {
            per_minute: many,
            burst: many,
        },
    });
    tokio::spawn(reseller_webhooks::serve(
        listener,
        core.clone(),
        PaymentSecrets::default(),
        server,
        None,
        axum::Router::new(),
        std::future::pending(),
    ));
    let client = reqwest::Client::new();
    let requests = (0..creates)
        .map(|n| {
            client
                .post(format!("{base}/api/v1/subscribers"))
                .bearer_auth(key.key())
                .header("Idempotency-Key", format!("bench-{n}"))
                .json(&serde_json::json!({ "username": format!("api{n}"), "days": 1 }))
        })
        .collect();
    report(
        "POST /api/v1/subscribers",
        load::load(requests, CLIENTS).await,
    );
}
