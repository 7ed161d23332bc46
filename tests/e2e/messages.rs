//! What the bot sends always arrives: notifications to a chat Telegram refuses do not hold up
//! the others, passing failures are retried, and every message is valid Telegram HTML within
//! Telegram's 4,096 characters, whatever users typed.

use crate::support::{ADMIN, TestApp};
use reseller_core::domain::{
    DISPLAY_NAME_MAX, Days, LEDGER_NOTE_MAX, OperationId, TelegramId, Username,
};
use reseller_core::payments::PaymentEvent;

const ALICE: i64 = 2_001;
/// An admin listed in the settings who never opened the bot.
const SILENT_ADMIN: i64 = 1_001;

/// Alice pays for a package (through core, as a verified webhook would): core queues a
/// "Payment received" notification for her and one for each admin.
async fn pay(app: &TestApp, event: &str) {
    let alice = app
        .core
        .identify(TelegramId(ALICE))
        .await
        .unwrap()
        .expect("alice is linked");
    let package = app.core.packages(false).await.unwrap()[0].id;
    let order = app
        .core
        .create_order(&alice, package, "stripe")
        .await
        .expect("order created");
    app.core
        .receive_payment(
            "stripe",
            event,
            "{}",
            "{}",
            PaymentEvent::Paid {
                order: order.public_id.clone(),
                amount_minor: order.amount_minor,
                currency: order.currency.clone(),
                reference: None,
            },
        )
        .await
        .expect("payment applied");
}

