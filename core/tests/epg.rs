//! The programme guide's fetch claim and import, straight against `Core`: one instance
//! fetches at a time, a fetch is due only after the refresh interval, and a broken guide
//! leaves the one served (SQLite, or PostgreSQL with TEST_DATABASE_URL).

use reseller_core::domain::TelegramId;
use reseller_core::epg::{GuideLimits, SourceKind};
use reseller_core::{Actor, Core, CredentialCipher, Db, Policy, testing};
use std::time::Duration;

const ADMIN: Actor = Actor::Admin(TelegramId(1));
const SIX_HOURS: Duration = Duration::from_secs(6 * 3600);

const LIMITS: GuideLimits = GuideLimits {
    back: Duration::from_secs(2 * 86_400),
    ahead: Duration::from_secs(7 * 86_400),
    max_bytes: 1024 * 1024,
};

/// A new instance on the database at `url`, with its own pools.
async fn instance(url: &str, key: &str) -> Core {
    let db = Db::connect(url, 3).await.expect("database connects");
    db.migrate().await.expect("migrations apply");
    Core::new(
        db,
        CredentialCipher::from_base64(key).expect("valid key"),
        Policy::default(),
    )
}

/// Ten-minute programmes from now on channel `a`.
fn guide(programmes: usize) -> String {
    let now = chrono::Utc::now();
    let mut xml = String::from("<tv><channel id=\"a\"><display-name>A</display-name></channel>");
    for i in 0..programmes as i64 {
        let t = |h: i64| {
            (now + chrono::Duration::minutes(10 * h))
                .format("%Y%m%d%H%M%S +0000")
                .to_string()
        };
        xml += &format!(
            "<programme start=\"{}\" stop=\"{}\" channel=\"a\"><title>P{i}</title></programme>",
            t(i),
            t(i + 1)
        );
    }
    xml + "</tv>"
}

fn body(text: String) -> impl futures::Stream<Item = Result<Vec<u8>, String>> + Send {
    // In small chunks, as a download arrives.
    let chunks: Vec<Result<Vec<u8>, String>> = text
        .into_bytes()
        .chunks(100)
        .map(|c| Ok(c.to_vec()))
        .collect();
    futures::stream::iter(chunks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instance_fetches_the_guide_at_a_time_and_only_when_due() {
    let (url, key) = (
        testing::fresh_database_url().await,
        CredentialCipher::generate_key(),
    );
    let (first, second) = (instance(&url, &key).await, instance(&url, &key).await);
    assert!(
        first
            .claim_epg_fetch(Some(SIX_HOURS))
            .await
            .unwrap()
            .is_none(),
        "no source, nothing due"
    );
    first
        .set_epg_source(
            &ADMIN,
            &SourceKind::Url("http://epg.example.com/guide.xml".into()),
        )
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        first.claim_epg_fetch(None),
        second.claim_epg_fetch(Some(SIX_HOURS))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        usize::from(a.is_some()) + usize::from(b.is_some()),
        1,
        "one claim holds; the other waits"
    );
    for core in [&first, &second] {
        assert!(
            core.claim_epg_fetch(None).await.unwrap().is_none(),
            "even when asked for"
        );
    }
    let (holder, claim) = match (a, b) {
        (Some(claim), None) => (&first, claim),
        (None, Some(claim)) => (&second, claim),
        _ => unreachable!("exactly one claim holds"),
    };
    let done = holder
        .import_epg(
            claim,
            body(guide(3)),
            ("\"v1\"".into(), String::new()),
            &LIMITS,
        )
        .await
        .unwrap();
    assert_eq!((done.channels, done.programmes), (1, 3));
    assert!(
        second
            .claim_epg_fetch(Some(SIX_HOURS))
            .await
            .unwrap()
            .is_none(),
        "fetched just now: not due"
    );
    let claim = second
        .claim_epg_fetch(None)
        .await
        .unwrap()
        .expect("free again");
    assert_eq!(claim.etag, "\"v1\"", "the next fetch can be conditional");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_or_oversized_guide_leaves_the_one_served() {
    let core = testing::core().await;
    core.set_epg_source(
        &ADMIN,
        &SourceKind::Url("http://epg.example.com/g.xml".into()),
    )
    .await
    .unwrap();
    let claim = core.claim_epg_fetch(None).await.unwrap().unwrap();
    core.import_epg(claim, body(guide(700)), Default::default(), &LIMITS)
        .await
        .unwrap();

    let mut broken = guide(5);
    broken.truncate(broken.len() - 30);
    broken.push_str("</channel>");
    let claim = core.claim_epg_fetch(None).await.unwrap().unwrap();
    let err = core
        .import_epg(claim, body(broken), Default::default(), &LIMITS)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cut short"), "{err}");

    let small = GuideLimits {
        max_bytes: 2_000,
        ..LIMITS
    };
    let claim = core.claim_epg_fetch(None).await.unwrap().unwrap();
    let err = core
        .import_epg(claim, body(guide(700)), Default::default(), &small)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("epg.max_mb"), "{err}");

    let status = core.epg_status(&ADMIN, 5).await.unwrap();
    assert_eq!(
        status.programmes, 700,
        "the guide served is the last good one"
    );
    assert!(
        status
            .outcome
            .starts_with("failed: Could not read the guide"),
        "{}",
        status.outcome
    );
    assert_eq!(
        core.scalar_for_tests("SELECT COUNT(*) FROM epg_programmes")
            .await,
        700,
        "no half-written generation is left"
    );
}
