//! Payment webhooks through HTTP: each provider's real signing scheme, computed here from its
//! documentation; credits arrive once, in Telegram too.

use crate::support::{ADMIN, TestApp};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use reseller_core::Actor;
use reseller_core::domain::TelegramId;
use serde_json::{Value, json};

const ALICE: i64 = 2_001;
pub(crate) const STRIPE_SECRET: &str = "whsec_e2e_current";
const STRIPE_OLD: &str = "whsec_e2e_previous";
const BTCPAY_SECRET: &str = "btcpay_e2e_secret";
const NOWPAYMENTS_SECRET: &str = "np_e2e_secret";
const CRYPTOMUS_KEY: &str = "cryptomus_e2e_key";

async fn app_with_payments() -> TestApp {
    let app = TestApp::spawn_with(|s| {
        s.stripe_webhook_secret = Some(STRIPE_SECRET.into());
        s.stripe_webhook_secret_previous = Some(STRIPE_OLD.into());
        s.btcpay_webhook_secret = Some(BTCPAY_SECRET.into());
        s.nowpayments_ipn_secret = Some(NOWPAYMENTS_SECRET.into());
        s.cryptomus_payment_key = Some(CRYPTOMUS_KEY.into());
    })
    .await;
    app.reseller("alice", ALICE).await;
    app
}

/// An order for package `name` paid through `provider`; returns its public id.
async fn order(app: &TestApp, name: &str, provider: &str) -> String {
    let alice: Actor = app
        .core
        .identify(TelegramId(ALICE))
        .await
        .unwrap()
        .expect("alice is linked");
    let package = app
        .core
        .packages(false)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.name == name)
        .expect("package");
    app.core
        .create_order(&alice, package.id, provider)
        .await
        .expect("order created")
        .public_id
}

fn hmac_hex<M: Mac + hmac::digest::KeyInit>(key: &str, data: &[u8]) -> String {
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}

pub(crate) fn stripe_header(body: &str, t: i64, secrets: &[&str]) -> String {
    let signed = format!("{t}.{body}");
    let sigs: Vec<String> = secrets
        .iter()
        .map(|s| {
            format!(
                "v1={}",
                hmac_hex::<Hmac<sha2::Sha256>>(s, signed.as_bytes())
            )
        })
        .collect();
    format!("t={t},{}", sigs.join(","))
}

pub(crate) fn stripe_event(id: &str, kind: &str, object: Value) -> String {
    json!({ "id": id, "object": "event", "type": kind, "created": 1, "data": { "object": object } })
        .to_string()
}

pub(crate) fn checkout_paid(order: &str, amount: i64, currency: &str) -> Value {
    json!({
        "id": "cs_e2e", "object": "checkout.session", "payment_status": "paid", "amount_total": amount,
        "currency": currency, "client_reference_id": order, "payment_intent": format!("pi_{order}"),
        "metadata": { "order_id": order },
    })
}

async fn post(app: &TestApp, path: &str, headers: &[(&str, String)], body: &str) -> u16 {
    let mut req = reqwest::Client::new()
        .post(format!("http://{}{path}", app.http))
        .body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    req.send().await.expect("webhook answers").status().as_u16()
}

pub(crate) async fn post_stripe(app: &TestApp, body: &str, header: String) -> u16 {
    post(
        app,
        "/webhooks/stripe",
        &[("stripe-signature", header)],
        body,
    )
    .await
}

pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stripe_payment_delivered_ten_times_at_once_credits_once() {
    let app = app_with_payments().await;
    let order = order(&app, "Business", "stripe").await;
    let body = stripe_event(
        "evt_paid_1",
        "checkout.session.completed",
        checkout_paid(&order, 18000, "usd"),
    );
    let header = stripe_header(&body, now(), &[STRIPE_SECRET]);
    let before = app.tg.sent().len();
    let statuses =
        futures::future::join_all((0..10).map(|_| post_stripe(&app, &body, header.clone()))).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let told = app.tg.wait_for(ALICE, before, "Payment received").await;
    assert_eq!(
        told.text,
        "Payment received: +3,600 credits, balance 3,600."
    );
    let admin = app.tg.wait_for(ADMIN, before, "bought").await;
    assert!(
        admin
            .text
            .contains("alice bought Business (3,600 credits) for 180.00 USD through stripe"),
        "{}",
        admin.text
    );
    assert_eq!(app.balance(ALICE).await, 3600);
    // Days later, again: still once.
    assert_eq!(
        post_stripe(&app, &body, stripe_header(&body, now(), &[STRIPE_SECRET])).await,
        200
    );
    assert_eq!(app.balance(ALICE).await, 3600);
    let history = app.say_expecting(ALICE, "/history", "Credit history").await;
    assert!(
        history.text.contains("<b>+3,600</b> purchase — 0 → 3,600"),
        "{}",
        history.text
    );
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_stripe_signatures_are_refused_and_change_nothing() {
    let app = app_with_payments().await;
    let order = order(&app, "Starter", "stripe").await;
    let body = stripe_event(
        "evt_sig",
        "checkout.session.completed",
        checkout_paid(&order, 5000, "usd"),
    );
    let good = stripe_header(&body, now(), &[STRIPE_SECRET]);
    let tampered = body.replace("5000", "5001");
    assert_eq!(
        post_stripe(&app, &tampered, good.clone()).await,
        401,
        "tampered body"
    );
    assert_eq!(
        post_stripe(&app, &body, stripe_header(&body, now(), &["whsec_wrong"])).await,
        401,
        "wrong secret"
    );
    assert_eq!(
        post(&app, "/webhooks/stripe", &[], &body).await,
        400,
        "missing header"
    );
    assert_eq!(
        post_stripe(
            &app,
            &body,
            stripe_header(&body, now() - 301, &[STRIPE_SECRET])
        )
        .await,
        401,
        "301 s old"
    );
    assert_eq!(app.balance(ALICE).await, 0);
    // Two v1 signatures where only the second matches (a secret rotation): accepted.
    let both = stripe_header(&body, now(), &["whsec_unknown", STRIPE_OLD]);
    assert_eq!(post_stripe(&app, &body, both).await, 200);
    assert_eq!(app.balance(ALICE).await, 900);
    // Unknown event types are acknowledged and ignored.
    let other = stripe_event("evt_other", "customer.created", json!({ "id": "cus_1" }));
    assert_eq!(
        post_stripe(&app, &other, stripe_header(&other, now(), &[STRIPE_SECRET])).await,
        200
    );
    assert_eq!(app.balance(ALICE).await, 900);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_refunds_reverse_once_and_a_refund_before_payment_blocks_the_credit() {
    let app = app_with_payments().await;
    let paid = order(&app, "Starter", "stripe").await;
    let body = stripe_event(
        "evt_p",
        "checkout.session.completed",
        checkout_paid(&paid, 5000, "usd"),
    );
    assert_eq!(
        post_stripe(&app, &body, stripe_header(&body, now(), &[STRIPE_SECRET])).await,
        200
    );
    assert_eq!(app.balance(ALICE).await, 900);
    let card = app.say_expecting(ALICE, "/new 30 spender", "Create").await;
    app.press(ALICE, &card, "Confirm").await;

    let refund = stripe_event(
        "evt_r",
        "charge.refunded",
        json!({ "id": "ch_1", "payment_intent": format!("pi_{paid}") }),
    );
    let before = app.tg.sent().len();
    for _ in 0..3 {
        assert_eq!(
            post_stripe(
                &app,
                &refund,
                stripe_header(&refund, now(), &[STRIPE_SECRET])
            )
            .await,
            200
        );
    }
    let told = app.tg.wait_for(ALICE, before, "Payment refunded").await;
    assert!(
        told.text.contains("-900 credits, balance -30")
            && told.text.contains("spending is blocked"),
        "{}",
        told.text
    );
    assert_eq!(app.balance(ALICE).await, -30);
    let blocked = app.say(ALICE, "/new 1 more").await;
    assert!(
        blocked
            .text
            .contains("You need 1 credits to create this subscriber for 1 days, but you have -30."),
        "{}",
        blocked.text
    );

    // Out of order: the dispute arrives before the payment it disputes.
    let early = order(&app, "Starter", "stripe").await;
    let pi = format!("pi_{early}");
    app.core.set_order_reference(&early, &pi).await.unwrap();
    let dispute = stripe_event(
        "evt_d",
        "charge.dispute.created",
        json!({ "id": "dp_1", "payment_intent": pi }),
    );
    assert_eq!(
        post_stripe(
            &app,
            &dispute,
            stripe_header(&dispute, now(), &[STRIPE_SECRET])
        )
        .await,
        200
    );
    let late = stripe_event(
        "evt_late",
        "checkout.session.completed",
        checkout_paid(&early, 5000, "usd"),
    );
    assert_eq!(
        post_stripe(&app, &late, stripe_header(&late, now(), &[STRIPE_SECRET])).await,
        200
    );
    assert_eq!(
        app.balance(ALICE).await,
        -30,
        "a disputed order is never credited"
    );
    app.assert_ledger_sound().await;
}

/// Posts a signed Stripe event; it must be accepted.
async fn stripe_ok(app: &TestApp, body: &str) {
    assert_eq!(
        post_stripe(app, body, stripe_header(body, now(), &[STRIPE_SECRET])).await,
        200,
        "{body}"
    );
}

/// An order of the 100-credit package for 10.00 USD, paid through Stripe with `pi_<order>`.
async fn paid_hundred(app: &TestApp) -> String {
    let id = order(app, "Hundred", "stripe").await;
    let paid = stripe_event(
        &format!("evt_pay_{id}"),
        "checkout.session.completed",
        checkout_paid(&id, 1000, "usd"),
    );
    stripe_ok(app, &paid).await;
    id
}

fn charge_refunded(event: &str, order: &str, refunded: i64) -> String {
    stripe_event(
        event,
        "charge.refunded",
        json!({ "id": format!("ch_{order}"), "object": "charge", "payment_intent": format!("pi_{order}"),
                "amount": 1000, "amount_refunded": refunded, "refunded": refunded >= 1000 }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_stripe_refunds_add_up_to_the_order_and_a_won_dispute_gives_back_once() {
    let app = app_with_payments().await;
    app.say_expecting(ADMIN, "/package add Hundred 100 10.00 USD", "saved")
        .await;
    let first = paid_hundred(&app).await;
    assert_eq!(app.balance(ALICE).await, 100);

    // A refund of 30 % takes 30 credits.
    let before = app.tg.sent().len();
    stripe_ok(&app, &charge_refunded("evt_r30", &first, 300)).await;
    let told = app
        .tg
        .wait_for(ALICE, before, "Payment partly refunded")
        .await;
    assert_eq!(
        told.text,
        "Payment partly refunded: -30 credits, balance 70."
    );
    assert_eq!(app.balance(ALICE).await, 70);
    // Another of 80 % (running total 110 %, delivered twice): only the 70 left.
    let more = charge_refunded("evt_r80", &first, 1100);
    stripe_ok(&app, &more).await;
    stripe_ok(&app, &more).await;
    assert_eq!(app.balance(ALICE).await, 0);
    // A late event with a smaller running total takes nothing more.
    stripe_ok(&app, &charge_refunded("evt_r30_late", &first, 300)).await;
    assert_eq!(app.balance(ALICE).await, 0);

    // A third refunded (rounded up to 34), then a chargeback of the rest, which the merchant wins.
    let second = paid_hundred(&app).await;
    stripe_ok(&app, &charge_refunded("evt_r33", &second, 333)).await;
    assert_eq!(app.balance(ALICE).await, 66);
    let dispute = |event: &str, kind: &str, status: &str| {
        stripe_event(
            event,
            kind,
            json!({ "id": "dp_1", "object": "dispute", "payment_intent": format!("pi_{second}"),
                    "amount": 667, "status": status }),
        )
    };
    stripe_ok(
        &app,
        &dispute("evt_dp", "charge.dispute.created", "needs_response"),
    )
    .await;
    assert_eq!(app.balance(ALICE).await, 0);
    let before = app.tg.sent().len();
    let won = dispute("evt_won", "charge.dispute.closed", "won");
    stripe_ok(&app, &won).await;
    stripe_ok(&app, &won).await;
    stripe_ok(
        &app,
        &dispute("evt_won_again", "charge.dispute.closed", "won"),
    )
    .await;
    let told = app.tg.wait_for(ALICE, before, "chargeback").await;
    assert_eq!(
        told.text,
        format!("The chargeback on order {second} was won: +66 credits back, balance 66.")
    );
    assert_eq!(app.balance(ALICE).await, 66);
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_partial_refunds_take_back_the_largest_running_total_once() {
    let app = app_with_payments().await;
    app.say_expecting(ADMIN, "/package add Hundred 100 10.00 USD", "saved")
        .await;
    let order = paid_hundred(&app).await;
    // Five refunds of 10 % each, their events racing each other (and each delivered twice).
    let events: Vec<String> = (1..=5)
        .flat_map(|n| {
            let body = charge_refunded(&format!("evt_c{n}"), &order, n * 100);
            [body.clone(), body]
        })
        .collect();
    futures::future::join_all(events.iter().map(|body| stripe_ok(&app, body))).await;
    assert_eq!(app.balance(ALICE).await, 50);
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn btcpay_settlements_credit_once_across_redeliveries() {
    let app = app_with_payments().await;
    let order = order(&app, "Business", "btcpay").await;
    app.core.set_order_reference(&order, "inv1").await.unwrap();
    let delivery = |id: &str, redelivery: bool| {
        // Pretty-printed, as BTCPay sends it: the bytes are what is signed.
        serde_json::to_string_pretty(&json!({
            "deliveryId": id, "webhookId": "wh1", "originalDeliveryId": "orig1", "isRedelivery": redelivery,
            "type": "InvoiceSettled", "timestamp": 1, "storeId": "s1", "invoiceId": "inv1",
            "metadata": { "orderId": order }, "manuallyMarked": false, "overPaid": false,
        }))
        .unwrap()
    };
    let sign = |b: &str, key: &str| {
        format!(
            "sha256={}",
            hmac_hex::<Hmac<sha2::Sha256>>(key, b.as_bytes())
        )
    };
    let first = delivery("orig1", false);
    assert_eq!(
        post(
            &app,
            "/webhooks/btcpay",
            &[("btcpay-sig", sign(&first, "wrong"))],
            &first
        )
        .await,
        401
    );
    assert_eq!(
        post(
            &app,
            "/webhooks/btcpay",
            &[("btcpay-sig", sign(&first, BTCPAY_SECRET))],
            &first
        )
        .await,
        200
    );
    let again = delivery("redelivery2", true);
    assert_eq!(
        post(
            &app,
            "/webhooks/btcpay",
            &[("btcpay-sig", sign(&again, BTCPAY_SECRET))],
            &again
        )
        .await,
        200
    );
    assert_eq!(app.balance(ALICE).await, 3600);
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn btcpay_settling_an_order_that_has_no_invoice_credits_nothing() {
    let app = app_with_payments().await;
    // The invoice was never recorded for this order (its checkout failed half-way).
    let order = order(&app, "Business", "btcpay").await;
    let body = json!({ "deliveryId": "d1", "originalDeliveryId": "d1", "type": "InvoiceSettled",
                       "invoiceId": "inv-foreign", "metadata": { "orderId": order } })
    .to_string();
    let sig = format!(
        "sha256={}",
        hmac_hex::<Hmac<sha2::Sha256>>(BTCPAY_SECRET, body.as_bytes())
    );
    let before = app.tg.sent().len();
    assert_eq!(
        post(&app, "/webhooks/btcpay", &[("btcpay-sig", sig)], &body).await,
        200
    );
    let alert = app
        .tg
        .wait_for(ADMIN, before, "no invoice was created for it")
        .await;
    assert!(
        alert.text.contains(&order)
            && alert.text.contains("invoice inv-foreign")
            && alert.text.contains("Nothing was credited"),
        "{}",
        alert.text
    );
    assert_eq!(app.balance(ALICE).await, 0);
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_payment_on_a_paid_order_credits_nothing_and_alerts_the_admins() {
    let app = app_with_payments().await;
    let order = order(&app, "Business", "stripe").await;
    let paid = |event: &str, kind: &str, intent: &str| {
        let mut object = checkout_paid(&order, 18000, "usd");
        object["payment_intent"] = json!(intent);
        stripe_event(event, kind, object)
    };
    let first = paid("evt_first", "checkout.session.completed", "pi_first");
    assert_eq!(
        post_stripe(&app, &first, stripe_header(&first, now(), &[STRIPE_SECRET])).await,
        200
    );
    assert_eq!(app.balance(ALICE).await, 3600);
    // The same payment told again through another event: nothing to report.
    let same = paid(
        "evt_same",
        "checkout.session.async_payment_succeeded",
        "pi_first",
    );
    let before = app.tg.sent().len();
    assert_eq!(
        post_stripe(&app, &same, stripe_header(&same, now(), &[STRIPE_SECRET])).await,
        200
    );
    // Another payment of the same order: kept, credited nothing, the admins get the numbers.
    let second = paid("evt_second", "checkout.session.completed", "pi_second");
    for _ in 0..2 {
        assert_eq!(
            post_stripe(
                &app,
                &second,
                stripe_header(&second, now(), &[STRIPE_SECRET])
            )
            .await,
            200
        );
    }
    let alert = app.tg.wait_for(ADMIN, before, "another payment").await;
    assert_eq!(
        alert.text,
        format!(
            "⚠️ Order {order} of alice is already paid, but stripe reported another payment of 180.00 USD (reference pi_second). Nothing was credited: return the money or credit it by hand."
        )
    );
    assert_eq!(app.balance(ALICE).await, 3600);
    let alerts = app.tg.sent()[before..]
        .iter()
        .filter(|m| m.chat_id == ADMIN && m.text.contains("already paid"))
        .count();
    assert_eq!(
        alerts, 1,
        "one alert for the second payment, none for the first"
    );
    app.assert_ledger_sound().await;
}

fn nowpayments_body(order: &str, status: &str, price: f64, actually_paid: f64) -> String {
    json!({
        "payment_id": 5077125051u64, "payment_status": status, "order_id": order, "price_amount": price,
        "price_currency": "usd", "pay_amount": 20.1, "actually_paid": actually_paid, "pay_currency": "usdttrc20",
        "fee": { "serviceFee": 0.2, "depositFee": 0.1 },
    })
    .to_string()
}

fn nowpayments_sig(body: &str) -> String {
    fn sorted(v: Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut e: Vec<_> = m.into_iter().collect();
                e.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Object(e.into_iter().map(|(k, v)| (k, sorted(v))).collect())
            }
            other => other,
        }
    }
    let canonical = sorted(serde_json::from_str(body).unwrap()).to_string();
    hmac_hex::<Hmac<sha2::Sha512>>(NOWPAYMENTS_SECRET, canonical.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nowpayments_statuses_only_move_forward_and_partial_payments_credit_nothing() {
    let app = app_with_payments().await;
    let order_id = order(&app, "Starter", "nowpayments").await;
    let send = |body: String| {
        let app = &app;
        async move {
            post(
                app,
                "/webhooks/nowpayments",
                &[("x-nowpayments-sig", nowpayments_sig(&body))],
                &body,
            )
            .await
        }
    };
    let before = app.tg.sent().len();
    assert_eq!(
        send(nowpayments_body(&order_id, "partially_paid", 50.0, 10.0)).await,
        200
    );
    let alert = app.tg.wait_for(ADMIN, before, "only partly paid").await;
    assert!(alert.text.contains(&order_id), "{}", alert.text);
    assert_eq!(app.balance(ALICE).await, 0);
    assert_eq!(
        send(nowpayments_body(&order_id, "finished", 50.0, 20.1)).await,
        200
    );
    assert_eq!(
        send(nowpayments_body(&order_id, "confirming", 50.0, 20.1)).await,
        200
    );
    assert_eq!(
        send(nowpayments_body(&order_id, "finished", 50.0, 20.1)).await,
        200
    );
    assert_eq!(app.balance(ALICE).await, 900);

    // Underpaid: the IPN's price is below the order's.
    let cheap = order(&app, "Starter", "nowpayments").await;
    let before = app.tg.sent().len();
    let body = nowpayments_body(&cheap, "finished", 5.0, 2.0).replace("5077125051", "5077125052");
    assert_eq!(send(body).await, 200);
    let alert = app.tg.wait_for(ADMIN, before, "Nothing was credited").await;
    assert!(
        alert.text.contains("was paid 5.00 USD") && alert.text.contains("costs 50.00 USD"),
        "{}",
        alert.text
    );
    assert_eq!(app.balance(ALICE).await, 900);
    let tampered = nowpayments_body(&cheap, "finished", 50.0, 20.1);
    let sig = nowpayments_sig(&nowpayments_body(&cheap, "finished", 5.0, 2.0));
    assert_eq!(
        post(
            &app,
            "/webhooks/nowpayments",
            &[("x-nowpayments-sig", sig)],
            &tampered
        )
        .await,
        401
    );
    app.assert_ledger_sound().await;
}

fn cryptomus_body(order: &str, uuid: &str, status: &str, amount: &str, currency: &str) -> String {
    let mut v = json!({
        "type": "payment", "uuid": uuid, "order_id": order, "amount": amount, "payment_amount": amount,
        "is_final": true, "status": status, "currency": currency, "payer_currency": "USDT", "additional_data": "u/42",
    });
    let php = v.to_string().replace('/', "\\/");
    let b64 = base64::engine::general_purpose::STANDARD.encode(php);
    let sign = hex::encode(<md5::Md5 as md5::Digest>::digest(format!(
        "{b64}{CRYPTOMUS_KEY}"
    )));
    v["sign"] = json!(sign);
    v.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cryptomus_credits_final_payments_in_the_right_currency_only() {
    let app = app_with_payments().await;
    let good = order(&app, "Starter", "cryptomus").await;
    let body = cryptomus_body(&good, "u-1", "paid", "50.00", "USD");
    for _ in 0..3 {
        assert_eq!(post(&app, "/webhooks/cryptomus", &[], &body).await, 200);
    }
    assert_eq!(app.balance(ALICE).await, 900);
    let forged = body.replace("50.00", "500.00");
    assert_eq!(post(&app, "/webhooks/cryptomus", &[], &forged).await, 401);

    let foreign = order(&app, "Starter", "cryptomus").await;
    let before = app.tg.sent().len();
    let body = cryptomus_body(&foreign, "u-2", "paid", "50.00", "EUR");
    assert_eq!(post(&app, "/webhooks/cryptomus", &[], &body).await, 200);
    let alert = app.tg.wait_for(ADMIN, before, "Nothing was credited").await;
    assert!(alert.text.contains("50.00 EUR"), "{}", alert.text);
    assert_eq!(app.balance(ALICE).await, 900);

    let refund = cryptomus_body(&good, "u-1", "refund_paid", "50.00", "USD");
    assert_eq!(post(&app, "/webhooks/cryptomus", &[], &refund).await, 200);
    assert_eq!(app.balance(ALICE).await, 0);
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unconfigured_providers_are_switched_off() {
    let app = TestApp::spawn().await;
    assert_eq!(
        post(
            &app,
            "/webhooks/stripe",
            &[("stripe-signature", "t=1,v1=00".into())],
            "{}"
        )
        .await,
        404
    );
    assert_eq!(post(&app, "/webhooks/cryptomus", &[], "{}").await, 404);
}

/// The online checkouts, against stand-ins for the providers' APIs.
mod checkout {
    use super::*;
    use crate::providers::FakeProviders;

    async fn shop(providers: &FakeProviders) -> TestApp {
        let url = providers.url.clone();
        let app = TestApp::spawn_with(|s| {
            s.stripe_webhook_secret = Some(STRIPE_SECRET.into());
            s.stripe_secret_key = Some("sk_test_e2e".into());
            s.stripe_api_url = url.clone();
            s.btcpay_webhook_secret = Some(BTCPAY_SECRET.into());
            s.btcpay_url = Some(url.clone());
            s.btcpay_api_key = Some("btcpay_key".into());
            s.btcpay_store_id = Some("store1".into());
            s.nowpayments_api_key = Some("np_key".into());
            s.nowpayments_api_url = url.clone();
            s.cryptomus_merchant_id = Some("merchant-1".into());
            s.cryptomus_payment_key = Some(CRYPTOMUS_KEY.into());
            s.cryptomus_api_url = url.clone();
            s.public_url = Some("https://bot.example.test/".into());
        })
        .await;
        app.reseller("alice", ALICE).await;
        app
    }

    /// Picks Business and `method`; returns the payment link and the order id in the message.
    async fn checkout(app: &TestApp, method: &str) -> (String, String) {
        checkout_of(app, "Business", method).await
    }

    /// Picks `package` and `method`; returns the payment link and the order id in the message.
    async fn checkout_of(app: &TestApp, package: &str, method: &str) -> (String, String) {
        let shop = app.say_expecting(ALICE, "/buy", "Pick one").await;
        let methods = app.press(ALICE, &shop, package).await;
        let labels: Vec<&str> = methods.buttons.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(
            labels,
            [
                "💳 Card (Stripe)",
                "₿ Bitcoin (BTCPay)",
                "🪙 Crypto (NOWPayments)",
                "🪙 Crypto (Cryptomus)",
                "🏦 Bank transfer / card (manual)"
            ]
        );
        let page = app.press(ALICE, &methods, method).await;
        let order = page
            .text
            .split("<code>")
            .nth(1)
            .and_then(|s| s.split("</code>").next())
            .expect("order id")
            .to_string();
        (page.button("Pay now"), order)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stripe_checkout_carries_the_order_and_its_webhook_credits_it() {
        let providers = FakeProviders::start().await;
        let app = shop(&providers).await;
        let (url, order) = checkout(&app, "Stripe").await;
        assert!(
            url.starts_with("https://checkout.stripe.test/c/cs_test_"),
            "{url}"
        );
        let (headers, form) = providers.last("/v1/checkout/sessions");
        assert_eq!(headers["authorization"], "Bearer sk_test_e2e");
        for field in [
            format!("client_reference_id={order}"),
            format!("metadata%5Border_id%5D={order}"),
            "line_items%5B0%5D%5Bprice_data%5D%5Bunit_amount%5D=18000".to_string(),
            "line_items%5B0%5D%5Bprice_data%5D%5Bcurrency%5D=usd".to_string(),
        ] {
            assert!(form.contains(&field), "{field} in {form}");
        }
        let body = stripe_event(
            "evt_checkout",
            "checkout.session.completed",
            checkout_paid(&order, 18000, "usd"),
        );
        assert_eq!(
            post_stripe(&app, &body, stripe_header(&body, now(), &[STRIPE_SECRET])).await,
            200
        );
        assert_eq!(app.balance(ALICE).await, 3600);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn btcpay_invoices_are_settled_only_through_their_own_invoice() {
        let providers = FakeProviders::start().await;
        let app = shop(&providers).await;
        let (url, order) = checkout(&app, "BTCPay").await;
        let (headers, body) = providers.last("/api/v1/stores/store1/invoices");
        assert_eq!(headers["authorization"], "token btcpay_key");
        let invoice: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (invoice["amount"].as_str(), invoice["currency"].as_str()),
            (Some("180.00"), Some("USD"))
        );
        assert_eq!(
            invoice["metadata"]["orderId"].as_str(),
            Some(order.as_str())
        );
        let invoice_id = url.rsplit('/').next().unwrap().to_string();

        let settle = |delivery: &str, invoice: &str| {
            json!({ "deliveryId": delivery, "originalDeliveryId": delivery, "type": "InvoiceSettled",
                    "invoiceId": invoice, "metadata": { "orderId": order } })
            .to_string()
        };
        let sign = |b: &str| {
            format!(
                "sha256={}",
                hmac_hex::<Hmac<sha2::Sha256>>(BTCPAY_SECRET, b.as_bytes())
            )
        };
        let other = settle("d-other", "inv-someone-elses");
        let before = app.tg.sent().len();
        assert_eq!(
            post(
                &app,
                "/webhooks/btcpay",
                &[("btcpay-sig", sign(&other))],
                &other
            )
            .await,
            200
        );
        app.tg
            .wait_for(ADMIN, before, "settled through another invoice")
            .await;
        assert_eq!(app.balance(ALICE).await, 0);

        let right = settle("d-right", &invoice_id);
        assert_eq!(
            post(
                &app,
                "/webhooks/btcpay",
                &[("btcpay-sig", sign(&right))],
                &right
            )
            .await,
            200
        );
        assert_eq!(
            app.balance(ALICE).await,
            0,
            "the order was closed by the mismatch; nothing is credited"
        );

        // A fresh order, settled through its own invoice, is credited.
        let (url, order2) = checkout(&app, "BTCPay").await;
        let invoice2 = url.rsplit('/').next().unwrap().to_string();
        let settled =
            json!({ "deliveryId": "d2", "originalDeliveryId": "d2", "type": "InvoiceSettled",
                              "invoiceId": invoice2, "metadata": { "orderId": order2 } })
            .to_string();
        assert_eq!(
            post(
                &app,
                "/webhooks/btcpay",
                &[("btcpay-sig", sign(&settled))],
                &settled
            )
            .await,
            200
        );
        assert_eq!(app.balance(ALICE).await, 3600);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crypto_checkouts_are_signed_and_point_their_callbacks_here() {
        let providers = FakeProviders::start().await;
        let app = shop(&providers).await;
        let (url, order) = checkout(&app, "NOWPayments").await;
        assert!(
            url.starts_with("https://nowpayments.test/payment/"),
            "{url}"
        );
        let (headers, body) = providers.last("/v1/invoice");
        assert_eq!(headers["x-api-key"], "np_key");
        let invoice: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(invoice["order_id"].as_str(), Some(order.as_str()));
        assert_eq!(invoice["price_amount"].as_f64(), Some(180.0));
        assert_eq!(
            invoice["ipn_callback_url"].as_str(),
            Some("https://bot.example.test/webhooks/nowpayments")
        );

        let (url, order) = checkout(&app, "Cryptomus").await;
        assert!(url.starts_with("https://pay.cryptomus.test/pay/"), "{url}");
        let (headers, body) = providers.last("/v1/payment");
        assert_eq!(headers["merchant"], "merchant-1");
        let php = body.replace('/', "\\/");
        let expected = hex::encode(<md5::Md5 as md5::Digest>::digest(format!(
            "{}{CRYPTOMUS_KEY}",
            base64::engine::general_purpose::STANDARD.encode(php)
        )));
        assert_eq!(headers["sign"], expected.as_str());
        let payment: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (payment["amount"].as_str(), payment["order_id"].as_str()),
            (Some("180.00"), Some(order.as_str()))
        );
        assert_eq!(
            payment["url_callback"].as_str(),
            Some("https://bot.example.test/webhooks/cryptomus")
        );

        // The webhook for that payment credits it.
        let paid = cryptomus_body(&order, "uuid-x", "paid", "180.00", "USD");
        assert_eq!(post(&app, "/webhooks/cryptomus", &[], &paid).await, 200);
        assert_eq!(app.balance(ALICE).await, 3600);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_yen_package_is_charged_in_whole_yen_everywhere() {
        let providers = FakeProviders::start().await;
        let app = shop(&providers).await;
        app.say_expecting(
            ADMIN,
            "/package add Yen 100 1000 JPY",
            "Package <b>Yen</b> saved: 100 credits for 1000 JPY",
        )
        .await;
        let bad = app.say(ADMIN, "/package add Sen 100 1000.5 JPY").await;
        assert!(
            bad.text
                .contains("“1000.5” is not a price in JPY; write it like 180."),
            "{}",
            bad.text
        );

        let (_, order) = checkout_of(&app, "Yen", "Stripe").await;
        let (_, form) = providers.last("/v1/checkout/sessions");
        for field in [
            "line_items%5B0%5D%5Bprice_data%5D%5Bunit_amount%5D=1000&",
            "line_items%5B0%5D%5Bprice_data%5D%5Bcurrency%5D=jpy",
        ] {
            assert!(form.contains(field), "{field} in {form}");
        }
        let body = stripe_event(
            "evt_yen",
            "checkout.session.completed",
            checkout_paid(&order, 1000, "jpy"),
        );
        let before = app.tg.sent().len();
        assert_eq!(
            post_stripe(&app, &body, stripe_header(&body, now(), &[STRIPE_SECRET])).await,
            200
        );
        // Delivered before the next checkout, so it is not taken for that one's answer.
        app.tg
            .wait_for(ALICE, before, "Payment received: +100 credits")
            .await;
        assert_eq!(app.balance(ALICE).await, 100);

        checkout_of(&app, "Yen", "BTCPay").await;
        let (_, body) = providers.last("/api/v1/stores/store1/invoices");
        let invoice: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(invoice["amount"].as_str(), Some("1000"));
        checkout_of(&app, "Yen", "NOWPayments").await;
        let (_, body) = providers.last("/v1/invoice");
        let invoice: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(invoice["price_amount"].as_f64(), Some(1000.0));

        let (_, order) = checkout_of(&app, "Yen", "Cryptomus").await;
        let (_, body) = providers.last("/v1/payment");
        let payment: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(payment["amount"].as_str(), Some("1000"));
        // Paid ¥1000 is the price; ¥10 (what 1000 minor units would have been as cents) is not.
        let short = cryptomus_body(&order, "uuid-short", "paid", "10", "JPY");
        assert_eq!(post(&app, "/webhooks/cryptomus", &[], &short).await, 200);
        assert_eq!(app.balance(ALICE).await, 100);
        let (_, order) = checkout_of(&app, "Yen", "Cryptomus").await;
        let paid = cryptomus_body(&order, "uuid-yen", "paid", "1000", "JPY");
        assert_eq!(post(&app, "/webhooks/cryptomus", &[], &paid).await, 200);
        assert_eq!(app.balance(ALICE).await, 200);
        app.assert_ledger_sound().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_provider_that_is_down_gets_a_clear_message_and_no_link() {
        let providers = FakeProviders::start().await;
        let app = shop(&providers).await;
        providers.set_down(true);
        let shop = app.say_expecting(ALICE, "/buy", "Pick one").await;
        let methods = app.press(ALICE, &shop, "Starter").await;
        let reply = app.press(ALICE, &methods, "Stripe").await;
        assert!(
            reply.text.contains("stripe is not available right now"),
            "{}",
            reply.text
        );
        assert!(reply.buttons.is_empty());
    }
}
