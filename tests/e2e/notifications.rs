//! Notifications and broadcasts through the real bot: the low-credit alert once per crossing,
//! switching a kind off in /settings, the expiry digest with its extend buttons, and
//! broadcasts paced under Telegram's limits through 429s and a restart.

use crate::support::{ADMIN, TestApp};
use crate::telegram::Sent;
use reseller_core::Actor;
use reseller_core::domain::{TelegramId, Username};
use std::time::Duration;

const ALICE: i64 = 2_001;

/// How many messages to `chat` contain `needle`.
fn count(app: &TestApp, chat: i64, needle: &str) -> usize {
    app.tg
        .sent()
        .iter()
        .filter(|s| s.chat_id == chat && !s.edited && s.text.contains(needle))
        .count()
}

/// Waits until `chat` has `n` messages containing `needle`, then a little longer to catch a
/// message too many.
async fn settle(app: &TestApp, chat: i64, needle: &str, n: usize) {
    for _ in 0..500 {
        if count(app, chat, needle) >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        count(app, chat, needle),
        n,
        "messages to {chat} with {needle:?}"
    );
}

/// Alice creates subscriber `name` for `days`, confirming the card.
async fn create(app: &TestApp, name: &str, days: i64) {
    let card = app
        .say_expecting(ALICE, &format!("/new {days} {name}"), "Create")
        .await;
    let done = app.press(ALICE, &card, "Confirm").await;
    assert!(done.text.contains("created"), "{}", done.text);
}

#[tokio::test]
async fn a_low_credit_alert_is_sent_once_per_crossing() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 40).await;
    settle(&app, ALICE, "An admin granted you 40 credits", 1).await;

    create(&app, "sub1", 10).await; // 30: at the threshold, not below
    create(&app, "sub2", 5).await; // 25: below
    create(&app, "sub3", 1).await; // 24: still below
    settle(
        &app,
        ALICE,
        "Low credits: your balance is 25, below your alert level of 30",
        1,
    )
    .await;
    assert_eq!(count(&app, ALICE, "Low credits:"), 1);

    app.grant("alice", 20).await; // 44: back above
    create(&app, "sub4", 20).await; // 24: a second crossing
    settle(&app, ALICE, "Low credits:", 2).await;

    // Switched off in /settings, a third crossing says nothing; the level is settable.
    let settings = app.say_expecting(ALICE, "/settings", "Notifications").await;
    assert!(
        settings.text.contains("below <b>30</b>"),
        "{}",
        settings.text
    );
    let off = app.press(ALICE, &settings, "Turn off: Low credits").await;
    assert!(
        off.edited && off.text.contains("🔕 Low credits"),
        "{}",
        off.text
    );
    let level = app
        .say_expecting(ALICE, "/settings lowcredit 10", "Notifications")
        .await;
    assert!(level.text.contains("below <b>10</b>"), "{}", level.text);
    app.grant("alice", 20).await; // 44
    create(&app, "sub5", 40).await; // 4
    settle(&app, ALICE, "An admin granted you 20 credits", 2).await;
    assert_eq!(count(&app, ALICE, "Low credits:"), 2);
    let refused = app.say(ALICE, "/settings lowcredit -1").await;
    assert!(refused.text.contains("you gave -1"), "{}", refused.text);
    app.assert_ledger_sound().await;
}

#[tokio::test]
async fn the_expiry_digest_lists_exactly_the_subscribers_due_and_its_button_extends() {
    // The scheduler's own hour is kept away from now (see `test_settings`), so only /digest now
    // sends today's.
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 100).await;
    create(&app, "soon1", 1).await;
    create(&app, "soon3", 3).await;
    create(&app, "later", 10).await;
    create(&app, "gone", 1).await;
    app.core
        .set_expiry_for_tests("gone", chrono::Utc::now() - chrono::Duration::hours(1))
        .await;

    let queued = app.say_expecting(ADMIN, "/digest now", "Queued").await;
    assert!(queued.text.contains("Queued 1 digests"), "{}", queued.text);
    let digest = app.tg.wait_for(ALICE, 0, "expiring within 3 days").await;
    assert!(digest.text.contains("2 subscribers"), "{}", digest.text);
    assert!(
        digest.text.contains("soon1") && digest.text.contains("soon3"),
        "{}",
        digest.text
    );
    assert!(
        !digest.text.contains("later") && !digest.text.contains("gone"),
        "{}",
        digest.text
    );
    let labels: Vec<&str> = digest.buttons.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, ["Extend soon1 +30d", "Extend soon3 +30d"]);

    // The button opens the usual confirmation; confirming extends by 30 days.
    let expiry = "SELECT expires_at FROM subscribers WHERE username = 'soon1'";
    let before = app.core.scalar_for_tests(expiry).await;
    let card = app.press(ALICE, &digest, "Extend soon1").await;
    assert!(card.text.contains("soon1"), "{}", card.text);
    let done = app.press(ALICE, &card, "Confirm").await;
    assert!(done.text.contains("soon1"), "{}", done.text);
    let after = app.core.scalar_for_tests(expiry).await;
    assert_eq!(after - before, 30 * 86_400);

    // A forged button for someone else's subscriber changes nothing.
    app.reseller("bob", 2_002).await;
    let before = app.tg.sent().len();
    app.tg.press(2_002, digest.message_id, "a:e30:soon3");
    let refused = app.tg.wait_for(2_002, before, "").await;
    assert!(
        refused.text.starts_with("⚠️") && refused.buttons.is_empty(),
        "{}",
        refused.text
    );

    // Never twice for one day, restart or not.
    let app = app.restart().await;
    let again = app.say_expecting(ADMIN, "/digest now", "Queued").await;
    assert!(again.text.contains("Queued 0 digests"), "{}", again.text);
    settle(&app, ALICE, "expiring within", 1).await;
}

