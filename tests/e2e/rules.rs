//! What a reseller may see: permissions that hide figures and logs, another reseller's
//! subscribers answered exactly like missing ones, and forged page numbers in buttons.

use crate::support::{ADMIN, TestApp};
use crate::telegram::Sent;
use reseller_core::domain::{Days, OperationId, TelegramId, Username};

const ALICE: i64 = 2_001;
const BOB: i64 = 2_002;
const NOT_FOUND: &str = "⚠️ There is no subscriber named “nobody.x”.";

/// Alice, with credits, and one subscriber of hers made through the bot.
async fn alice_with_john(app: &TestApp) {
    app.reseller("alice", ALICE).await;
    app.grant("alice", 500).await;
    let card = app.say_expecting(ALICE, "/new 30 john", "Create").await;
    let done = app.press(ALICE, &card, "Confirm").await;
    assert!(done.text.contains("created"), "{}", done.text);
}

/// `user` presses a button carrying `data` on `message`; returns the next message or edit.
async fn press_data(app: &TestApp, user: i64, message: &Sent, data: &str) -> Sent {
    let before = app.tg.sent().len();
    app.tg.press(user, message.message_id, data);
    app.tg.wait_for(user, before, "").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_view_connections_no_connection_figures_are_shown() {
    let app = TestApp::spawn().await;
    alice_with_john(&app).await;
    let card = app.say_expecting(ALICE, "/user john", "john").await;
    assert!(card.text.contains("Connections: 0 of 3"), "{}", card.text);
    let stats = app.say_expecting(ALICE, "/stats", "Dashboard").await;
    assert!(stats.text.contains("Connections now: 0"), "{}", stats.text);

    app.say_expecting(ADMIN, "/perm alice can_view_connections off", "is off")
        .await;
    let card = app.say_expecting(ALICE, "/user john", "john").await;
    assert!(card.text.contains("Max connections: 3"), "{}", card.text);
    assert!(!card.text.contains("Connections:"), "{}", card.text);
    let list = app.say_expecting(ALICE, "/users", "Subscribers").await;
    assert!(!list.text.contains("onnection"), "{}", list.text);
    let stats = app.say_expecting(ALICE, "/stats", "Dashboard").await;
    assert!(!stats.text.contains("Connections"), "{}", stats.text);
    assert!(
        stats.text.contains("Subscribers: <b>1</b>"),
        "{}",
        stats.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_view_logs_the_dashboard_lists_only_credit_movements() {
    let app = TestApp::spawn().await;
    alice_with_john(&app).await;
    // can_view_logs is off by default.
    let stats = app.say_expecting(ALICE, "/stats", "Dashboard").await;
    assert!(!stats.text.contains("Recent activity"), "{}", stats.text);
    assert!(!stats.text.contains("subscriber.create"), "{}", stats.text);
    assert!(
        stats.text.contains("Recent credit movements"),
        "{}",
        stats.text
    );
    assert!(
        stats.text.contains("<b>-30</b> spent (john) — 500 → 470"),
        "{}",
        stats.text
    );

    app.say_expecting(ADMIN, "/perm alice can_view_logs on", "is on")
        .await;
    let stats = app.say_expecting(ALICE, "/stats", "Dashboard").await;
    assert!(stats.text.contains("Recent activity"), "{}", stats.text);
    assert!(
        stats.text.contains("subscriber.create john"),
        "{}",
        stats.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_creator_without_view_users_still_gets_the_new_credentials() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 100).await;
    app.say_expecting(ADMIN, "/perm alice can_view_users off", "is off")
        .await;
    let card = app.say_expecting(ALICE, "/new 30 john", "Create").await;
    let done = app.press(ALICE, &card, "Confirm").await;
    assert!(done.text.contains("created"), "{}", done.text);
    assert!(done.text.contains("Password: <code>"), "{}", done.text);
    // Viewing them again later is what the permission forbids.
    let shown = app.say(ALICE, "/show john").await;
    assert!(
        shown.text.contains("not allowed to view subscribers"),
        "{}",
        shown.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_resellers_subscriber_is_answered_exactly_like_a_missing_one() {
    let app = TestApp::spawn().await;
    alice_with_john(&app).await;
    app.reseller("bob", BOB).await;
    app.grant("bob", 100).await;
    let card = app.say_expecting(BOB, "/new 30 bobs.line", "Create").await;
    app.press(BOB, &card, "Confirm").await;
    app.say_expecting(ADMIN, "/perm alice can_delete_users on", "is on")
        .await;

    // The name is the only thing that may differ between the two answers.
    let same_as_missing = |theirs: &str, missing: &str, what: &str| {
        assert_eq!(
            theirs.replace("bobs.line", "NAME"),
            missing.replace("nobody.x", "NAME"),
            "{what}"
        );
        assert!(
            !theirs.replace("bobs.line", "").contains("bob"),
            "{what}: {theirs}"
        );
    };
    for command in [
        "/user {}",
        "/extend {} 30",
        "/reset {}",
        "/disable {}",
        "/enable {}",
        "/delete {}",
        "/show {}",
        "/note {} hello",
        "/kick {}",
        "/bouquet {} all",
        "/users all {}",
        "/history {}",
    ] {
        let theirs = app.say(ALICE, &command.replace("{}", "bobs.line")).await;
        let missing = app.say(ALICE, &command.replace("{}", "nobody.x")).await;
        if !command.starts_with("/users") && !command.starts_with("/history") {
            assert_eq!(missing.text, NOT_FOUND, "{command}");
        }
        same_as_missing(&theirs.text, &missing.text, command);
    }
    let anchor = app.say_expecting(ALICE, "/users", "Subscribers").await;
    for data in [
        "s:{}", "a:e30:{}", "a:r:{}", "a:d:{}", "a:n:{}", "a:x:{}", "a:s:{}", "h:0:{}",
    ] {
        let theirs = press_data(&app, ALICE, &anchor, &data.replace("{}", "bobs.line")).await;
        let missing = press_data(&app, ALICE, &anchor, &data.replace("{}", "nobody.x")).await;
        if !data.starts_with("h:") {
            assert_eq!(missing.text, NOT_FOUND, "{data}");
        }
        same_as_missing(&theirs.text, &missing.text, data);
    }

    // Creating a name someone else owns must be refused, and say nothing else about it.
    let taken = app.say(ALICE, "/new 30 bobs.line").await;
    assert_eq!(
        taken.text,
        "⚠️ The username “bobs.line” is already taken. Pick another one."
    );
    let bob_balance = app.balance(BOB).await;
    assert_eq!(bob_balance, 70, "Bob's line was not touched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_page_numbers_show_the_first_or_last_page() {
    let app = TestApp::spawn().await;
    alice_with_john(&app).await;
    let Some(alice) = app
        .core
        .identify(TelegramId(ALICE))
        .await
        .expect("identify runs")
    else {
        panic!("alice is linked")
    };
    // 25 subscribers (24 expiring soon, 24 matching “line”) and 26 ledger rows: three pages.
    for i in 0..24 {
        app.core
            .create_subscriber(
                &alice,
                &OperationId::random(),
                &Username::parse(&format!("line{i:02}")).expect("valid name"),
                Days::new(1).expect("valid days"),
            )
            .await
            .expect("created");
    }
    let list = app.say_expecting(ALICE, "/users", "Subscribers").await;
    assert!(list.text.contains("page 1 of 3"), "{}", list.text);
    let history = app.say_expecting(ALICE, "/history", "Credit history").await;
    assert!(history.text.contains("page 1 of 3"), "{}", history.text);

    let huge = [
        "922337203685477581",
        "9223372036854775807",
        "99999999999999999999999",
    ];
    let negative = ["-1", "-922337203685477581", "-99999999999999999999999"];
    for (pages, want) in [(huge, "page 3 of 3"), (negative, "page 1 of 3")] {
        for page in pages {
            for filter in ["all", "active", "expiring"] {
                let data = format!("u:{filter}:{page}:");
                let shown = press_data(&app, ALICE, &list, &data).await;
                assert!(shown.text.contains(want), "{data}: {}", shown.text);
            }
            let data = format!("u:all:{page}:line");
            let shown = press_data(&app, ALICE, &list, &data).await;
            assert!(
                shown.text.contains(want) && shown.text.contains("matching"),
                "{data}: {}",
                shown.text
            );
            let data = format!("h:{page}:");
            let shown = press_data(&app, ALICE, &history, &data).await;
            assert!(shown.text.contains(want), "{data}: {}", shown.text);
        }
    }

    // The admin's paged view of a reseller's history.
    let admins = app
        .say_expecting(ADMIN, "/history alice", "Credit history")
        .await;
    for (page, want) in [("922337203685477581", "page 3 of 3"), ("-7", "page 1 of 3")] {
        let data = format!("h:{page}:alice");
        let shown = press_data(&app, ADMIN, &admins, &data).await;
        assert!(shown.text.contains(want), "{data}: {}", shown.text);
    }
}
