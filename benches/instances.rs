//! What a second instance buys: the subscriber API and the payment webhooks against one
//! `resellerbot serve` and against two on the same PostgreSQL database, clients spread over both
//! instances' own ports (no proxy in between). Not a test: it prints figures.
//!
//!     TEST_DATABASE_URL=postgres://... cargo bench --bench instances
//!
//! PostgreSQL only (several instances share a PostgreSQL database; SQLite is one process).
//! The instances are real release processes; a minimal Bot API stand-in answers their start-up.

use hmac::{Hmac, Mac};
use reseller_core::Actor;
use reseller_core::domain::{TelegramId, Username};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SUBSCRIBERS: usize = 20_000;
const CLIENTS: usize = 64;
const REQUESTS: usize = 20_000;
const EVENTS: usize = 2_000;
const PASSWORD: &str = "bench-password";
const SECRET: &str = "whsec_bench";
const RESELLERS: usize = 50;

#[tokio::main]
async fn main() {
    if std::env::var("TEST_DATABASE_URL").is_err() {
        println!("instances benchmark: set TEST_DATABASE_URL to a PostgreSQL database");
        return;
    }
    let db_url = reseller_core::testing::fresh_database_url().await;
    let key = reseller_core::CredentialCipher::generate_key();
    let core = reseller_core::testing::core_at(&db_url, &key, Default::default()).await;
    core.bulk_subscribers_for_bench("sub", SUBSCRIBERS, PASSWORD)
        .await;
    let admin = Actor::Admin(TelegramId(1));
    let channels: Vec<_> = (0..200)
        .map(|i| reseller_core::channels::PlaylistEntry {
            name: format!("Channel {i}"),
            url: format!("http://origin/{i}.ts"),
            logo: String::new(),
            epg_id: String::new(),
            group: format!("Group {}", i % 10),
        })
        .collect();
    core.import_channels(&admin, &channels)
        .await
        .expect("channels imported");
    let stream = core.channels(None).await.expect("channels")[0].id;
    // Payments spread over many resellers, as in a real business: one reseller's balance row
    // would serialise every payment and measure nothing but that lock.
    let mut resellers = Vec::with_capacity(RESELLERS);
    for i in 0..RESELLERS {
        let name = Username::parse(&format!("bench{i}")).expect("valid");
        resellers.push(
            core.create_reseller(&admin, &name, None)
                .await
                .expect("reseller")
                .id,
        );
    }
    let package = core.packages(false).await.expect("packages")[0].clone();
    let telegram = fake_bot_api().await;

    println!(
        "instances benchmark on PostgreSQL: {SUBSCRIBERS} subscribers, {CLIENTS} clients, {REQUESTS} requests per API run, {EVENTS} webhook events per run"
    );
    for n in [1, 2] {
        let instances: Vec<Instance> = (0..n)
            .map(|_| Instance::spawn(&db_url, &key, &telegram))
            .collect();
        for i in &instances {
            i.ready().await;
        }
        let bases: Vec<String> = instances
            .iter()
            .map(|i| format!("http://{}", i.addr))
            .collect();
        let spread = |i: usize| &bases[i % bases.len()];
        println!("{n} instance(s):");

        let logins: Vec<Request> = (0..REQUESTS)
            .map(|i| {
                Request::get(format!(
                    "{}/player_api.php?username=sub{}&password={PASSWORD}",
                    spread(i),
                    i % 5_000
                ))
            })
            .collect();
        load(logins.clone()).await; // warms every instance's login cache
        report("player_api.php login (warm)", load(logins).await);

        let streams: Vec<Request> = (0..REQUESTS)
            .map(|i| {
                Request::get(format!(
                    "{}/auth/stream?username=sub{u}&password={PASSWORD}&session=s{u}&stream={stream}&ip=198.51.100.1",
                    spread(i),
                    u = i % 2_000
                ))
            })
            .collect();
        report("/auth/stream (heartbeats)", load(streams).await);

        let now = chrono::Utc::now().timestamp();
        let mut events = Vec::with_capacity(EVENTS);
        for i in 0..EVENTS {
            let order = core
                .create_order(
                    &Actor::Reseller(resellers[i % RESELLERS]),
                    package.id,
                    "stripe",
                )
                .await
                .expect("order")
                .public_id;
            let body = serde_json::json!({
                "id": format!("evt_{n}_{i}"), "type": "checkout.session.completed",
                "data": { "object": { "payment_status": "paid", "amount_total": package.price_minor, "currency": "usd",
                    "client_reference_id": order, "payment_intent": format!("pi_{n}_{i}"), "metadata": { "order_id": order } } },
            })
            .to_string();
            events.push(Request {
                url: format!("{}/webhooks/stripe", spread(i)),
                signature: Some(sign(&body, now)),
                body,
            });
        }
        report("stripe webhook (first delivery)", load(events).await);
        drop(instances);
    }
    let report = core.verify_ledger().await.expect("verify");
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    let mut credited = 0;
    for id in &resellers {
        credited += core.me(*id).await.expect("reseller").balance;
    }
    assert_eq!(credited, 2 * EVENTS as i64 * package.credits);
    println!("  every event credited once; ledger verified");
}

