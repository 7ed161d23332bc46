//! Signed payment webhooks against the real router, next to `/healthz` on the same server, so
//! the ratio shows what verification, storage and crediting cost. Not a test: it prints figures.
//!
//!     cargo bench -p reseller-webhooks --bench webhooks
//!
//! (prefix TEST_DATABASE_URL=postgres://... for PostgreSQL). Each event pays a distinct order
//! once; a second pass redelivers every event, which must credit nothing.

use hmac::{Hmac, Mac};
use reseller_core::Actor;
use reseller_core::domain::{Days, OperationId, TelegramId, Username};
use reseller_webhooks::PaymentSecrets;
use std::time::{Duration, Instant};

const CLIENTS: usize = 32;
const EVENTS: usize = 2_000;
const SECRET: &str = "whsec_bench";

fn sign(body: &str, t: i64) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key");
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Sends `requests` from CLIENTS concurrent clients; returns (per second, p50, p99).
async fn load(requests: Vec<(String, Option<(String, String)>)>) -> (f64, Duration, Duration) {
    let client = reqwest::Client::new();
    let queue = std::sync::Arc::new(tokio::sync::Mutex::new(requests));
    let started = Instant::now();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (client, queue) = (client.clone(), queue.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let Some((url, signed)) = queue.lock().await.pop() else {
                        return latencies;
                    };
                    let t = Instant::now();
                    let status = match signed {
                        Some((header, body)) => {
                            client
                                .post(&url)
                                .header("stripe-signature", header)
                                .body(body)
                                .send()
                                .await
                        }
                        None => client.get(&url).send().await,
                    }
                    .expect("server answers")
                    .status();
                    assert!(status.is_success(), "{status}");
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

#[tokio::main]
async fn main() {
    let core = reseller_core::testing::core().await;
    let admin = Actor::Admin(TelegramId(1));
    let name = Username::parse("bench").expect("valid");
    let reseller = core
        .create_reseller(&admin, &name, None)
        .await
        .expect("reseller");
    core.grant(
        &admin,
        &OperationId::random(),
        &name,
        Days::new(1).expect("1"),
        None,
    )
    .await
    .expect("grant");
    let starter = core.packages(false).await.expect("packages")[0].clone();
    let mut orders = Vec::new();
    for _ in 0..EVENTS {
        orders.push(
            core.create_order(&Actor::Reseller(reseller.id), starter.id, "stripe")
                .await
                .expect("order")
                .public_id,
        );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let secrets = PaymentSecrets {
        stripe: vec![SECRET.into()],
        stripe_tolerance_secs: 300,
        ..Default::default()
    };
    let server = reseller_webhooks::ServerInfo::from_url(&base.parse().expect("valid URL"));
    tokio::spawn(reseller_webhooks::serve(
        listener,
        core.clone(),
        secrets,
        server,
        None,
        axum::Router::new(),
        std::future::pending(),
    ));

    let now = chrono::Utc::now().timestamp();
    let events: Vec<_> = orders
        .iter()
        .enumerate()
        .map(|(i, order)| {
            let body = serde_json::json!({
                "id": format!("evt_{i}"), "type": "checkout.session.completed",
                "data": { "object": { "payment_status": "paid", "amount_total": starter.price_minor, "currency": "usd",
                    "client_reference_id": order, "payment_intent": format!("pi_{i}"), "metadata": { "order_id": order } } },
            })
            .to_string();
            (format!("{base}/webhooks/stripe"), Some((sign(&body, now), body)))
        })
        .collect();
    let backend = if std::env::var("TEST_DATABASE_URL").is_ok() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!("webhook benchmark on {backend}: {EVENTS} events, {CLIENTS} concurrent clients");
    let (rate, p50, p99) = load(events.clone()).await;
    println!(
        "  stripe, first delivery: {rate:>7.0} events/s  p50 {:>6.2} ms  p99 {:>6.2} ms",
        ms(p50),
        ms(p99)
    );
    let (rate, p50, p99) = load(events).await;
    println!(
        "  stripe, redelivered:    {rate:>7.0} events/s  p50 {:>6.2} ms  p99 {:>6.2} ms",
        ms(p50),
        ms(p99)
    );
    let health = (0..EVENTS)
        .map(|_| (format!("{base}/healthz"), None))
        .collect();
    let (rate, p50, p99) = load(health).await;
    println!(
        "  /healthz:               {rate:>7.0} requests/s p50 {:>6.2} ms  p99 {:>6.2} ms",
        ms(p50),
        ms(p99)
    );

    let me = core.me(reseller.id).await.expect("reseller");
    assert_eq!(
        me.balance,
        1 + starter.credits * EVENTS as i64,
        "every order credited exactly once"
    );
    let report = core.verify_ledger().await.expect("verify");
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    println!(
        "  balance {} = 1 + {EVENTS} × {}: every event credited once; ledger verified",
        me.balance, starter.credits
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