/// Waits until `chat` has received `n` messages that contain `needle`.
async fn received(app: &TestApp, chat: i64, needle: &str, n: usize) {
    let count = || {
        app.tg
            .sent()
            .iter()
            .filter(|s| s.chat_id == chat && s.text.contains(needle))
            .count()
    };
    for _ in 0..500 {
        if count() >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(count(), n, "messages to {chat} containing {needle:?}");
}

/// Waits until `n` notifications are recorded as refused for good.
async fn failed(app: &TestApp, n: usize) -> Vec<(i64, String, String)> {
    for _ in 0..500 {
        let failed = app.core.failed_notifications().await.unwrap();
        if failed.len() >= n {
            return failed;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("fewer than {n} notifications were recorded as failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_that_never_started_the_bot_does_not_hold_up_the_notifications_behind_it() {
    let app = TestApp::spawn_with(|s| s.admin_telegram_ids = vec![ADMIN, SILENT_ADMIN]).await;
    app.tg.never_started(SILENT_ADMIN);
    app.reseller("alice", ALICE).await;

    // Each payment queues Alice's, then both admins' notifications: the second payment's come
    // after the first refusal, and arrive anyway.
    pay(&app, "evt_1").await;
    pay(&app, "evt_2").await;
    received(&app, ALICE, "Payment received", 2).await;
    received(&app, ADMIN, "bought", 2).await;

    let failed = failed(&app, 2).await;
    assert_eq!(failed.len(), 2, "{failed:?}");
    for (chat, text, reason) in &failed {
        assert_eq!(*chat, SILENT_ADMIN);
        assert!(text.contains("alice bought"), "{text}");
        assert!(
            reason.contains("Forbidden: bot can't initiate conversation with a user"),
            "{reason}"
        );
    }
    // Refused once each, never tried again.
    let refusals = app
        .tg
        .refused()
        .iter()
        .filter(|(_, chat, _)| *chat == SILENT_ADMIN)
        .count();
    assert_eq!(refusals, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_are_retried_through_server_errors_and_rate_limits() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;

    let calls = app.tg.calls("sendMessage");
    app.tg.break_next("sendMessage", 1);
    pay(&app, "evt_1").await;
    // teloxide waits 10 s after any 5xx before it reports it, then the sender pauses 2 s: more
    // than the fake's usual patience on a busy machine.
    let mut told = None;
    for _ in 0..3_000 {
        told = app
            .tg
            .sent()
            .into_iter()
            .find(|m| m.chat_id == ALICE && m.text.contains("Payment received"));
        if told.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let told = told.expect("the notification arrived after the 500, within 60 s");
    assert!(told.text.contains("+"), "{}", told.text);
    assert!(
        app.tg.calls("sendMessage") > calls + 1,
        "the 500 was retried"
    );

    let before = app.tg.sent().len();
    app.tg.fail_next("sendMessage", 2);
    pay(&app, "evt_2").await;
    app.tg.wait_for(ALICE, before, "Payment received").await;
    assert!(app.core.failed_notifications().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_display_name_with_markup_shows_as_typed_everywhere() {
    let app = TestApp::spawn().await;
    let shown = "&lt;b&gt;A &amp; B";

    let too_long = "x".repeat(DISPLAY_NAME_MAX + 1);
    let refused = app
        .say(ADMIN, &format!("/newreseller bob {too_long}"))
        .await;
    assert!(
        refused.text.contains(&format!(
            "A display name must be 1 to {DISPLAY_NAME_MAX} characters; yours has {}.",
            DISPLAY_NAME_MAX + 1
        )),
        "{}",
        refused.text
    );
    let bob = Username::parse("bob").unwrap();
    let admin = app.core.identify(TelegramId(ADMIN)).await.unwrap().unwrap();
    assert!(
        app.core.reseller(&admin, &bob).await.is_err(),
        "nothing created"
    );

    let created = app
        .say_expecting(ADMIN, "/newreseller alice <b>A & B", "start=")
        .await;
    let code = crate::support::invite_code(&created.text);
    let welcome = app.say(ALICE, &format!("/start {code}")).await;
    assert!(
        welcome.text.contains(&format!("Welcome, <b>{shown}</b>!")),
        "{}",
        welcome.text
    );

    let detail = app.say_expecting(ADMIN, "/reseller alice", "Status").await;
    assert!(
        detail.text.contains(&format!("({shown})")),
        "{}",
        detail.text
    );
    assert!(
        detail.text.contains(&format!("Panel name: {shown}")),
        "{}",
        detail.text
    );
    app.say_expecting(ADMIN, "/resellers", "alice").await;

    app.grant("alice", 30).await;
    let card = app
        .say_expecting(ALICE, "/new 30 viewer1", "Create subscriber")
        .await;
    let done = app.press(ALICE, &card, "Confirm").await;
    assert!(
        done.text.contains(&format!("<b>{shown}</b>")),
        "{}",
        done.text
    );
    let show = app.say_expecting(ALICE, "/show viewer1", "Password").await;
    assert!(
        show.text.contains(&format!("<b>{shown}</b>")),
        "{}",
        show.text
    );

    assert_eq!(app.tg.refused(), vec![], "Telegram refused nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_page_of_maximal_notes_is_one_message_within_the_limit() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    let admin = app.core.identify(TelegramId(ADMIN)).await.unwrap().unwrap();
    let alice = Username::parse("alice").unwrap();
    // Emoji are two UTF-16 units each, as Telegram counts, and `<&` grow when escaped.
    let note = format!("{}<&", "🎉".repeat(LEDGER_NOTE_MAX - 2));
    for _ in 0..10 {
        app.core
            .grant(
                &admin,
                &OperationId::random(),
                &alice,
                Days::parse("1000").unwrap(),
                Some(&note),
            )
            .await
            .expect("granted");
    }

    let before = app.tg.sent().len();
    let page = app
        .say_expecting(ADMIN, "/history alice", "Credit history")
        .await;
    let escaped = format!("{}&lt;&amp;", "🎉".repeat(LEDGER_NOTE_MAX - 2));
    assert_eq!(page.text.matches(&escaped).count(), 10, "{}", page.text);
    let visible = crate::telegram_html::parse(&page.text).expect("valid HTML");
    assert!(visible.encode_utf16().count() <= 4096);
    assert_eq!(
        app.tg.sent().len(),
        before + 1,
        "the page is one message, not split"
    );
    assert_eq!(app.tg.refused(), vec![]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_over_the_cap_is_refused_with_the_numbers_and_changes_nothing() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 10).await;
    let long = "n".repeat(LEDGER_NOTE_MAX + 1);

    for (command, what) in [
        (format!("/grant alice 5 {long}"), "A note"),
        (format!("/deduct alice 5 {long}"), "A reason"),
    ] {
        let refused = app.say(ADMIN, &command).await;
        assert!(
            refused.text.contains(&format!(
                "{what} must be 1 to {LEDGER_NOTE_MAX} characters; yours has {}.",
                LEDGER_NOTE_MAX + 1
            )),
            "{}",
            refused.text
        );
        assert!(refused.buttons.is_empty(), "no card to confirm");
    }

    let card = app
        .say_expecting(ALICE, "/new 5 viewer1", "Create subscriber")
        .await;
    app.press(ALICE, &card, "Confirm").await;
    let refused = app
        .say(ALICE, &format!("/note viewer1 {}", "n".repeat(501)))
        .await;
    assert!(
        refused
            .text
            .contains("A note must be 1 to 500 characters; yours has 501."),
        "{}",
        refused.text
    );
    let show = app.say_expecting(ALICE, "/user viewer1", "Expires").await;
    assert!(!show.text.contains("Notes:"), "{}", show.text);
    assert_eq!(
        app.balance(ALICE).await,
        5,
        "only the subscriber was paid for"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_too_long_for_one_message_arrives_in_several() {
    let app = TestApp::spawn().await;
    // 30 categories (all that /channels lists) with names of 300 characters: about 9,000.
    let playlist: String = (0..30)
        .map(|i| {
            let group = format!("{i:02} {}", "<&".repeat(149));
            format!("#EXTINF:-1 group-title=\"{group}\",Channel {i}\nhttp://s.test/{i}.ts\n")
        })
        .collect();
    let playlist = format!("#EXTM3U\n{playlist}");
    let before = app.tg.sent().len();
    app.tg
        .send_document(ADMIN, "big.m3u", &playlist, "/channels import");
    app.tg.wait_for(ADMIN, before, "Imported").await;

    let before = app.tg.sent().len();
    app.tg.send_text(ADMIN, "/channels");
    app.tg.wait_for(ADMIN, before, "Import or refresh").await;
    let parts: Vec<_> = app.tg.sent().into_iter().skip(before).collect();
    assert!(parts.len() >= 3, "{} parts", parts.len());
    for part in &parts {
        let visible = crate::telegram_html::parse(&part.text).expect("valid HTML");
        assert!(visible.encode_utf16().count() <= 4096);
    }
    let all: String = parts.iter().map(|p| p.text.as_str()).collect();
    for i in 0..30 {
        assert!(all.contains(&format!("• {i:02} &lt;&amp;")), "category {i}");
    }
    assert_eq!(app.tg.refused(), vec![]);
}
