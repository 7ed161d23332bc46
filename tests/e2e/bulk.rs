//! `/bulk` through the bot: a CSV file creates its rows in one transaction and the credentials
//! come back as a CSV file that logs in; a list the balance does not cover creates nothing
//! (at the card, and at confirmation when the balance dropped since); bulk extension of the
//! lines expiring soon; `max_users`, the permission and a double confirmation hold.

use crate::support::{ADMIN, TestApp};
use crate::telegram::Sent;
use serde_json::Value;
use std::time::Duration;

const ALICE: i64 = 5_001;

/// Alice, a reseller with `credits` and bulk operations allowed.
async fn bulk_reseller(app: &TestApp, credits: i64) {
    app.reseller("alice", ALICE).await;
    if credits > 0 {
        app.grant("alice", credits).await;
    }
    app.say_expecting(ADMIN, "/perm alice can_bulk_operations on", "override")
        .await;
}

async fn subscribers(app: &TestApp) -> i64 {
    app.core
        .scalar_for_tests("SELECT COUNT(*) FROM subscribers")
        .await
}

/// Alice sends `content` as a file with the caption `/bulk`; returns the card.
async fn upload(app: &TestApp, content: &str, needle: &str) -> Sent {
    let before = app.tg.sent().len();
    app.tg.send_document(ALICE, "list.csv", content, "/bulk");
    app.tg.wait_for(ALICE, before, needle).await
}

/// The credentials file the bot sent Alice, as (username, password, expires_at) rows.
async fn credentials_file(app: &TestApp) -> Vec<(String, String, String)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let upload = loop {
        if let Some(u) = app.tg.uploads().into_iter().find(|u| u.chat_id == ALICE) {
            break u;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no credentials file"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        upload.method.eq_ignore_ascii_case("sendDocument"),
        "{}",
        upload.method
    );
    assert!(upload.file_name.ends_with(".csv"), "{}", upload.file_name);
    assert!(upload.caption.contains("passwords"), "{}", upload.caption);
    let mut reader = csv::Reader::from_reader(upload.bytes.as_slice());
    let headers = reader.headers().expect("a header row").clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        ["username", "password", "expires_at", "max_connections"]
    );
    reader
        .records()
        .map(|r| {
            let r = r.expect("a CSV row");
            (r[0].to_string(), r[1].to_string(), r[2].to_string())
        })
        .collect()
}

async fn expiry(app: &TestApp, name: &str) -> i64 {
    app.core
        .scalar_for_tests(&format!(
            "SELECT expires_at FROM subscribers WHERE username = '{name}'"
        ))
        .await
}

