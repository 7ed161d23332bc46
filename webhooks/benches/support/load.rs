//! The HTTP load generator the webhooks benchmarks share: requests from concurrent clients,
//! with throughput and latency percentiles.

use std::time::{Duration, Instant};

/// Throughput and latency of one run.
pub struct Figures {
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
}

/// Sends `requests` (built on one shared client) from `clients` concurrent clients; every
/// answer must be a success.
pub async fn load(requests: Vec<reqwest::RequestBuilder>, clients: usize) -> Figures {
    let queue = std::sync::Arc::new(std::sync::Mutex::new(requests));
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let queue = queue.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let Some(request) = queue.lock().expect("queue").pop() else {
                        return latencies;
                    };
                    let t = Instant::now();
                    let resp = request.send().await.expect("server answers");
                    let status = resp.status();
                    let body = resp.bytes().await.unwrap_or_default();
                    assert!(
                        status.is_success(),
                        "{status}: {}",
                        String::from_utf8_lossy(&body)
                    );
                    latencies.push(t.elapsed());
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.expect("worker"));
    }
    figures(all, started.elapsed())
}

/// The figures of `latencies` measured over `elapsed`.
pub fn figures(mut latencies: Vec<Duration>, elapsed: Duration) -> Figures {
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    Figures {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: pct(0.5),
        p99: pct(0.99),
    }
}

pub fn report(label: &str, f: Figures) {
    println!(
        "  {label:<34} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms",
        f.per_second,
        f.p50.as_secs_f64() * 1e3,
        f.p99.as_secs_f64() * 1e3
    );
}
