//! The streaming hot path with 100,000 subscribers: player_api.php logins and stream
//! authorizations from many concurrent clients, next to /healthz on the same server, and the
//! process's resident memory, also after a login by every subscriber (the login cache is
//! bounded) and once its entries have expired. Not a test: it prints figures.
//!
//!     cargo bench -p reseller-webhooks --bench subscriber_api
//!
//! (prefix TEST_DATABASE_URL=postgres://... for PostgreSQL).

#[path = "support/load.rs"]
mod load;

use load::{Figures, report};
use reseller_webhooks::{PaymentSecrets, ServerInfo};
use std::time::{Duration, Instant};

const SUBSCRIBERS: usize = 100_000;
const CLIENTS: usize = 64;
const REQUESTS: usize = 40_000;
const PASSWORD: &str = "bench-password";
const CHANNELS: usize = 2_000;

/// GETs of `urls` from CLIENTS concurrent clients.
async fn load(urls: Vec<String>) -> Figures {
    let client = reqwest::Client::new();
    load::load(urls.iter().map(|u| client.get(u)).collect(), CLIENTS).await
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

#[tokio::main]
async fn main() {
    let core = reseller_core::testing::core().await;
    let t = Instant::now();
    core.bulk_subscribers_for_bench("sub", SUBSCRIBERS, PASSWORD)
        .await;
    // Stream authorization checks each stream's category, so there must be channels.
    let channels: Vec<_> = (0..CHANNELS)
        .map(|i| reseller_core::channels::PlaylistEntry {
            name: format!("Channel {i}"),
            url: format!("http://origin/{i}.ts"),
            logo: String::new(),
            epg_id: String::new(),
            group: format!("Group {}", i % 20),
        })
        .collect();
    let admin = reseller_core::Actor::Admin(reseller_core::domain::TelegramId(1));
    core.import_channels(&admin, &channels)
        .await
        .expect("channels imported");
    let stream_ids: Vec<i64> = core
        .channels(None)
        .await
        .expect("channels")
        .iter()
        .map(|c| c.id)
        .collect();
    let backend = if std::env::var("TEST_DATABASE_URL").is_ok() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "subscriber API benchmark on {backend}: {SUBSCRIBERS} subscribers (inserted in {:.1} s), {CLIENTS} clients, {REQUESTS} requests per run",
        t.elapsed().as_secs_f64()
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let server = ServerInfo::from_url(&base.parse().expect("valid URL"));
    tokio::spawn(reseller_webhooks::serve(
        listener,
        core.clone(),
        PaymentSecrets::default(),
        server,
        None,
        axum::Router::new(),
        std::future::pending(),
    ));
    let rss_before = rss_mib();

    // Users spread over the whole table; the first pass loads them into the cache.
    let user = |i: usize| format!("sub{}", (i * 7919) % SUBSCRIBERS);
    let logins: Vec<String> = (0..REQUESTS)
        .map(|i| {
            format!(
                "{base}/player_api.php?username={}&password={PASSWORD}",
                user(i)
            )
        })
        .collect();
    report(
        "player_api.php login, cold cache",
        load(logins.clone()).await,
    );
    report("player_api.php login, warm cache", load(logins).await);
    let streams: Vec<String> = (0..REQUESTS)
        .map(|i| {
            format!(
                "{base}/auth/stream?username={}&password={PASSWORD}&session=s{}&stream={}",
                user(i),
                i % 2,
                stream_ids[i % stream_ids.len()]
            )
        })
        .collect();
    report("/auth/stream (session starts)", load(streams).await);
    report(
        "/healthz",
        load((0..REQUESTS).map(|_| format!("{base}/healthz")).collect()).await,
    );
    let rss_runs = rss_mib();
    report(
        "player_api.php login, every subscriber",
        load(
            (0..SUBSCRIBERS)
                .map(|i| format!("{base}/player_api.php?username=sub{i}&password={PASSWORD}"))
                .collect(),
        )
        .await,
    );
    let (rss_all, cached_all) = (rss_mib(), core.access_cache_stats().entries);
    tokio::time::sleep(reseller_core::access::MAX_AGE + Duration::from_secs(1)).await;
    core.drop_expired();
    println!(
        "  resident memory: {rss_before:.0} MiB after loading the subscribers, {rss_runs:.0} MiB after the runs,\n  \
         {rss_all:.0} MiB after a login by every subscriber ({cached_all} cached), \
         {:.0} MiB once idle for {} s ({} cached)",
        rss_mib(),
        reseller_core::access::MAX_AGE.as_secs() + 1,
        core.access_cache_stats().entries,
    );
}
