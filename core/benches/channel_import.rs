//! How long a channel import holds the writer, on SQLite or (with TEST_DATABASE_URL) on
//! PostgreSQL. Not a test: it prints figures.
//!
//!     cargo bench -p reseller-core --features test-support --bench channel_import
//!
//! Three imports that were slow before the import was planned outside the transaction and
//! batched: 40,000 channels in 40,000 groups against the same channels in one group, and a
//! re-import of 60,000 channels whose URLs all changed (every old channel and category goes).

use reseller_core::Actor;
use reseller_core::channels::PlaylistEntry;
use reseller_core::domain::TelegramId;
use std::time::Instant;

fn playlist(n: usize, url_prefix: &str, group: impl Fn(usize) -> String) -> Vec<PlaylistEntry> {
    (0..n)
        .map(|i| PlaylistEntry {
            name: format!("Channel {i}"),
            url: format!("http://{url_prefix}/{i}.ts"),
            logo: String::new(),
            epg_id: format!("ch{i}"),
            group: group(i),
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let backend = if std::env::var("TEST_DATABASE_URL").is_ok() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!("channel import benchmark on {backend}");
    let admin = Actor::Admin(TelegramId(1));
    let runs = [
        (
            "40,000 channels, 40,000 groups",
            playlist(40_000, "a", |i| format!("Group {i}")),
            None,
        ),
        (
            "40,000 channels, one group",
            playlist(40_000, "a", |_| "All".into()),
            None,
        ),
        (
            "60,000 channels, then 60,000 new URLs",
            playlist(60_000, "a", |i| format!("Group {}", i / 10)),
            Some(playlist(60_000, "b", |i| format!("Other {}", i / 10))),
        ),
    ];
    for (label, first, second) in runs {
        let core = reseller_core::testing::core().await;
        let t = Instant::now();
        core.import_channels(&admin, &first).await.expect("import");
        let mut line = format!("  {label:<40} {:>7.2} s", t.elapsed().as_secs_f64());
        if let Some(second) = second {
            let t = Instant::now();
            core.import_channels(&admin, &second)
                .await
                .expect("re-import");
            line.push_str(&format!(", re-import {:.2} s", t.elapsed().as_secs_f64()));
        }
        println!("{line}");
    }
}
