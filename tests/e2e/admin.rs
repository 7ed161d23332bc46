//! The operator's view: resellers, dashboards, and subscribers of their own.

use crate::support::{ADMIN, TestApp};

const ALICE: i64 = 2_001;
const BOB: i64 = 2_002;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_sees_every_reseller_with_counts_and_balances() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.reseller("bob", BOB).await;
    app.say_expecting(ADMIN, "/newreseller carol", "start=")
        .await;
    app.grant("alice", 3610).await;
    let card = app.say_expecting(ALICE, "/new 30 aa1", "Create").await;
    app.press(ALICE, &card, "Confirm").await;
    let card = app.say_expecting(ALICE, "/new 30 aa2", "Create").await;
    app.press(ALICE, &card, "Confirm").await;

    let list = app.say_expecting(ADMIN, "/resellers", "Resellers").await;
    assert!(
        list.text
            .contains("<code>alice</code> — 3,550 credits, 2 subscribers (2 active)"),
        "{}",
        list.text
    );
    assert!(
        list.text
            .contains("<code>bob</code> — 0 credits, 0 subscribers (0 active)"),
        "{}",
        list.text
    );
    assert!(
        list.text
            .contains("<code>carol</code> — 0 credits, 0 subscribers (0 active), not linked yet"),
        "{}",
        list.text
    );

    let stats = app.say_expecting(ADMIN, "/stats", "All resellers").await;
    assert!(
        stats.text.contains("Resellers: <b>3</b> (0 suspended)"),
        "{}",
        stats.text
    );
    assert!(
        stats.text.contains("Credits held by resellers: 3,550"),
        "{}",
        stats.text
    );
    assert!(
        stats.text.contains("Credits spent this month: 60"),
        "{}",
        stats.text
    );
    assert!(
        stats.text.contains("subscriber.create aa2"),
        "recent activity: {}",
        stats.text
    );

    let taken = app.say(ADMIN, "/newreseller alice").await;
    assert!(taken.text.contains("already taken"), "{}", taken.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_owned_subscribers_cost_nothing_and_resellers_ones_are_theirs() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 50).await;
    let card = app.say_expecting(ALICE, "/new 30 alices", "Create").await;
    app.press(ALICE, &card, "Confirm").await;

    let card = app
        .say_expecting(ADMIN, "/new 365 house.account", "Create")
        .await;
    assert!(!card.text.contains("Cost"), "{}", card.text);
    let done = app.press(ADMIN, &card, "Confirm").await;
    assert!(
        done.text.contains("created") && !done.text.contains("Charged"),
        "{}",
        done.text
    );
    let card = app
        .say_expecting(ADMIN, "/extend house.account 30", "Extend")
        .await;
    assert!(
        app.press(ADMIN, &card, "Confirm")
            .await
            .text
            .contains("now expires")
    );

    let theirs = app.say(ADMIN, "/extend alices 30").await;
    assert!(
        theirs.text.contains("belongs to reseller alice"),
        "{}",
        theirs.text
    );
    let view = app.say_expecting(ADMIN, "/user alices", "alices").await;
    assert!(view.text.contains("Owner: alice"), "{}", view.text);
    let all = app.say_expecting(ADMIN, "/users", "Subscribers").await;
    assert!(all.text.contains("2 in all"), "{}", all.text);
    let hers = app.say_expecting(ALICE, "/users", "Subscribers").await;
    assert!(
        hers.text.contains("1 in all") && !hers.text.contains("house.account"),
        "{}",
        hers.text
    );
    assert_eq!(app.balance(ALICE).await, 20);
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reseller_overview_pages_and_clamps_forged_pages() {
    let app = TestApp::spawn().await;
    for i in 0..25 {
        app.core
            .create_reseller(
                &reseller_core::Actor::Admin(reseller_core::domain::TelegramId(ADMIN)),
                &reseller_core::domain::Username::parse(&format!("shop{i:02}")).unwrap(),
                Some("A long display name that is not shown in the overview"),
            )
            .await
            .expect("reseller created");
    }
    let first = app.say_expecting(ADMIN, "/resellers", "Resellers").await;
    assert!(
        first.text.contains("Resellers</b> — 25 · page 1 of 3"),
        "{}",
        first.text
    );
    assert!(first.text.contains("shop00") && first.text.contains("shop09"));
    assert!(!first.text.contains("shop10"), "{}", first.text);

    let second = app.press(ADMIN, &first, "Next").await;
    assert!(second.edited, "paging edits the message in place");
    assert!(
        second.text.contains("page 2 of 3") && second.text.contains("shop10"),
        "{}",
        second.text
    );

    // Forged or stale page numbers show the nearest real page; no error, no overflow.
    for (forged, page) in [
        ("r:922337203685477581", "page 3 of 3"),
        ("r:9223372036854775807", "page 3 of 3"),
        ("r:99999999999999999999999", "page 3 of 3"),
        ("r:-4", "page 1 of 3"),
    ] {
        let before = app.tg.sent().len();
        app.tg.press(ADMIN, first.message_id, forged);
        let shown = app.tg.wait_for(ADMIN, before, "Resellers").await;
        assert!(shown.text.contains(page), "{forged}: {}", shown.text);
    }
    let last = app.say_expecting(ADMIN, "/resellers", "Resellers").await;
    assert!(last.text.len() < 4_096);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_count_each_subscriber_in_exactly_one_status() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 1_000).await;
    for (name, days) in [
        ("watching", 30),
        ("lapsed", 30),
        ("paused", 30),
        ("soon", 30),
        ("later", 200),
    ] {
        let card = app
            .say_expecting(ALICE, &format!("/new {days} {name}"), "Create")
            .await;
        app.press(ALICE, &card, "Confirm").await;
    }
    let now = chrono::Utc::now();
    app.core
        .set_expiry_for_tests("lapsed", now - chrono::Duration::days(2))
        .await;
    app.core
        .set_expiry_for_tests("soon", now + chrono::Duration::days(3))
        .await;
    app.say_expecting(ALICE, "/disable paused", "disabled")
        .await;

    let counts = "Subscribers: <b>5</b>\n🟢 Active: 3\n🟡 Expiring within a week: 1\n🔴 Expired: 1\n⚪ Disabled: 1";
    let mine = app.say_expecting(ALICE, "/stats", "Dashboard").await;
    assert!(mine.text.contains(counts), "{}", mine.text);
    let all = app.say_expecting(ADMIN, "/stats", "All resellers").await;
    assert!(all.text.contains(counts), "{}", all.text);
    let list = app.say_expecting(ADMIN, "/resellers", "Resellers").await;
    assert!(
        list.text.contains("5 subscribers (3 active)"),
        "{}",
        list.text
    );
    app.assert_ledger_sound().await;
}
