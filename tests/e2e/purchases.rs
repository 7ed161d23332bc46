//! Buying credits in the chat: packages, Telegram Stars and manual receipts.

use crate::support::{ADMIN, TestApp};
use reseller_core::payments::{PaymentEvent, Received};

const ALICE: i64 = 2_001;
const SECOND_ADMIN: i64 = 1_001;

async fn shop() -> TestApp {
    let app = TestApp::spawn_with(|s| {
        s.stars_enabled = true;
        s.admin_telegram_ids = vec![ADMIN, SECOND_ADMIN];
    })
    .await;
    app.reseller("alice", ALICE).await;
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_manage_packages_and_resellers_see_only_active_ones() {
    let app = shop().await;
    let list = app
        .say_expecting(ADMIN, "/packages", "Credit packages")
        .await;
    for seeded in [
        "<b>Starter</b>: 900 credits for 50.00 USD",
        "<b>Business</b>: 3,600 credits for 180.00 USD",
        "<b>Enterprise</b>: 10,800 credits for 500.00 USD",
    ] {
        assert!(list.text.contains(seeded), "{}", list.text);
    }
    let saved = app.say(ADMIN, "/package add Trial 30 2.50 usd 100").await;
    assert!(
        saved
            .text
            .contains("Package <b>Trial</b> saved: 30 credits for 2.50 USD"),
        "{}",
        saved.text
    );
    let bad = app.say(ADMIN, "/package add Broken 0 1.00 USD").await;
    assert!(
        bad.text.contains("from 1 to 1000000; you gave “0”"),
        "{}",
        bad.text
    );
    let bad = app.say(ADMIN, "/package add Broken 10 1.005 USD").await;
    assert!(bad.text.contains("“1.005” is not a price"), "{}", bad.text);
    app.say_expecting(ADMIN, "/package disable Enterprise", "disabled")
        .await;
    let refused = app.say(ALICE, "/package add Mine 1 0.01 USD").await;
    assert!(refused.text.contains("Only admins"), "{}", refused.text);

    let shop = app.say_expecting(ALICE, "/buy", "Pick one").await;
    let labels: Vec<&str> = shop.buttons.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        labels,
        [
            "Starter — 50.00 USD",
            "Business — 180.00 USD",
            "Trial — 2.50 USD"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stars_are_checked_before_charging_and_credited_once() {
    let app = shop().await;
    app.say_expecting(ADMIN, "/package edit Business 3600 180.00 USD 250", "saved")
        .await;
    let shop = app.say_expecting(ALICE, "/buy", "Pick one").await;
    let methods = app.press(ALICE, &shop, "Business").await;
    let invoice = app.press(ALICE, &methods, "Telegram Stars (250)").await;
    let mut parts = invoice.text.split_whitespace();
    assert_eq!(parts.next(), Some("invoice"));
    let order = parts.next().expect("payload").to_string();
    assert_eq!(
        (parts.next(), parts.next()),
        (Some("XTR"), Some("250")),
        "{}",
        invoice.text
    );

    // A wrong amount is refused before any Stars move; the right one is accepted.
    let wrong = app.tg.pre_checkout(ALICE, &order, 1);
    let right = app.tg.pre_checkout(ALICE, &order, 250);
    let answers = wait_answers(&app, 2).await;
    assert!(
        answers.contains(&(
            wrong,
            false,
            Some("This order can no longer be paid. Please start again with /buy.".into())
        )),
        "{answers:?}"
    );
    assert!(answers.contains(&(right, true, None)), "{answers:?}");

    let before = app.tg.sent().len();
    for _ in 0..3 {
        app.tg.stars_paid(ALICE, &order, 250, "charge-1");
    }
    let told = app.tg.wait_for(ALICE, before, "Payment received").await;
    assert_eq!(
        told.text,
        "Payment received: +3,600 credits, balance 3,600."
    );
    assert_eq!(app.balance(ALICE).await, 3600);

    // Paid orders are no longer payable; an admin refund takes the Stars and the credits back.
    let again = app.tg.pre_checkout(ALICE, &order, 250);
    let answers = wait_answers(&app, 3).await;
    assert!(
        answers.iter().any(|(id, ok, _)| *id == again && !ok),
        "{answers:?}"
    );
    let refunded = app
        .say_expecting(ADMIN, &format!("/refund {order}"), "refunded")
        .await;
    assert!(
        refunded.text.contains("-3,600 credits, their balance is 0"),
        "{}",
        refunded.text
    );
    assert_eq!(app.tg.calls("refundStarPayment"), 1);
    let twice = app.say(ADMIN, &format!("/refund {order}")).await;
    assert!(
        twice.text.contains("already refunded") || twice.text.contains("refused"),
        "{}",
        twice.text
    );
    assert_eq!(app.balance(ALICE).await, 0);
    app.assert_ledger_sound().await;
}

/// Alice buys Business for 250 Stars, paid with Telegram charge `charge`; returns the order.
async fn paid_in_stars(app: &TestApp, charge: &str) -> String {
    app.say_expecting(ADMIN, "/package edit Business 3600 180.00 USD 250", "saved")
        .await;
    let shop = app.say_expecting(ALICE, "/buy", "Pick one").await;
    let methods = app.press(ALICE, &shop, "Business").await;
    let invoice = app.press(ALICE, &methods, "Telegram Stars (250)").await;
    let order = invoice
        .text
        .split_whitespace()
        .nth(1)
        .expect("payload")
        .to_string();
    let before = app.tg.sent().len();
    app.tg.stars_paid(ALICE, &order, 250, charge);
    app.tg.wait_for(ALICE, before, "Payment received").await;
    order
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stars_refund_telegram_already_made_is_recorded_as_done() {
    let app = shop().await;
    let order = paid_in_stars(&app, "charge-again").await;
    assert_eq!(app.balance(ALICE).await, 3600);
    // Our first try was refunded by Telegram but its answer never reached us.
    app.tg
        .refuse_refunds("Bad Request: CHARGE_ALREADY_REFUNDED");
    let refunded = app
        .say_expecting(ADMIN, &format!("/refund {order}"), "refunded")
        .await;
    assert_eq!(
        refunded.text,
        format!("↩️ Order {order} refunded: -3,600 credits, their balance is 0.")
    );
    assert_eq!(app.balance(ALICE).await, 0);
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stars_refund_telegram_refuses_changes_nothing_even_after_a_restart() {
    // Long enough for Telegram's answer to come back before the worker looks at the intent.
    let app = TestApp::spawn_with(|s| {
        s.stars_enabled = true;
        s.payment_replay_after_secs = 2;
    })
    .await;
    app.reseller("alice", ALICE).await;
    let order = paid_in_stars(&app, "charge-refused").await;
    app.tg.refuse_refunds("Bad Request: CHARGE_NOT_FOUND");
    let refused = app
        .say_expecting(ADMIN, &format!("/refund {order}"), "refused")
        .await;
    assert!(
        refused.text.contains("CHARGE_NOT_FOUND") && refused.text.contains("Nothing changed"),
        "{}",
        refused.text
    );
    // The withdrawn intent is not applied later by the replay worker.
    let app = app.restart().await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(app.balance(ALICE).await, 3600);
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_stored_but_never_applied_is_credited_once_by_the_worker() {
    let app = TestApp::spawn_with(|s| {
        s.stars_enabled = true;
        s.payment_replay_after_secs = 0;
    })
    .await;
    app.reseller("alice", ALICE).await;
    app.say_expecting(ADMIN, "/package edit Business 3600 180.00 USD 250", "saved")
        .await;
    let shop = app.say_expecting(ALICE, "/buy", "Pick one").await;
    let methods = app.press(ALICE, &shop, "Business").await;
    let invoice = app.press(ALICE, &methods, "Telegram Stars (250)").await;
    let order = invoice.text.split_whitespace().nth(1).unwrap().to_string();
    // Telegram took the Stars; we stored the payment and died before applying it.
    let paid = PaymentEvent::Paid {
        order: order.clone(),
        amount_minor: 250,
        currency: "XTR".into(),
        reference: Some("charge-lost".into()),
    };
    let before = app.tg.sent().len();
    app.core
        .store_payment("stars", "charge-lost", "{}", "{}", &paid)
        .await
        .unwrap();
    let told = app.tg.wait_for(ALICE, before, "Payment received").await;
    assert_eq!(
        told.text,
        "Payment received: +3,600 credits, balance 3,600."
    );
    // Delivered again, and replayed again: still once.
    assert_eq!(
        app.core
            .receive_payment("stars", "charge-lost", "{}", "{}", paid)
            .await
            .unwrap(),
        Received::Duplicate
    );
    let app = app.restart().await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.balance(ALICE).await, 3600);
    app.assert_ledger_sound().await;
}

async fn wait_answers(app: &TestApp, n: usize) -> Vec<(String, bool, Option<String>)> {
    for _ in 0..500 {
        let answers = app.tg.pre_checkout_answers();
        if answers.len() >= n {
            return answers;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!(
        "pre-checkout queries were not answered: {:?}",
        app.tg.pre_checkout_answers()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_manual_receipt_approved_by_two_admins_at_once_credits_once() {
    let app = shop().await;
    let shop = app.say_expecting(ALICE, "/buy", "Pick one").await;
    let methods = app.press(ALICE, &shop, "Starter").await;
    let order = app.press(ALICE, &methods, "manual").await;
    assert!(
        order.text.contains("pay <b>50.00 USD</b>") && order.text.contains("send a photo"),
        "{}",
        order.text
    );

    let before = app.tg.sent().len();
    app.tg.send_photo(ALICE, "receipt-file-1");
    app.tg.wait_for(ALICE, before, "Receipt sent").await;
    let first = app.tg.wait_for(ADMIN, before, "Receipt from alice").await;
    let second = app
        .tg
        .wait_for(SECOND_ADMIN, before, "Receipt from alice")
        .await;
    assert!(
        first.text.contains("Starter (900 credits), 50.00 USD"),
        "{}",
        first.text
    );

    let before = app.tg.sent().len();
    app.tg
        .press(ADMIN, first.message_id, &first.button("Approve"));
    app.tg
        .press(SECOND_ADMIN, second.message_id, &second.button("Approve"));
    let a = app.tg.wait_for(ADMIN, before, "Order").await;
    let b = app.tg.wait_for(SECOND_ADMIN, before, "Order").await;
    let approvals = [&a.text, &b.text]
        .iter()
        .filter(|t| t.contains("approved: +900 credits"))
        .count();
    let handled = [&a.text, &b.text]
        .iter()
        .filter(|t| t.contains("already handled"))
        .count();
    assert_eq!((approvals, handled), (1, 1), "{} / {}", a.text, b.text);
    app.tg
        .wait_for(
            ALICE,
            before,
            "Payment received: +900 credits, balance 900.",
        )
        .await;
    assert_eq!(app.balance(ALICE).await, 900);
    app.tg
        .press(ADMIN, first.message_id, &first.button("Reject"));
    app.tg
        .wait_for(ADMIN, before, "already handled; nothing changed")
        .await;
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_receipt_credits_nothing_and_tells_the_reseller() {
    let app = shop().await;
    let shop = app.say_expecting(ALICE, "/buy", "Pick one").await;
    let methods = app.press(ALICE, &shop, "Business").await;
    app.press(ALICE, &methods, "manual").await;
    let stray = app.say(ALICE, "here is my receipt").await;
    assert!(
        stray.text.contains("send a photo of the payment receipt"),
        "{}",
        stray.text
    );
    let before = app.tg.sent().len();
    app.tg.send_photo(ALICE, "receipt-file-2");
    let receipt = app.tg.wait_for(ADMIN, before, "Receipt from alice").await;
    // A reseller cannot approve their own receipt with forged button data.
    let forged = app.tg.sent().len();
    app.tg.press(ALICE, 1, &receipt.button("Approve"));
    app.tg.wait_for(ALICE, forged, "Only admins").await;
    app.tg
        .press(ADMIN, receipt.message_id, &receipt.button("Reject"));
    app.tg
        .wait_for(ADMIN, before, "rejected; the reseller was told")
        .await;
    app.tg.wait_for(ALICE, before, "was not accepted").await;
    assert_eq!(app.balance(ALICE).await, 0);
}
