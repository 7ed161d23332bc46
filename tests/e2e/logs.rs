//! The activity log (issue 10 §7): entries read as sentences; a reseller sees their own rows and
//! their sub-resellers', never another reseller's; filters by user, action, reseller and dates;
//! pages; the CSV export parses and matches; no `can_view_logs`, no log.

use crate::support::{ADMIN, TestApp};

const ALICE: i64 = 4_201;
const BOB: i64 = 4_202;
const CAROL: i64 = 4_203;
const DAVE: i64 = 4_204;

async fn create(app: &TestApp, user: i64, name: &str, days: i64) {
    let card = app
        .say_expecting(user, &format!("/new {days} {name}"), "Create")
        .await;
    let done = app.press(user, &card, "Confirm").await;
    assert!(done.text.contains("created until"), "{}", done.text);
}

async fn reseller_with_logs(app: &TestApp, name: &str, user: i64) {
    app.reseller(name, user).await;
    app.grant(name, 300).await;
    app.say_expecting(ADMIN, &format!("/perm {name} can_view_logs on"), "is on")
        .await;
}

/// The sentences of a `/logs` reply, unescaped.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("• "))
        .map(|l| {
            l.replace("&amp;", "&")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
        })
        .collect()
}

/// Every sentence of `/logs <filters>` for `user`, page after page.
async fn all_lines(app: &TestApp, user: i64, filters: &str) -> Vec<String> {
    let first = app
        .say_expecting(user, &format!("/logs {filters}"), "Activity")
        .await;
    let pages: usize = first
        .text
        .split(" of ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a page count in {}", first.text));
    let mut out = lines(&first.text);
    for page in 2..=pages {
        let next = app
            .say_expecting(user, &format!("/logs {filters} {page}"), "Activity")
            .await;
        out.extend(lines(&next.text));
    }
    out
}

