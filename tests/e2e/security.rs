//! Hostile and mistaken input: other people's buttons, forged data, suspended accounts,
//! permissions, limits, bad numbers and names, rate limits.

use crate::support::{ADMIN, TestApp};

const ALICE: i64 = 2_001;
const BOB: i64 = 2_002;

async fn alice_and_bob_with_a_subscriber_each(app: &TestApp) {
    app.reseller("alice", ALICE).await;
    app.reseller("bob", BOB).await;
    app.grant("alice", 100).await;
    app.grant("bob", 100).await;
    let card = app
        .say_expecting(ALICE, "/new 30 alice.sub", "Create")
        .await;
    app.press(ALICE, &card, "Confirm").await;
    let card = app.say_expecting(BOB, "/new 30 bob.sub", "Create").await;
    app.press(BOB, &card, "Confirm").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_resellers_buttons_and_forged_data_change_and_reveal_nothing() {
    let app = TestApp::spawn().await;
    alice_and_bob_with_a_subscriber_each(&app).await;

    // Bob presses Alice's pending confirmation (as if he had her callback data).
    let alices_card = app
        .say_expecting(ALICE, "/extend alice.sub 30", "Extend")
        .await;
    let before = app.tg.sent().len();
    app.tg
        .press(BOB, alices_card.message_id, &alices_card.button("Confirm"));
    let refused = app.tg.wait_for(BOB, before, "").await;
    assert!(
        refused.text.contains("expired or was already used"),
        "{}",
        refused.text
    );

    // Forged card actions naming Alice's subscriber, by a Bob who may delete his own.
    app.say_expecting(ADMIN, "/perm bob can_delete_users on", "is on")
        .await;
    for data in [
        "a:e30:alice.sub",
        "a:x:alice.sub",
        "a:s:alice.sub",
        "a:d:alice.sub",
        "s:alice.sub",
    ] {
        let before = app.tg.sent().len();
        app.tg.press(BOB, 1, data);
        let reply = app.tg.wait_for(BOB, before, "").await;
        assert!(
            reply
                .text
                .contains("There is no subscriber named “alice.sub”."),
            "{data}: {}",
            reply.text
        );
    }
    let listing = app.say_expecting(BOB, "/users", "Subscribers").await;
    assert!(!listing.text.contains("alice.sub"), "{}", listing.text);

    // Alice's subscriber is untouched, her card still works for her.
    assert_eq!(app.balance(ALICE).await, 70);
    assert_eq!(app.balance(BOB).await, 70);
    let done = app.press(ALICE, &alices_card, "Confirm").await;
    assert!(done.text.contains("alice.sub"), "{}", done.text);
    assert_eq!(app.balance(ALICE).await, 40);
    let alice_card = app
        .say_expecting(ALICE, "/user alice.sub", "alice.sub")
        .await;
    assert!(alice_card.text.contains("active"), "{}", alice_card.text);
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_from_a_reseller_change_nothing() {
    let app = TestApp::spawn().await;
    alice_and_bob_with_a_subscriber_each(&app).await;
    // Resellers have sub-reseller counterparts of some (their own sub-resellers only).
    for (cmd, refusal) in [
        ("/grant alice 1000", "Only admins can do that."),
        ("/deduct bob 10 because", "Only admins can do that."),
        ("/suspend bob", "There is no sub-reseller named “bob”."),
        (
            "/perm alice can_delete_users on",
            "There is no sub-reseller named “alice”.",
        ),
        (
            "/newreseller eve",
            "You are not allowed to create sub-resellers.",
        ),
        ("/resellers", "You have no sub-resellers yet."),
        ("/limit alice max_users 9999", "Only admins can do that."),
    ] {
        let reply = app.say(ALICE, cmd).await;
        assert!(reply.text.contains(refusal), "{cmd}: {}", reply.text);
    }
    assert_eq!(app.balance(ALICE).await, 70);
    assert_eq!(app.balance(BOB).await, 70);
    let delete = app.say(ALICE, "/delete alice.sub").await;
    assert!(
        delete.text.contains("not allowed to delete"),
        "{}",
        delete.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_reseller_can_read_nothing_and_change_nothing() {
    let app = TestApp::spawn().await;
    alice_and_bob_with_a_subscriber_each(&app).await;
    let pending = app
        .say_expecting(ALICE, "/extend alice.sub 10", "Extend")
        .await;
    let suspended = app.say(ADMIN, "/suspend alice").await;
    assert!(suspended.text.contains("suspended"), "{}", suspended.text);
    for cmd in [
        "/balance",
        "/users",
        "/user alice.sub",
        "/show alice.sub",
        "/history",
        "/stats",
        "/new 5 another",
        "/extend alice.sub 5",
        "/disable alice.sub",
    ] {
        let reply = app.say(ALICE, cmd).await;
        assert!(reply.text.contains("suspended"), "{cmd}: {}", reply.text);
        assert!(!reply.text.contains("Password"), "{cmd}: {}", reply.text);
    }
    let late = app.press(ALICE, &pending, "Confirm").await;
    assert!(late.text.contains("suspended"), "{}", late.text);
    app.say_expecting(ADMIN, "/unsuspend alice", "active again")
        .await;
    assert_eq!(app.balance(ALICE).await, 70);
    let ok = app.press(ALICE, &pending, "Confirm").await;
    assert!(ok.text.contains("now expires"), "{}", ok.text);
    assert_eq!(app.balance(ALICE).await, 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissions_and_limits_are_enforced() {
    let app = TestApp::spawn().await;
    alice_and_bob_with_a_subscriber_each(&app).await;
    app.say_expecting(ADMIN, "/perm alice can_create_users off", "is off")
        .await;
    let refused = app.say(ALICE, "/new 5 second").await;
    assert!(
        refused
            .text
            .contains("You are not allowed to create subscribers."),
        "{}",
        refused.text
    );
    app.say_expecting(ADMIN, "/perm alice create_users on", "is on")
        .await;

    let limit = app.say(ADMIN, "/limit alice max_users 2").await;
    assert!(
        limit.text.contains("max_users for <b>alice</b> is 2"),
        "{}",
        limit.text
    );
    let card = app.say_expecting(ALICE, "/new 5 second", "Create").await;
    app.press(ALICE, &card, "Confirm").await;
    let third = app.say(ALICE, "/new 5 third").await;
    assert!(
        third
            .text
            .contains("You have reached your limit of 2 subscribers; you have 2."),
        "{}",
        third.text
    );

    let bad = app
        .say(ADMIN, "/limit alice max_connections_per_user 0")
        .await;
    assert!(
        bad.text.contains("from 1 to 100; you gave “0”"),
        "{}",
        bad.text
    );
    let bad = app.say(ADMIN, "/perm alice can_fly on").await;
    assert!(bad.text.contains("is not a permission"), "{}", bad.text);

    let detail = app
        .say_expecting(ADMIN, "/reseller alice", "Permissions")
        .await;
    assert!(
        detail.text.contains("Subscribers: 2 of max 2"),
        "{}",
        detail.text
    );
    assert!(
        detail.text.contains("✅ can_create_users"),
        "{}",
        detail.text
    );
    assert!(
        detail.text.contains("❌ can_delete_users"),
        "{}",
        detail.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_numbers_and_names_get_a_sentence_and_change_nothing() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 100).await;
    let cases = [
        ("/new -5 john", "at least 1; you gave -5"),
        ("/new 0 john", "at least 1; you gave 0"),
        (
            "/new 99999999999999999999 john",
            "at most 3650; you gave 99999999999999999999",
        ),
        ("/new 4000 john", "at most 3650; you gave 4000"),
        ("/new ten john", "“ten” is not a number of days"),
        ("/new 30 jo", "“jo” is not a valid username"),
        (
            "/new 30 <script>",
            "“&lt;script&gt;” is not a valid username",
        ),
        (
            "/new 30 a_very_long_username_that_goes_on_and_on",
            "is not a valid username",
        ),
        ("/extend john", "Usage: /extend"),
        ("/new 30", "Usage: /new"),
    ];
    for (cmd, expected) in cases {
        let reply = app.say(ALICE, cmd).await;
        assert!(reply.text.contains(expected), "{cmd}: {}", reply.text);
        assert!(reply.buttons.is_empty(), "{cmd}");
    }
    assert_eq!(app.balance(ALICE).await, 100);
    let none = app.say(ALICE, "/users").await;
    assert!(none.text.contains("No subscribers"), "{}", none.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_actions_are_rate_limited_per_reseller() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limit.actions_per_minute = 1.try_into().unwrap();
        s.rate_limit.burst = 2.try_into().unwrap();
    })
    .await;
    app.reseller("alice", ALICE).await;
    app.reseller("bob", BOB).await;
    app.grant("alice", 100).await;
    app.say_expecting(ALICE, "/new 5 first", "Create").await;
    app.say_expecting(ALICE, "/new 5 second", "Create").await;
    let third = app.say(ALICE, "/new 5 third").await;
    assert!(third.text.contains("too quickly"), "{}", third.text);
    // Reading is not limited, and neither is another reseller.
    assert_eq!(app.balance(ALICE).await, 100);
    let bobs = app.say(BOB, "/new 5 bobs").await;
    assert!(bobs.text.contains("You need 5 credits"), "{}", bobs.text);
}