/// One `resellerbot serve` release process.
struct Instance {
    child: Child,
    addr: std::net::SocketAddr,
}

impl Instance {
    fn spawn(db_url: &str, key: &str, telegram: &str) -> Instance {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let child = Command::new(env!("CARGO_BIN_EXE_resellerbot"))
            .arg("serve")
            .env("BOT_TOKEN", "123456:BENCH")
            .env("TELEGRAM_API_URL", telegram)
            .env("DATABASE_URL", db_url)
            .env("DATABASE_MAX_CONNECTIONS", "20")
            .env("ADMIN_TELEGRAM_IDS", "1")
            .env("HTTP_ADDR", addr.to_string())
            .env("CREDENTIALS_KEY", key)
            .env("STRIPE_WEBHOOK_SECRET", SECRET)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("resellerbot starts");
        Instance { child, addr }
    }

    async fn ready(&self) {
        let client = reqwest::Client::new();
        for _ in 0..600 {
            if client
                .get(format!("http://{}/readyz", self.addr))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("instance on {} never became ready", self.addr);
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Just enough of the Bot API for the instances to start and idle: `getMe`, empty long polls,
/// and `true` for everything else.
async fn fake_bot_api() -> String {
    use axum::extract::Path;
    use serde_json::json;
    async fn method(
        Path((_token, method)): Path<(String, String)>,
    ) -> axum::Json<serde_json::Value> {
        // teloxide writes method names in any case (`GetMe`); Telegram ignores it.
        axum::Json(match method.to_ascii_lowercase().as_str() {
            "getme" => json!({ "ok": true, "result": {
                "id": 999, "is_bot": true, "first_name": "Bench", "username": "bench_bot",
                "can_join_groups": true, "can_read_all_group_messages": false,
                "supports_inline_queries": false, "has_main_web_app": false } }),
            "getupdates" => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                json!({ "ok": true, "result": [] })
            }
            // Notifications to the admin: Telegram answers with the message sent.
            "sendmessage" => json!({ "ok": true, "result": {
                "message_id": 1, "date": 0, "text": "sent",
                "chat": { "id": 1, "type": "private", "first_name": "Admin" } } }),
            "getwebhookinfo" => json!({ "ok": true, "result": {
                "url": "", "has_custom_certificate": false, "pending_update_count": 0 } }),
            _ => json!({ "ok": true, "result": true }),
        })
    }
    let router = axum::Router::new().route("/{token}/{method}", axum::routing::post(method));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

#[derive(Clone)]
struct Request {
    url: String,
    signature: Option<String>,
    body: String,
}

impl Request {
    fn get(url: String) -> Request {
        Request {
            url,
            signature: None,
            body: String::new(),
        }
    }
}

fn sign(body: &str, t: i64) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key");
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Sends `requests` from CLIENTS concurrent clients; returns (per second, p50, p99).
async fn load(requests: Vec<Request>) -> (f64, Duration, Duration) {
    let client = reqwest::Client::new();
    let queue = std::sync::Arc::new(std::sync::Mutex::new(requests));
    let started = Instant::now();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (client, queue) = (client.clone(), queue.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let Some(r) = queue.lock().expect("queue").pop() else {
                        return latencies;
                    };
                    let t = Instant::now();
                    let sent = match r.signature {
                        Some(signature) => {
                            client
                                .post(&r.url)
                                .header("stripe-signature", signature)
                                .body(r.body)
                                .send()
                                .await
                        }
                        None => client.get(&r.url).send().await,
                    }
                    .expect("server answers");
                    let status = sent.status();
                    let _ = sent.bytes().await;
                    assert!(status.is_success(), "{status} from {}", r.url);
                    latencies.push(t.elapsed());
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.expect("worker"));
    }
    let elapsed = started.elapsed();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    (
        all.len() as f64 / elapsed.as_secs_f64(),
        pct(0.5),
        pct(0.99),
    )
}

fn report(label: &str, (rate, p50, p99): (f64, Duration, Duration)) {
    println!(
        "  {label:<34} {rate:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
}