/// alice (with a sub-reseller, carol) and bob, each with subscribers.
async fn business(app: &TestApp) -> String {
    reseller_with_logs(app, "alice", ALICE).await;
    reseller_with_logs(app, "bob", BOB).await;
    reseller_with_logs(app, "carol", CAROL).await;
    app.core
        .tamper_for_tests(
            "UPDATE resellers SET parent_id = (SELECT id FROM resellers WHERE username = 'alice') \
             WHERE username = 'carol'",
        )
        .await;
    create(app, ALICE, "john.doe", 30).await;
    let card = app
        .say_expecting(ALICE, "/extend john.doe 15", "Extend")
        .await;
    app.press(ALICE, &card, "Confirm").await;
    create(app, BOB, "bob.sub", 10).await;
    create(app, CAROL, "carol.sub", 7).await;
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reseller_reads_their_own_and_their_sub_resellers_activity_as_sentences() {
    let app = TestApp::spawn().await;
    let today = business(&app).await;

    let mine = all_lines(&app, ALICE, "").await;
    for expected in [
        "alice extended john.doe by 15 days, ",
        "alice created john.doe for 30 days, ",
        "carol created carol.sub for 7 days, ",
        &format!("admin {ADMIN} granted 300 credits to alice, {today} "),
    ] {
        assert!(
            mine.iter().any(|l| l.starts_with(expected)),
            "{expected:?} in {mine:#?}"
        );
    }
    assert!(mine.iter().all(|l| !l.contains("bob")), "{mine:#?}");

    let extends = app.say_expecting(ALICE, "/logs extend", "Activity").await;
    let extends = lines(&extends.text);
    assert_eq!(extends.len(), 1, "{extends:?}");
    assert!(extends[0].starts_with(&format!("alice extended john.doe by 15 days, {today} ")));

    let john = app.say_expecting(ALICE, "/logs john.doe", "Activity").await;
    assert_eq!(lines(&john.text).len(), 2, "{}", john.text);

    // Bob sees none of alice's rows, even by name.
    let bobs = all_lines(&app, BOB, "").await;
    assert!(
        bobs.iter()
            .any(|l| l.starts_with("bob created bob.sub for 10 days")),
        "{bobs:?}"
    );
    assert!(
        bobs.iter()
            .all(|l| !l.contains("alice") && !l.contains("john")),
        "{bobs:?}"
    );
    let probe = app.say(BOB, "/logs john.doe").await;
    assert!(probe.text.contains("No activity matches"), "{}", probe.text);
    let probe = app.say(BOB, "/logs reseller=alice").await;
    assert!(probe.text.contains("No activity matches"), "{}", probe.text);

    // No permission, no log.
    app.reseller("dave", DAVE).await;
    let refused = app.say(DAVE, "/logs").await;
    assert!(refused.text.contains("not allowed"), "{}", refused.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_filters_and_pages_everything() {
    let app = TestApp::spawn().await;
    let today = business(&app).await;

    let bobs = app
        .say_expecting(ADMIN, "/logs reseller=bob", "Activity")
        .await;
    let bobs = lines(&bobs.text);
    assert!(
        bobs.iter().any(|l| l.starts_with("bob created bob.sub")),
        "{bobs:?}"
    );
    assert!(bobs.iter().all(|l| !l.contains("john.doe")), "{bobs:?}");

    let dated = app
        .say_expecting(
            ADMIN,
            &format!("/logs reseller=alice action=extend from={today} to={today}"),
            "Activity",
        )
        .await;
    assert_eq!(lines(&dated.text).len(), 1, "{}", dated.text);
    let past = app
        .say(ADMIN, "/logs reseller=alice from=2001-01-01 to=2001-12-31")
        .await;
    assert!(past.text.contains("No activity matches"), "{}", past.text);
    let backwards = app.say(ADMIN, "/logs from=2026-11-30 to=2026-11-01").await;
    assert!(
        backwards
            .text
            .contains("from=2026-11-30 is after to=2026-11-01"),
        "{}",
        backwards.text
    );

    // Pages of ten, newest first, each row once.
    let total = app
        .core
        .scalar_for_tests("SELECT COUNT(*) FROM audit_log")
        .await;
    assert!(total > 10 && total <= 20, "{total} rows make two pages");
    let first = app.say_expecting(ADMIN, "/logs", "Activity").await;
    assert!(
        first
            .text
            .contains(&format!("({total} entries, page 1 of 2)")),
        "{}",
        first.text
    );
    assert!(
        first.text.contains("Next page: <code>/logs 2</code>"),
        "{}",
        first.text
    );
    let second = app.say_expecting(ADMIN, "/logs 2", "Activity").await;
    assert!(second.text.contains("page 2 of 2"), "{}", second.text);
    let (a, b) = (lines(&first.text), lines(&second.text));
    assert_eq!((a.len() as i64, b.len() as i64), (10, total - 10));
    assert!(a.iter().all(|l| !b.contains(l)), "{a:#?} then {b:#?}");
    assert!(
        b.last().unwrap().contains("reseller"),
        "the oldest row is the first reseller's creation: {b:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csv_export_parses_and_matches_the_log() {
    let app = TestApp::spawn().await;
    let today = business(&app).await;
    let shown = all_lines(&app, ALICE, "").await;

    let before = app.tg.sent().len();
    app.tg.send_text(ALICE, "/logs csv");
    app.tg.wait_for(ALICE, before, "Activity log:").await;
    let upload = app
        .tg
        .uploads()
        .into_iter()
        .find(|u| u.chat_id == ALICE)
        .expect("the CSV was sent");
    assert_eq!(
        (upload.method.as_str(), upload.file_name.as_str()),
        ("senddocument", "activity.csv")
    );
    let mut reader = csv::Reader::from_reader(upload.bytes.as_slice());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "time", "actor", "action", "reseller", "target", "sentence", "details"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let sentences: Vec<&str> = rows.iter().map(|r| &r[5]).collect();
    assert_eq!(
        sentences, shown,
        "the file holds what /logs shows, in order"
    );
    let extend = rows
        .iter()
        .find(|r| &r[2] == "subscriber.extend")
        .expect("the extension is in the file");
    assert_eq!(
        (&extend[1], &extend[3], &extend[4]),
        ("alice", "alice", "john.doe")
    );
    assert!(extend[0].starts_with(&today), "{:?}", &extend[0]);
    let details: serde_json::Value = serde_json::from_str(&extend[6]).unwrap();
    assert_eq!(details["days"], 15);
    assert!(rows.iter().all(|r| &r[4] != "bob.sub"));
    assert!(
        upload.caption.contains(&format!("{} entries", rows.len())),
        "{}",
        upload.caption
    );
}
