//! A reseller's day: create, list, open, extend, reset, disable, delete, show.

use crate::support::{ADMIN, TestApp};

const ALICE: i64 = 2_001;

fn password(text: &str) -> String {
    text.split("Password: <code>")
        .nth(1)
        .and_then(|s| s.split("</code>").next())
        .expect("has a password")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_buttons_extend_reset_disable_and_show() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 200).await;
    let card = app.say_expecting(ALICE, "/new 30 john.doe", "Create").await;
    let created = app.press(ALICE, &card, "Confirm").await;
    let first_password = password(&created.text);
    assert_eq!(first_password.len(), 10);
    assert!(
        first_password
            .chars()
            .all(|c| c.is_ascii_alphanumeric() && !"0O1lI".contains(c)),
        "{first_password}"
    );

    let shown = app.say_expecting(ALICE, "/show john.doe", "Password").await;
    assert_eq!(
        password(&shown.text),
        first_password,
        "the same credentials are shown again"
    );

    let user = app.say_expecting(ALICE, "/user john.doe", "john.doe").await;
    assert!(user.text.contains("🟢 active"), "{}", user.text);
    let extend = app.press(ALICE, &user, "+90 days").await;
    assert!(
        extend
            .text
            .contains("Extend <b>john.doe</b> by <b>90</b> days?"),
        "{}",
        extend.text
    );
    assert!(
        extend.text.contains("Balance: 170 → <b>80</b>"),
        "{}",
        extend.text
    );
    let extended = app.press(ALICE, &extend, "Confirm").await;
    let expiry = (chrono::Utc::now() + chrono::Duration::days(120))
        .format("%Y-%m-%d")
        .to_string();
    assert!(extended.text.contains(&expiry), "{}", extended.text);

    let reset = app.press(ALICE, &user, "Reset").await;
    assert!(
        reset.text.contains("old ones stop working"),
        "{}",
        reset.text
    );
    let reset_done = app.press(ALICE, &reset, "Confirm").await;
    let new_password = password(&reset_done.text);
    assert_ne!(new_password, first_password);
    let shown = app.say_expecting(ALICE, "/show john.doe", "Password").await;
    assert_eq!(password(&shown.text), new_password);

    let disabled = app.press(ALICE, &user, "Disable").await;
    assert!(
        disabled.text.contains("is now disabled"),
        "{}",
        disabled.text
    );
    let again = app.say(ALICE, "/disable john.doe").await;
    assert!(
        again.text.contains("was already disabled"),
        "{}",
        again.text
    );
    let card = app.say_expecting(ALICE, "/user john.doe", "john.doe").await;
    assert!(card.text.contains("disabled"), "{}", card.text);
    let enabled = app.say(ALICE, "/enable john.doe").await;
    assert!(enabled.text.contains("is now enabled"), "{}", enabled.text);
    assert_eq!(
        app.balance(ALICE).await,
        80,
        "reset, disable and enable cost nothing"
    );
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_needs_the_permission_and_a_confirmation() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 30).await;
    let card = app.say_expecting(ALICE, "/new 30 john.doe", "Create").await;
    app.press(ALICE, &card, "Confirm").await;

    let refused = app.say(ALICE, "/delete john.doe").await;
    assert!(
        refused.text.contains("not allowed to delete subscribers"),
        "{}",
        refused.text
    );
    let granted = app.say(ADMIN, "/perm alice can_delete_users on").await;
    assert!(
        granted
            .text
            .contains("can_delete_users for <b>alice</b> is on"),
        "{}",
        granted.text
    );

    let card = app.say_expecting(ALICE, "/delete john.doe", "Delete").await;
    assert!(
        card.text.contains("29 paid days left will be lost"),
        "{}",
        card.text
    );
    let still_there = app.say_expecting(ALICE, "/user john.doe", "john.doe").await;
    assert!(still_there.text.contains("active"), "{}", still_there.text);
    let deleted = app.press(ALICE, &card, "Confirm").await;
    assert!(deleted.text.contains("deleted"), "{}", deleted.text);
    let gone = app.say(ALICE, "/user john.doe").await;
    assert!(
        gone.text
            .contains("There is no subscriber named “john.doe”."),
        "{}",
        gone.text
    );
    // The username is free again.
    app.grant("alice", 10).await;
    let again = app.say_expecting(ALICE, "/new 10 john.doe", "Create").await;
    assert!(
        app.press(ALICE, &again, "Confirm")
            .await
            .text
            .contains("created")
    );
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_filter_search_and_page() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 500).await;
    for i in 0..12 {
        let card = app
            .say_expecting(ALICE, &format!("/new 30 user{i:02}"), "Create")
            .await;
        app.press(ALICE, &card, "Confirm").await;
    }
    let card = app.say_expecting(ALICE, "/new 3 soon.gone", "Create").await;
    app.press(ALICE, &card, "Confirm").await;
    app.core
        .set_expiry_for_tests("user00", chrono::Utc::now() - chrono::Duration::days(1))
        .await;

    let all = app.say_expecting(ALICE, "/users", "Subscribers").await;
    assert!(all.text.contains("13 in all, page 1 of 2"), "{}", all.text);
    let next = app.press(ALICE, &all, "Next").await;
    assert!(
        next.edited && next.text.contains("page 2 of 2"),
        "{}",
        next.text
    );

    let expired = app
        .say_expecting(ALICE, "/users expired", "Subscribers")
        .await;
    assert!(
        expired.text.contains("1 in all") && expired.text.contains("user00"),
        "{}",
        expired.text
    );
    let soon = app
        .say_expecting(ALICE, "/users expiring", "Subscribers")
        .await;
    assert!(
        soon.text.contains("1 in all") && soon.text.contains("soon.gone"),
        "{}",
        soon.text
    );
    let search = app
        .say_expecting(ALICE, "/users user1", "Subscribers")
        .await;
    assert!(
        search.text.contains("2 in all"),
        "user10 and user11: {}",
        search.text
    );
    let open = app.press(ALICE, &search, "user11").await;
    assert!(open.text.contains("👤 <b>user11</b>"), "{}", open.text);

    let stats = app.say_expecting(ALICE, "/stats", "Dashboard").await;
    assert!(
        stats.text.contains("Subscribers: <b>13</b>"),
        "{}",
        stats.text
    );
    assert!(stats.text.contains("Expired: 1"), "{}", stats.text);
    assert!(
        stats.text.contains("Created this month: 13"),
        "{}",
        stats.text
    );
    assert!(
        stats
            .text
            .contains(&format!("Balance: <b>{}</b>", 500 - 12 * 30 - 3)),
        "{}",
        stats.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guided_flow_asks_for_days_then_the_name() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 100).await;
    let ask = app.say_expecting(ALICE, "/new", "For how many days").await;
    let name = app.press(ALICE, &ask, "30 days").await;
    assert!(name.text.contains("send the username"), "{}", name.text);
    let bad = app.say(ALICE, "no spaces allowed").await;
    assert!(bad.text.contains("is not a valid username"), "{}", bad.text);
    let card = app
        .say_expecting(ALICE, "guided.one", "Create subscriber")
        .await;
    assert!(
        card.text.contains("<b>guided.one</b> for <b>30</b> days"),
        "{}",
        card.text
    );
    assert!(
        app.press(ALICE, &card, "Confirm")
            .await
            .text
            .contains("created")
    );

    app.say_expecting(ALICE, "/new", "For how many days").await;
    let bad_days = app.say(ALICE, "0").await;
    assert!(
        bad_days.text.contains("at least 1; you gave 0"),
        "{}",
        bad_days.text
    );
    let cancelled = app.say(ALICE, "/cancel").await;
    assert!(cancelled.text.contains("Cancelled"), "{}", cancelled.text);
    let plain = app.say(ALICE, "hello").await;
    assert!(plain.text.contains("/help"), "{}", plain.text);
    assert_eq!(app.balance(ALICE).await, 70);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_carry_the_panel_name_and_notes_stay_with_the_subscriber() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 30).await;
    let named = app.say(ADMIN, "/panelname alice Star TV").await;
    assert!(
        named
            .text
            .contains("Panel name of <b>alice</b> is now “Star TV”"),
        "{}",
        named.text
    );
    let card = app.say_expecting(ALICE, "/new 30 john.doe", "Create").await;
    let created = app.press(ALICE, &card, "Confirm").await;
    assert!(created.text.contains("<b>Star TV</b>"), "{}", created.text);

    let refused = app.say(ALICE, "/brand Alice IPTV").await;
    assert!(
        refused.text.contains("not allowed to customize branding"),
        "{}",
        refused.text
    );
    app.say_expecting(ADMIN, "/perm alice can_customize_branding on", "is on")
        .await;
    app.say_expecting(ALICE, "/brand Alice IPTV", "is now “Alice IPTV”")
        .await;
    let shown = app.say_expecting(ALICE, "/show john.doe", "Password").await;
    assert!(shown.text.contains("<b>Alice IPTV</b>"), "{}", shown.text);

    let long = app
        .say(ALICE, &format!("/note john.doe {}", "x".repeat(501)))
        .await;
    assert!(
        long.text.contains("1 to 500 characters; yours has 501"),
        "{}",
        long.text
    );
    app.say_expecting(
        ALICE,
        "/note john.doe paid cash <monthly>",
        "Notes of <b>john.doe</b> saved",
    )
    .await;
    let card = app.say_expecting(ALICE, "/user john.doe", "john.doe").await;
    assert!(
        card.text.contains("Notes: paid cash &lt;monthly&gt;"),
        "{}",
        card.text
    );
}
