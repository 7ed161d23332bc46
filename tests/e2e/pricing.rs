//! Per-reseller pricing: an admin's `/price` (and a template's discount) changes what `/buy`
//! shows, what a checkout charges and what the webhooks accept for the order; bad input changes
//! nothing.

use crate::payments::{
    STRIPE_SECRET, checkout_paid, now, post_stripe, stripe_event, stripe_header,
};
use crate::providers::FakeProviders;
use crate::support::{ADMIN, TestApp};
use reseller_core::domain::TelegramId;
use reseller_core::payments::OrderStatus;

const ALICE: i64 = 2_001;

async fn shop(providers: &FakeProviders) -> TestApp {
    let url = providers.url.clone();
    let app = TestApp::spawn_with(|s| {
        s.stripe_webhook_secret = Some(STRIPE_SECRET.into());
        s.stripe_secret_key = Some("sk_test_e2e".into());
        s.stripe_api_url = url;
        s.stars_enabled = true;
        s.public_url = Some("https://bot.example.test/".into());
    })
    .await;
    app.reseller("alice", ALICE).await;
    app
}

/// Alice's `/buy` buttons.
async fn buttons(app: &TestApp) -> Vec<String> {
    let shop = app.say_expecting(ALICE, "/buy", "Pick one").await;
    shop.buttons.into_iter().map(|(l, _)| l).collect()
}

/// Alice checks out `package` through Stripe; returns the order id and the checkout form sent.
async fn stripe_checkout(
    app: &TestApp,
    providers: &FakeProviders,
    package: &str,
) -> (String, String) {
    let shop = app.say_expecting(ALICE, "/buy", "Pick one").await;
    let methods = app.press(ALICE, &shop, package).await;
    let page = app.press(ALICE, &methods, "💳 Card (Stripe)").await;
    let order = page
        .text
        .split("<code>")
        .nth(1)
        .and_then(|s| s.split("</code>").next())
        .expect("order id")
        .to_string();
    (order, providers.last("/v1/checkout/sessions").1)
}

