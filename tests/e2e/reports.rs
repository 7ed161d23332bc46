//! Reports through the bot: a scripted month's `/report` figures match the ledger, its CSV
//! exports parse with a standard reader and add up to the same totals, and a chart arrives as
//! a PNG of the stated size.

use crate::support::{ADMIN, TestApp};
use crate::telegram::Upload;
use reseller_core::reports::Month;
use std::collections::HashMap;

const ALICE: i64 = 5_101;

/// The bold figure on the report line starting with `label`.
fn figure(text: &str, label: &str) -> i64 {
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{label}: ")))
        .unwrap_or_else(|| panic!("no {label} line in {text}"));
    line.split("<b>")
        .nth(1)
        .and_then(|s| s.split("</b>").next())
        .expect("bold figure")
        .parse()
        .expect("a number")
}

async fn confirm(app: &TestApp, user: i64, command: &str) {
    let card = app.say_expecting(user, command, "?").await;
    let done = app.press(user, &card, "Confirm").await;
    assert!(!done.text.contains('⚠'), "{command}: {}", done.text);
}

/// The upload `command` makes, waited for by its caption.
async fn upload(app: &TestApp, user: i64, command: &str, caption: &str) -> Upload {
    let before = app.tg.uploads().len();
    app.say_expecting(user, command, caption).await;
    let uploads = app.tg.uploads();
    assert_eq!(uploads.len(), before + 1, "{command} uploads one file");
    let file = uploads.last().cloned().expect("an upload");
    assert_eq!(file.chat_id, user, "to the one who asked");
    assert!(file.caption.contains(caption), "{}", file.caption);
    file
}

