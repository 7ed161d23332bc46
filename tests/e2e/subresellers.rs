//! Sub-resellers through the bot: a Premium reseller creates one with an invite link, moves
//! credits to them and takes unused ones back (once, even when Telegram redelivers the
//! command), sees their balance and subscribers read-only, suspends them and sets their
//! permissions never beyond their own; the sub-reseller sees nothing of the parent's; a
//! suspended parent stops the subtree; admins see the tree indented.

use crate::support::{ADMIN, TestApp, invite_code};

const ALICE: i64 = 5_001;
const BOB: i64 = 5_002;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_creates_funds_and_manages_a_subreseller() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;

    // Basic resellers may not create sub-resellers.
    let refused = app.say(ALICE, "/newreseller bob").await;
    assert!(
        refused.text.contains("not allowed to create sub-resellers"),
        "{}",
        refused.text
    );
    app.say_expecting(ADMIN, "/template apply premium alice", "premium")
        .await;
    app.grant("alice", 100).await;

    let created = app
        .say_expecting(ALICE, "/newreseller bob Bob's shop", "start=")
        .await;
    assert!(
        created.text.contains("Sub-reseller <b>bob</b> created"),
        "{}",
        created.text
    );
    let welcome = app
        .say(BOB, &format!("/start {}", invite_code(&created.text)))
        .await;
    assert!(welcome.text.contains("Welcome"), "{}", welcome.text);

    // A transfer, and the same update redelivered: the credits move once.
    let before = app.tg.sent().len();
    let update = app.tg.send_text(ALICE, "/transfer bob 30");
    let moved = app.tg.wait_for(ALICE, before, "Transferred").await;
    assert!(
        moved
            .text
            .contains("Your balance: <b>70</b>; bob's: <b>30</b>"),
        "{}",
        moved.text
    );
    let told = app
        .tg
        .wait_for(BOB, before, "alice transferred 30 credits to you")
        .await;
    assert!(told.text.contains("Your balance is 30."), "{}", told.text);
    let before = app.tg.sent().len();
    app.tg.redeliver(update);
    app.tg.wait_for(ALICE, before, "Transferred").await;
    assert_eq!(app.balance(ALICE).await, 70);
    assert_eq!(app.balance(BOB).await, 30);

    // Taking back: never more than the sub-reseller has.
    let refused = app.say(ALICE, "/transfer bob -40").await;
    assert!(
        refused
            .text
            .contains("Cannot deduct 40 credits from bob: the balance is 30."),
        "{}",
        refused.text
    );
    let before = app.tg.sent().len();
    let back = app.say(ALICE, "/transfer bob -10").await;
    assert!(
        back.text.contains("Took back 10 credits from <b>bob</b>"),
        "{}",
        back.text
    );
    // Bob is told (by the notification sender, in its own time): wait for it, so that it
    // cannot pass for the answer to one of his commands below.
    app.tg
        .wait_for(BOB, before, "alice took back 10 unused credits from you")
        .await;
    let refused = app.say(ALICE, "/transfer bob 81").await;
    assert!(
        refused.text.contains("You need 81 credits") && refused.text.contains("you have 80"),
        "{}",
        refused.text
    );

    // Bob sells; Alice sees his balance and subscribers, read-only.
    let card = app.say_expecting(BOB, "/new 5 line1", "Create").await;
    app.press(BOB, &card, "Confirm").await;
    let subs = app.say(ALICE, "/subs").await;
    assert!(
        subs.text
            .contains("<code>bob</code> — 15 credits, 1 subscribers"),
        "{}",
        subs.text
    );
    let lines = app.say(ALICE, "/subs bob").await;
    assert!(lines.text.contains("<code>line1</code>"), "{}", lines.text);
    // Bob sees nothing of Alice's.
    for ask in [
        "/subs alice",
        "/reseller alice",
        "/transfer alice 1",
        "/suspend alice",
    ] {
        let hidden = app.say_expecting(BOB, ask, "alice").await;
        assert!(
            hidden
                .text
                .contains("There is no sub-reseller named “alice”."),
            "{ask}: {}",
            hidden.text
        );
    }
    let lines = app.say_expecting(BOB, "/users", "Subscribers").await;
    assert!(lines.text.contains("line1"), "{}", lines.text);

    // Permissions: within Alice's own only.
    let card = app
        .say_expecting(ALICE, "/reseller bob", "Permissions")
        .await;
    let pressed = app.press(ALICE, &card, "❌ api_access").await;
    assert!(
        pressed.text.contains("✅ can_api_access"),
        "{}",
        pressed.text
    );
    app.say_expecting(ADMIN, "/perm alice can_delete_users off", "off")
        .await;
    let beyond = app.say(ALICE, "/perm bob can_delete_users on").await;
    assert!(
        beyond
            .text
            .contains("“bob” cannot be allowed to delete subscribers: their parent alice may not."),
        "{}",
        beyond.text
    );

    // Alice suspends Bob, then the admin suspends Alice: Bob cannot act either way.
    app.say_expecting(ALICE, "/suspend bob", "suspended").await;
    let stopped = app.say_expecting(BOB, "/new 5 line2", "⚠️").await;
    assert!(stopped.text.contains("suspended"), "{}", stopped.text);
    app.say_expecting(ALICE, "/unsuspend bob", "active again")
        .await;
    app.say_expecting(ADMIN, "/suspend alice", "suspended")
        .await;
    let stopped = app.say_expecting(BOB, "/users", "⚠️").await;
    assert!(stopped.text.contains("suspended"), "{}", stopped.text);
    let tree = app.say_expecting(ADMIN, "/resellers", "Resellers").await;
    let alice_at = tree.text.find("<code>alice</code>").expect("alice listed");
    let bob_at = tree
        .text
        .find("    └ ⏸ <code>bob</code>")
        .unwrap_or_else(|| panic!("bob indented under alice: {}", tree.text));
    assert!(alice_at < bob_at, "{}", tree.text);
    app.say_expecting(ADMIN, "/unsuspend alice", "active again")
        .await;
    let card = app.say_expecting(BOB, "/new 5 line2", "Create").await;
    let done = app.press(BOB, &card, "Confirm").await;
    assert!(done.text.contains("line2"), "{}", done.text);
    assert_eq!(app.balance(BOB).await, 10);
    app.assert_ledger_sound().await;
}
