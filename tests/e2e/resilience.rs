//! Telegram rate limits, restarts and redelivered updates.

use crate::support::TestApp;

const ALICE: i64 = 2_001;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_survive_telegram_answering_429() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    let calls_before = app.tg.calls("sendMessage");
    app.tg.fail_next("sendMessage", 2);
    let reply = app.say(ALICE, "/balance").await;
    assert!(reply.text.contains("Balance"), "{}", reply.text);
    assert_eq!(
        app.tg.calls("sendMessage") - calls_before,
        3,
        "two refused attempts, then the delivered one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_a_conversation_continues_it() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 100).await;
    app.say_expecting(ALICE, "/new", "For how many days").await;
    app.say_expecting(ALICE, "45", "send the username").await;

    let app = app.restart().await;
    let card = app
        .say_expecting(ALICE, "after.restart", "Create subscriber")
        .await;
    assert!(
        card.text
            .contains("<b>after.restart</b> for <b>45</b> days"),
        "{}",
        card.text
    );

    // A confirmation card from before a restart still works, once.
    let app = app.restart().await;
    let done = app.press(ALICE, &card, "Confirm").await;
    assert!(done.text.contains("created"), "{}", done.text);
    assert_eq!(app.balance(ALICE).await, 55);
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_command_is_carried_out_once() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 100).await;
    let card = app
        .say_expecting(ALICE, "/new 10 redeliver", "Create")
        .await;
    app.press(ALICE, &card, "Confirm").await;
    // The same Telegram message delivered twice (as after a crash before the offset was
    // confirmed) disables once; the second delivery reports the first result.
    let before = app.tg.sent().len();
    let update = app.tg.send_text(ALICE, "/disable redeliver");
    app.tg.wait_for(ALICE, before, "is now disabled").await;
    let before = app.tg.sent().len();
    app.tg.redeliver(update);
    let second = app.tg.wait_for(ALICE, before, "").await;
    assert!(second.text.contains("is now disabled"), "{}", second.text);
    let card = app
        .say_expecting(ALICE, "/user redeliver", "redeliver")
        .await;
    assert!(card.text.contains("disabled"), "{}", card.text);
}
