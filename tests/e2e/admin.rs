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
