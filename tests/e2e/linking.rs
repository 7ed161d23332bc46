//! Strangers, invites and linking.

use crate::support::{ADMIN, TestApp, invite_code};

const ALICE: i64 = 2_001;
const MALLORY: i64 = 6_666;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_gets_a_polite_refusal_and_nothing_else() {
    let app = TestApp::spawn().await;
    let before = app.tg.sent().len();
    let reply = app.say(MALLORY, "/start").await;
    assert!(reply.text.contains("not linked"), "{}", reply.text);
    assert!(reply.buttons.is_empty());
    let reply = app.say(MALLORY, "/grant alice 100").await;
    assert!(reply.text.contains("not linked"), "{}", reply.text);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        app.tg.sent().len(),
        before + 2,
        "exactly one reply per message"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_links_once_and_wrong_or_expired_codes_are_refused() {
    let app = TestApp::spawn().await;
    let created = app
        .say_expecting(ADMIN, "/newreseller alice Alice's Shop", "start=")
        .await;
    let link = format!(
        "https://t.me/{}?start=",
        crate::telegram::FakeTelegram::BOT_USERNAME
    );
    assert!(created.text.contains(&link), "{}", created.text);
    let code = invite_code(&created.text);

    let wrong = app.say(ALICE, "/start AAAAAAAAAAAAAAAAAAAAAAAA").await;
    assert!(
        wrong.text.contains("invalid, already used or expired"),
        "{}",
        wrong.text
    );

    let welcome = app.say(ALICE, &format!("/start {code}")).await;
    assert!(
        welcome.text.contains("Welcome, <b>Alice&#39;s Shop</b>")
            || welcome.text.contains("Welcome, <b>Alice's Shop</b>"),
        "{}",
        welcome.text
    );
    assert_eq!(app.balance(ALICE).await, 0);

    let reused = app.say(MALLORY, &format!("/start {code}")).await;
    assert!(
        reused.text.contains("invalid, already used or expired"),
        "{}",
        reused.text
    );
    let stranger = app.say(MALLORY, "/balance").await;
    assert!(stranger.text.contains("not linked"), "{}", stranger.text);

    let fresh = app.say_expecting(ADMIN, "/invite alice", "start=").await;
    let fresh_code = invite_code(&fresh.text);
    app.core.expire_invites_for_tests().await;
    let expired = app.say(MALLORY, &format!("/start {fresh_code}")).await;
    assert!(
        expired.text.contains("invalid, already used or expired"),
        "{}",
        expired.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_cannot_become_a_reseller() {
    let app = TestApp::spawn().await;
    let created = app
        .say_expecting(ADMIN, "/newreseller alice", "start=")
        .await;
    let code = invite_code(&created.text);
    // Admins see their menu for /start; the code stays unused.
    let menu = app.say(ADMIN, &format!("/start {code}")).await;
    assert!(menu.text.contains("Admin menu"), "{}", menu.text);
    app.say(ALICE, &format!("/start {code}")).await;
    assert_eq!(app.balance(ALICE).await, 0);
}