async fn paid_through_stripe(app: &TestApp, event: &str, order: &str, amount: i64) -> u16 {
    let body = stripe_event(
        event,
        "checkout.session.completed",
        checkout_paid(order, amount, "usd"),
    );
    post_stripe(app, &body, stripe_header(&body, now(), &[STRIPE_SECRET])).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discount_is_what_buy_shows_the_checkout_charges_and_the_webhook_accepts_once() {
    let providers = FakeProviders::start().await;
    let app = shop(&providers).await;
    let saved = app.say_expecting(ADMIN, "/price alice 10%", "Saved").await;
    assert!(
        saved.text.contains("Pricing: 10% off every package")
            && saved.text.contains(
                "<b>Business</b>: 162.00 USD — own 10% off every package (list 180.00 USD)"
            ),
        "{}",
        saved.text
    );

    assert_eq!(
        buttons(&app).await,
        [
            "Starter — 45.00 USD",
            "Business — 162.00 USD",
            "Enterprise — 450.00 USD"
        ]
    );
    let (order, form) = stripe_checkout(&app, &providers, "Business — 162.00 USD").await;
    assert!(
        form.contains("line_items%5B0%5D%5Bprice_data%5D%5Bunit_amount%5D=16200"),
        "{form}"
    );

    // The discounted amount is the order's price: accepted, and credited once however often
    // Stripe delivers it.
    for _ in 0..3 {
        assert_eq!(
            paid_through_stripe(&app, "evt_discounted", &order, 16200).await,
            200
        );
    }
    assert_eq!(app.balance(ALICE).await, 3600);
    assert_eq!(
        app.core.order(&order).await.unwrap().status,
        OrderStatus::Paid
    );

    // One cent below the discounted price is still an underpayment: nothing is credited.
    let (short, _) = stripe_checkout(&app, &providers, "Business — 162.00 USD").await;
    let before = app.tg.sent().len();
    assert_eq!(
        paid_through_stripe(&app, "evt_short", &short, 16199).await,
        200
    );
    let alert = app.tg.wait_for(ADMIN, before, "Nothing was credited").await;
    assert!(
        alert.text.contains("was paid 161.99 USD") && alert.text.contains("costs 162.00 USD"),
        "{}",
        alert.text
    );
    assert_eq!(
        app.core.order(&short).await.unwrap().status,
        OrderStatus::Underpaid
    );
    assert_eq!(app.balance(ALICE).await, 3600);
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_price_beats_the_resellers_percent_which_beats_the_templates() {
    let providers = FakeProviders::start().await;
    let app = shop(&providers).await;
    let edited = app
        .say_expecting(ADMIN, "/template edit basic discount=20%", "Template")
        .await;
    assert!(edited.text.contains("discount: 20%"), "{}", edited.text);
    assert_eq!(
        buttons(&app).await,
        [
            "Starter — 40.00 USD",
            "Business — 144.00 USD",
            "Enterprise — 400.00 USD"
        ]
    );

    app.say_expecting(ADMIN, "/price alice 10%", "Saved").await;
    app.say_expecting(ADMIN, "/price alice business 150.00", "Saved")
        .await;
    app.say_expecting(ADMIN, "/price alice Enterprise 50%", "Saved")
        .await;
    assert_eq!(
        buttons(&app).await,
        [
            "Starter — 45.00 USD",
            "Business — 150.00 USD",
            "Enterprise — 250.00 USD"
        ]
    );
    let card = app.say_expecting(ADMIN, "/reseller alice", "Pricing").await;
    assert!(
        card.text.contains(
            "Pricing: 10% off every package (their own; template basic: 20%); own prices: Business 150.00 USD, Enterprise 250.00 USD"
        ),
        "{}",
        card.text
    );

    // Bad input says why, with the numbers, and changes nothing.
    for (bad, why) in [
        (
            "/price alice Business 150%",
            "from 0% to 90%; you gave “150%”",
        ),
        ("/price alice Business -5", "“-5” is not a price in USD"),
        (
            "/price alice Business 10.00",
            "A price of Business must be from 18.00 USD to its list price 180.00 USD (at most 90% off); you gave 10.00 USD.",
        ),
        ("/price alice Business 200.00", "you gave 200.00 USD"),
        ("/price alice Gold 10%", "There is no package named “Gold”."),
        ("/price alice 95%", "you gave “95%”"),
        ("/price nobody 10%", "There is no reseller named “nobody”."),
    ] {
        let answer = app.say(ADMIN, bad).await;
        assert!(answer.text.contains(why), "{bad}: {}", answer.text);
    }
    let refused = app.say(ALICE, "/price alice 50%").await;
    assert!(refused.text.contains("Only admins"), "{}", refused.text);
    assert_eq!(
        buttons(&app).await,
        [
            "Starter — 45.00 USD",
            "Business — 150.00 USD",
            "Enterprise — 250.00 USD"
        ]
    );

    // An order stores the price of the moment it was made.
    let alice = app.core.identify(TelegramId(ALICE)).await.unwrap().unwrap();
    let business = app
        .core
        .packages_for(&alice)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.package.name == "Business")
        .unwrap();
    let order = app
        .core
        .create_order(&alice, business.package.id, "stripe")
        .await
        .unwrap();
    assert_eq!(
        (order.amount_minor, order.currency.as_str()),
        (15000, "USD")
    );

    // Resetting goes one rule down each time.
    app.say_expecting(ADMIN, "/price alice Business reset", "Saved")
        .await;
    assert_eq!(
        buttons(&app).await,
        [
            "Starter — 45.00 USD",
            "Business — 162.00 USD",
            "Enterprise — 250.00 USD"
        ]
    );
    let all = app
        .say_expecting(ADMIN, "/price alice reset", "Saved")
        .await;
    assert!(
        all.text
            .contains("Pricing: 20% off every package (template basic)"),
        "{}",
        all.text
    );
    assert_eq!(
        buttons(&app).await,
        [
            "Starter — 40.00 USD",
            "Business — 144.00 USD",
            "Enterprise — 400.00 USD"
        ]
    );
    assert_eq!(
        app.core.order(&order.public_id).await.unwrap().amount_minor,
        15000
    );
    assert_eq!(
        app.core
            .scalar_for_tests(
                "SELECT COUNT(*) FROM audit_log WHERE action IN ('price.set', 'price.reset')"
            )
            .await,
        5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stars_invoice_is_discounted_and_paid_at_that_price() {
    let providers = FakeProviders::start().await;
    let app = shop(&providers).await;
    app.say_expecting(ADMIN, "/package edit Business 3600 180.00 USD 250", "saved")
        .await;
    // 15% off 250 Stars is 212.5: rounded half up to 213.
    app.say_expecting(ADMIN, "/price alice 15%", "Saved").await;
    let shop = app.say_expecting(ALICE, "/buy", "Pick one").await;
    assert!(
        shop.text.contains(
            "<b>Business</b>: 3,600 credits for 153.00 USD or 213 ⭐ (list 180.00 USD, 15% off)"
        ),
        "{}",
        shop.text
    );
    let methods = app.press(ALICE, &shop, "Business — 153.00 USD").await;
    let invoice = app.press(ALICE, &methods, "Telegram Stars (213)").await;
    let mut parts = invoice.text.split_whitespace();
    assert_eq!(parts.next(), Some("invoice"));
    let order = parts.next().expect("payload").to_string();
    assert_eq!((parts.next(), parts.next()), (Some("XTR"), Some("213")));

    let before = app.tg.sent().len();
    app.tg.stars_paid(ALICE, &order, 213, "charge-discounted");
    app.tg.wait_for(ALICE, before, "Payment received").await;
    assert_eq!(app.balance(ALICE).await, 3600);
    app.assert_ledger_sound().await;
}