/// Rows of a CSV as header → value maps, read back with the csv crate.
fn rows(bytes: &[u8]) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_reader(bytes);
    let headers = reader.headers().expect("a header row").clone();
    reader
        .records()
        .map(|r| {
            let r = r.expect("a valid CSV record");
            headers
                .iter()
                .map(String::from)
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_months_report_and_exports_match_the_ledger() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 100).await;
    confirm(&app, ALICE, "/new 30 rep.one").await;
    confirm(&app, ALICE, "/new 30 rep.two").await;
    confirm(&app, ALICE, "/new 1 rep.three").await;
    confirm(&app, ALICE, "/extend rep.one 10").await;
    confirm(&app, ADMIN, "/deduct alice 5 correction").await;
    app.say(ADMIN, "/perm alice can_delete_users on").await;
    confirm(&app, ALICE, "/delete rep.two").await;

    // Move all of it to the 5th of a month about 100 days ago, so the month is over and its
    // boundaries are known: rep.three's day ends within it, rep.one's 40 after it.
    let now = chrono::Utc::now().timestamp();
    let month = Month::of(chrono::DateTime::from_timestamp(now - 100 * 86_400, 0).unwrap());
    let shift = now - (month.start() + 4 * 86_400);
    for (table, columns) in [
        ("credit_transactions", "created_at = created_at - $s"),
        ("audit_log", "created_at = created_at - $s"),
        ("resellers", "created_at = created_at - $s"),
        (
            "subscribers",
            "created_at = created_at - $s, expires_at = expires_at - $s",
        ),
    ] {
        app.core
            .tamper_for_tests(&format!(
                "UPDATE {table} SET {}",
                columns.replace("$s", &shift.to_string())
            ))
            .await;
    }

    let report = app
        .say_expecting(ALICE, &format!("/report {month}"), "Report for")
        .await;
    let t = &report.text;
    let ledger = |kind: &str| {
        let sql = format!(
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM credit_transactions WHERE kind = '{kind}' \
             AND created_at >= {} AND created_at < {}",
            month.start(),
            month.end()
        );
        let core = app.core.clone();
        async move { core.scalar_for_tests(&sql).await }
    };
    assert_eq!(figure(t, "Granted"), ledger("credit").await);
    assert_eq!(figure(t, "Granted"), 100);
    assert_eq!(figure(t, "Spent"), -ledger("debit").await);
    assert_eq!(figure(t, "Spent"), 30 + 30 + 1 + 10);
    assert_eq!(figure(t, "Taken back"), -ledger("adjustment").await);
    assert_eq!(figure(t, "Bought"), 0);
    assert_eq!(figure(t, "Left at month end"), app.balance(ALICE).await);
    assert_eq!(figure(t, "Left at month end"), 100 - 71 - 5);
    assert_eq!(figure(t, "Created"), 3);
    assert_eq!(figure(t, "Extended"), 1);
    assert_eq!(
        figure(t, "Expired"),
        1,
        "rep.three's one day ended in the month"
    );
    assert_eq!(figure(t, "Churned (expired + deleted)"), 2);
    assert_eq!(figure(t, "Active at month end"), 1, "rep.one");
    assert!(
        t.contains(&format!("compared with {}", month.previous())),
        "{t}"
    );
    assert!(t.contains("Spent: <b>71</b> (0, +71)"), "{t}");

    // The admins see the same month across everyone, alice ranked.
    let admin = app
        .say_expecting(ADMIN, &format!("/report {month}"), "Report for")
        .await;
    assert_eq!(figure(&admin.text, "Spent"), 71);
    assert!(
        admin.text.contains("Active resellers: 1 of 1"),
        "{}",
        admin.text
    );
    assert!(
        admin.text.contains("1. alice · 0 · 71 · 1 · none"),
        "{}",
        admin.text
    );

    // The ledger export: one row per ledger row of the month, summing to the same figures.
    let csv = upload(&app, ALICE, &format!("/export ledger {month}"), "ledger-").await;
    assert_eq!(csv.method, "senddocument");
    assert_eq!(csv.file_name, format!("ledger-{month}.csv"));
    let lines = rows(&csv.bytes);
    assert_eq!(
        lines.len(),
        6,
        "grant, three creations, extension, deduction"
    );
    let sum = |kind: &str| -> i64 {
        lines
            .iter()
            .filter(|r| r["kind"] == kind)
            .map(|r| r["amount"].parse::<i64>().unwrap())
            .sum()
    };
    assert_eq!(sum("debit"), -figure(t, "Spent"));
    assert_eq!(sum("credit"), figure(t, "Granted"));
    assert_eq!(sum("adjustment"), -figure(t, "Taken back"));
    assert!(
        lines
            .iter()
            .all(|r| chrono::DateTime::parse_from_rfc3339(&r["date"]).is_ok())
    );
    assert_eq!(lines.last().unwrap()["balance_after"], "24");

    let summary = upload(&app, ADMIN, &format!("/export summary {month}"), "summary-").await;
    let lines = rows(&summary.bytes);
    assert_eq!(lines.len(), 1);
    let alice = &lines[0];
    assert_eq!(alice["reseller"], "alice");
    for (column, label) in [
        ("spent", "Spent"),
        ("granted", "Granted"),
        ("left", "Left at month end"),
        ("active_at_end", "Active at month end"),
    ] {
        assert_eq!(
            alice[column].parse::<i64>().unwrap(),
            figure(t, label),
            "{column}"
        );
    }

    // Subscribers go out without secrets.
    let subs = upload(&app, ALICE, "/export subscribers", "subscribers.csv").await;
    let lines = rows(&subs.bytes);
    let names: Vec<&str> = lines.iter().map(|r| r["username"].as_str()).collect();
    assert_eq!(names, ["rep.one", "rep.three"]);
    assert_eq!(lines[1]["status"], "expired");
    let header = String::from_utf8(subs.bytes.clone()).unwrap();
    let header = header.lines().next().unwrap();
    assert!(
        !header.contains("password") && !header.contains("token"),
        "{header}"
    );

    let none = app.say(ALICE, &format!("/export orders {month}")).await;
    assert!(none.text.contains("Nothing to export"), "{}", none.text);
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charts_are_pngs_of_sensible_size_and_bad_input_is_explained() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 50).await;
    confirm(&app, ALICE, "/new 30 chart.one").await;

    for (kind, caption) in [
        ("growth", "Active subscribers"),
        ("credits", "Credits spent"),
        ("revenue", "Revenue"),
    ] {
        let png = upload(&app, ALICE, &format!("/report chart {kind}"), caption).await;
        assert_eq!(png.method, "sendphoto");
        let b = &png.bytes;
        assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "{kind}: PNG signature");
        assert_eq!(&b[12..16], b"IHDR");
        let width = u32::from_be_bytes(b[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(b[20..24].try_into().unwrap());
        assert_eq!((width, height), (960, 540), "{kind}");
        assert!(
            b.len() > 5_000 && b.len() < 1_000_000,
            "{kind}: {} bytes",
            b.len()
        );
    }

    let bad = app.say(ALICE, "/report 2026-13").await;
    assert!(bad.text.contains("YYYY-MM"), "{}", bad.text);
    let bad = app.say(ALICE, "/report chart pie").await;
    assert!(
        bad.text.contains("growth, credits or revenue"),
        "{}",
        bad.text
    );
    let bad = app.say(ALICE, "/export passwords").await;
    assert!(
        bad.text.contains("subscribers, ledger, summary or orders"),
        "{}",
        bad.text
    );
}
