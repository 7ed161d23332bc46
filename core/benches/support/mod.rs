//! Timing shared by the read benchmarks: run a query once to warm up, then `runs` times, and
//! print its p50, p90 and maximum.

use std::future::Future;
use std::time::{Duration, Instant};

/// The times of `runs` runs of `run`, after one unmeasured run, sorted.
pub async fn measure<F, Fut>(runs: usize, run: F) -> Vec<Duration>
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    run().await;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        run().await;
        times.push(t.elapsed());
    }
    times.sort();
    times
}

/// One line: `what`, then p50, p90 and max of the sorted `times`.
pub fn report(what: &str, times: &[Duration]) {
    let ms = |i: usize| times[i.min(times.len() - 1)].as_secs_f64() * 1e3;
    println!(
        "{what:>30}: p50 {:>8.2} ms  p90 {:>8.2} ms  max {:>8.2} ms  ({} runs)",
        ms(times.len() / 2),
        ms(times.len() * 9 / 10),
        ms(times.len() - 1),
        times.len()
    );
}