async fn login(app: &TestApp, username: &str, password: &str) -> Value {
    reqwest::Client::new()
        .get(format!("http://{}/player_api.php", app.http))
        .query(&[("username", username), ("password", password)])
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_file_creates_its_rows_and_returns_credentials_that_log_in() {
    let app = TestApp::spawn().await;
    bulk_reseller(&app, 100).await;
    let card = app.say_expecting(ALICE, "/new 5 taken.one", "Create").await;
    app.press(ALICE, &card, "Confirm").await;

    let card = upload(
        &app,
        "username,days,note\nann,30,\"VIP, pays cash\"\nben,7\nb!,30\ntaken.one,10\nann,3\n",
        "Create <b>2</b>",
    )
    .await;
    assert!(card.text.contains("37 days in all"), "{}", card.text);
    assert!(card.text.contains("3 rows refused"), "{}", card.text);
    assert!(card.text.contains("line 4"), "{}", card.text);
    assert!(card.text.contains("already taken"), "{}", card.text);
    assert!(
        card.text.contains("repeats the username of line 2"),
        "{}",
        card.text
    );
    assert!(
        card.text.contains("Balance: 95 → <b>58</b>"),
        "{}",
        card.text
    );

    let done = app.press(ALICE, &card, "Confirm").await;
    assert!(done.text.contains("Created 2 subscribers"), "{}", done.text);
    assert!(done.text.contains("Charged: 37 credits"), "{}", done.text);
    let rows = credentials_file(&app).await;
    let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(names, ["ann", "ben"]);
    for (username, password, expires_at) in &rows {
        let user = &login(&app, username, password).await["user_info"];
        assert_eq!(user["auth"], 1, "{username}");
        assert_eq!(user["status"], "Active", "{username}");
        assert!(expires_at.ends_with("UTC"), "{expires_at}");
    }
    assert_eq!(
        login(&app, "ann", "not-the-password").await["user_info"]["auth"],
        0
    );
    assert_eq!(app.balance(ALICE).await, 58);
    assert_eq!(
        app.core
            .scalar_for_tests("SELECT COUNT(*) FROM subscribers WHERE notes = 'VIP, pays cash'")
            .await,
        1
    );
    assert_eq!(
        app.core
            .scalar_for_tests(
                "SELECT COUNT(*) FROM credit_transactions WHERE kind = 'debit' AND subscriber_username IN ('ann', 'ben')"
            )
            .await,
        2,
        "one ledger row per line"
    );
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_rows_the_balance_covers_only_499_of_create_nothing() {
    let app = TestApp::spawn().await;
    bulk_reseller(&app, 499).await;
    let list: String = (0..500).map(|i| format!("line{i:03},1\n")).collect();

    // At the card.
    let refused = upload(&app, &list, "credits").await;
    assert!(
        refused
            .text
            .contains("You need 500 credits to create these 500 subscribers (nothing was changed), but you have 499."),
        "{}",
        refused.text
    );
    assert!(refused.buttons.is_empty(), "no card to confirm");

    // At confirmation: the card was right when shown, the balance dropped since.
    app.grant("alice", 1).await;
    let card = upload(&app, &list, "Create <b>500</b>").await;
    assert!(
        card.text.contains("Balance: 500 → <b>0</b>"),
        "{}",
        card.text
    );
    let deduct = app
        .say_expecting(ADMIN, "/deduct alice 1 correction", "Deduct")
        .await;
    app.press(ADMIN, &deduct, "Confirm").await;
    // Alice is told of the deduction; let that arrive before her press's answer is read.
    app.outbox_drained().await;
    let done = app.press(ALICE, &card, "Confirm").await;
    assert!(
        done.text
            .contains("You need 500 credits to create these 500 subscribers (nothing was changed), but you have 499."),
        "{}",
        done.text
    );
    assert_eq!(subscribers(&app).await, 0);
    assert_eq!(app.balance(ALICE).await, 499);
    assert!(app.tg.uploads().is_empty(), "no credentials file");
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_extend_expiring_extends_the_lines_expiring_soon_at_once() {
    let app = TestApp::spawn().await;
    bulk_reseller(&app, 200).await;
    let card = app
        .say_expecting(
            ALICE,
            "/bulk create\nsoon.one,2\nsoon.two,3\nlater,60",
            "Create <b>3</b>",
        )
        .await;
    app.press(ALICE, &card, "Confirm").await;
    credentials_file(&app).await;
    let (one, two, later) = (
        expiry(&app, "soon.one").await,
        expiry(&app, "soon.two").await,
        expiry(&app, "later").await,
    );

    let card = app
        .say_expecting(ALICE, "/bulk extend expiring 30", "Extend <b>2</b>")
        .await;
    assert!(card.text.contains("Cost: 60 credits"), "{}", card.text);
    let done = app.press(ALICE, &card, "Confirm").await;
    assert!(
        done.text.contains("Extended 2 subscribers"),
        "{}",
        done.text
    );
    assert_eq!(expiry(&app, "soon.one").await, one + 30 * 86_400);
    assert_eq!(expiry(&app, "soon.two").await, two + 30 * 86_400);
    assert_eq!(expiry(&app, "later").await, later);
    assert_eq!(app.balance(ALICE).await, 200 - 65 - 60);

    // By name: the unknown one is refused on the card, the others extended.
    let card = app
        .say_expecting(ALICE, "/bulk extend 10 later nobody", "Extend <b>1</b>")
        .await;
    assert!(
        card.text.contains("nobody: no such subscriber"),
        "{}",
        card.text
    );
    app.press(ALICE, &card, "Confirm").await;
    assert_eq!(expiry(&app, "later").await, later + 10 * 86_400);
    assert_eq!(app.balance(ALICE).await, 65);
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_users_and_the_permission_hold_for_bulk_lists() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 100).await;

    let refused = app.say(ALICE, "/bulk create\nann,30").await;
    assert!(
        refused
            .text
            .contains("You are not allowed to run bulk operations"),
        "{}",
        refused.text
    );
    let refused = app
        .say_expecting(ALICE, "/bulk extend expiring 30", "not allowed")
        .await;
    assert!(refused.text.contains("bulk operations"), "{}", refused.text);

    app.say_expecting(ADMIN, "/perm alice can_bulk_operations on", "override")
        .await;
    app.say(ADMIN, "/limit alice max_users 3").await;
    let card = app.say_expecting(ALICE, "/new 5 first", "Create").await;
    app.press(ALICE, &card, "Confirm").await;
    let refused = app.say(ALICE, "/bulk create\nann,30\nben,30\ncid,30").await;
    assert!(
        refused.text.contains(
            "This list would create 3 subscribers, but your limit is 3 and you have 1: room for 2."
        ),
        "{}",
        refused.text
    );
    assert_eq!(subscribers(&app).await, 1);
    let card = app
        .say_expecting(ALICE, "/bulk create\nann,30\nben,30", "Create <b>2</b>")
        .await;
    let done = app.press(ALICE, &card, "Confirm").await;
    assert!(done.text.contains("Created 2"), "{}", done.text);
    assert_eq!(subscribers(&app).await, 3);
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_confirm_charges_once() {
    let app = TestApp::spawn().await;
    bulk_reseller(&app, 100).await;
    let card = app
        .say_expecting(ALICE, "/bulk create\nann,30\nben,20", "Create <b>2</b>")
        .await;
    app.confirm_all(&[(ALICE, card.clone()), (ALICE, card.clone())])
        .await;
    // Both presses answered: the card edited twice, the second time with the stored outcome.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let edits = loop {
        let edits: Vec<String> = app
            .tg
            .sent()
            .into_iter()
            .filter(|s| s.edited && s.message_id == card.message_id)
            .map(|s| s.text)
            .collect();
        if edits.len() >= 2 {
            break edits;
        }
        assert!(tokio::time::Instant::now() < deadline, "{edits:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for e in &edits {
        assert!(e.contains("Created 2 subscribers"), "{e}");
    }
    assert_eq!(app.balance(ALICE).await, 50);
    assert_eq!(subscribers(&app).await, 2);
    credentials_file(&app).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.tg.uploads().len(), 1, "one credentials file");
    app.assert_ledger_sound().await;
}