/// `n` resellers `res0`.., linked to Telegram ids from `first`, straight through core (quicker
/// than 2·n bot round trips); `started` of them have opened the bot.
async fn resellers(app: &TestApp, n: i64, first: i64, started: i64) -> Vec<i64> {
    let admin = Actor::Admin(TelegramId(ADMIN));
    let mut ids = Vec::new();
    for i in 0..n {
        let r = app
            .core
            .create_reseller(&admin, &Username::parse(&format!("res{i}")).unwrap(), None)
            .await
            .expect("created");
        let telegram_id = first + i;
        app.core
            .redeem_invite(TelegramId(telegram_id), &r.invite.code)
            .await
            .expect("linked");
        if i < started {
            app.tg.start_chat(telegram_id);
        }
        ids.push(telegram_id);
    }
    ids
}

/// The admin broadcasts `text` to everyone and presses Send; returns the preview and the
/// progress message.
async fn broadcast(app: &TestApp, text: &str, recipients: usize) -> (Sent, Sent) {
    let preview = app
        .say_expecting(ADMIN, &format!("/broadcast all {text}"), "This goes to")
        .await;
    assert!(
        preview
            .text
            .contains(&format!("<b>{recipients}</b> resellers")),
        "{}",
        preview.text
    );
    let before = app.tg.sent().len();
    app.tg
        .press(ADMIN, preview.message_id, &preview.button("Send"));
    let progress = app.tg.wait_for(ADMIN, before, "📣 Broadcast").await;
    (preview, progress)
}

/// Waits for the progress message to be edited into the final tally.
async fn tally(app: &TestApp, progress: &Sent) -> String {
    for _ in 0..3000 {
        if let Some(done) = app
            .tg
            .sent()
            .iter()
            .rev()
            .find(|s| s.message_id == progress.message_id && s.text.contains("finished"))
        {
            return done.text.clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the broadcast never finished");
}

/// Each of `ids` got `text` exactly once.
fn each_once(app: &TestApp, ids: &[i64], text: &str) {
    for id in ids {
        assert_eq!(count(app, *id, text), 1, "reseller {id}");
    }
}

/// No one-second window holds more than 25 of the sendMessage calls to `chats`.
fn within_pace(app: &TestApp, chats: &[i64]) {
    let times: Vec<_> = app
        .tg
        .send_times()
        .into_iter()
        .filter(|(chat, _)| chats.contains(chat))
        .map(|(_, at)| at)
        .collect();
    for pair in times.windows(26) {
        let span = pair[25] - pair[0];
        assert!(span > Duration::from_secs(1), "26 messages within {span:?}");
    }
}

#[tokio::test]
async fn a_broadcast_to_200_resellers_through_429s_reaches_each_once_at_the_pace() {
    let app = TestApp::spawn().await;
    let ids = resellers(&app, 200, 10_000, 195).await;
    app.tg.throttle_every("sendMessage", 40);
    let (preview, progress) = broadcast(&app, "Maintenance tonight\nat 02:00 UTC.", 200).await;
    let done = tally(&app, &progress).await;
    assert!(
        done.contains("195 sent, 5 blocked, 0 failed (of 200)"),
        "{done}"
    );
    each_once(&app, &ids[..195], "Maintenance tonight\nat 02:00 UTC.");
    within_pace(&app, &ids);
    // A second press on Send changes nothing.
    let before = app.tg.sent().len();
    app.tg
        .press(ADMIN, preview.message_id, &preview.button("Send"));
    let again = app
        .tg
        .wait_for_edit(ADMIN, preview.message_id, before)
        .await;
    assert!(again.text.contains("already sent"), "{}", again.text);
    tokio::time::sleep(Duration::from_millis(500)).await;
    each_once(&app, &ids[..195], "Maintenance tonight");
}

#[tokio::test]
async fn a_restart_mid_broadcast_resumes_without_repeats() {
    let app = TestApp::spawn().await;
    let ids = resellers(&app, 80, 20_000, 80).await;
    let (_, progress) = broadcast(&app, "Price change next week", 80).await;
    // Stop once some, not all, have it.
    for _ in 0..1000 {
        if ids
            .iter()
            .filter(|id| count(&app, **id, "Price change") > 0)
            .count()
            >= 20
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let app = app.restart().await;
    let reached = ids
        .iter()
        .filter(|id| count(&app, **id, "Price change") > 0)
        .count();
    assert!(
        reached < 80,
        "the restart came too late to test anything: {reached}"
    );
    let done = tally(&app, &progress).await;
    assert!(done.contains("80 sent, 0 blocked, 0 failed"), "{done}");
    each_once(&app, &ids, "Price change next week");
    within_pace(&app, &ids);
}
