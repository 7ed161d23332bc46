//! Credits: grants, spending, confirmations and the ledger under concurrency.

use crate::support::{ADMIN, TestApp};

const ALICE: i64 = 2_001;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_then_create_then_extend_moves_exactly_the_credits_shown() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 100).await;
    assert_eq!(app.balance(ALICE).await, 100);

    let card = app
        .say_expecting(ALICE, "/new 30 john.doe", "Create subscriber")
        .await;
    assert!(card.text.contains("Cost: 30 credits"), "{}", card.text);
    assert!(
        card.text.contains("Balance: 100 → <b>70</b>"),
        "{}",
        card.text
    );
    assert_eq!(
        app.balance(ALICE).await,
        100,
        "nothing changes before Confirm"
    );

    let done = app.press(ALICE, &card, "Confirm").await;
    assert!(done.edited);
    assert!(done.text.contains("john.doe"), "{}", done.text);
    assert!(done.text.contains("Password: <code>"), "{}", done.text);
    let expiry = (chrono::Utc::now() + chrono::Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    assert!(
        done.text.contains(&format!("Expires: {expiry}")),
        "{}",
        done.text
    );
    assert!(
        done.text.contains("alice"),
        "panel name shown: {}",
        done.text
    );
    assert_eq!(app.balance(ALICE).await, 70);

    let card = app
        .say_expecting(ALICE, "/extend john.doe 45", "Extend")
        .await;
    assert!(
        card.text.contains("Balance: 70 → <b>25</b>"),
        "{}",
        card.text
    );
    let done = app.press(ALICE, &card, "Confirm").await;
    let expiry = (chrono::Utc::now() + chrono::Duration::days(75))
        .format("%Y-%m-%d")
        .to_string();
    assert!(
        done.text.contains(&format!("now expires on {expiry}")),
        "early renewal keeps the days left: {}",
        done.text
    );
    assert_eq!(app.balance(ALICE).await, 25);

    let history = app.say_expecting(ALICE, "/history", "Credit history").await;
    assert!(
        history.text.contains("<b>+100</b> granted — 0 → 100"),
        "{}",
        history.text
    );
    assert!(
        history
            .text
            .contains("<b>-30</b> spent (john.doe) — 100 → 70"),
        "{}",
        history.text
    );
    assert!(
        history
            .text
            .contains("<b>-45</b> spent (john.doe) — 70 → 25"),
        "{}",
        history.text
    );
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insufficient_credits_are_refused_with_the_numbers_and_change_nothing() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 70).await;
    let reply = app.say(ALICE, "/new 90 john.doe").await;
    assert!(
        reply.text.contains(
            "You need 90 credits to create this subscriber for 90 days, but you have 70."
        ),
        "{}",
        reply.text
    );
    assert!(reply.buttons.is_empty());
    assert_eq!(app.balance(ALICE).await, 70);
    let users = app.say(ALICE, "/users").await;
    assert!(users.text.contains("No subscribers"), "{}", users.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirm_pressed_many_times_at_once_debits_once() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 100).await;
    let card = app
        .say_expecting(ALICE, "/new 30 john.doe", "Create subscriber")
        .await;
    let data = card.button("Confirm");
    let before = app.tg.sent().len();
    for _ in 0..6 {
        app.tg.press(ALICE, card.message_id, &data);
    }
    app.tg.wait_for(ALICE, before, "created").await;
    // Every press is answered; the later ones as replays.
    for _ in 0..200 {
        if app
            .tg
            .callback_answers()
            .iter()
            .filter(|(_, t)| t.as_deref() == Some("Already done."))
            .count()
            == 5
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let replays = app
        .tg
        .callback_answers()
        .iter()
        .filter(|(_, t)| t.as_deref() == Some("Already done."))
        .count();
    assert_eq!(replays, 5);
    assert_eq!(app.balance(ALICE).await, 70);
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_creates_against_a_small_balance_spend_it_exactly() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 50).await;
    // Twelve cards while the balance still covers each one alone, then all confirmed at once.
    let mut cards = Vec::new();
    for i in 0..12 {
        cards.push(
            app.say_expecting(ALICE, &format!("/new 10 user{i:02}"), "Create subscriber")
                .await,
        );
    }
    let cards: Vec<_> = cards.into_iter().map(|c| (ALICE, c)).collect();
    let outcomes = app.confirm_all(&cards).await;
    assert_eq!(outcomes.len(), 12, "every card got an answer");
    let created = outcomes.iter().filter(|t| t.contains("created")).count();
    let refused = outcomes
        .iter()
        .filter(|t| t.contains("You need 10 credits"))
        .count();
    assert_eq!((created, refused), (5, 7), "{outcomes:#?}");
    assert_eq!(app.balance(ALICE).await, 0);
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grants_from_the_admin_and_spending_by_the_reseller_interleave_safely() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 40).await;
    let mut cards = Vec::new();
    for i in 0..4 {
        cards.push(
            app.say_expecting(ALICE, &format!("/new 10 spend{i}"), "Create")
                .await,
        );
    }
    let mut grant_cards = Vec::new();
    for _ in 0..3 {
        grant_cards.push(app.say_expecting(ADMIN, "/grant alice 5", "Grant").await);
    }
    let presses: Vec<_> = cards
        .into_iter()
        .map(|c| (ALICE, c))
        .chain(grant_cards.into_iter().map(|c| (ADMIN, c)))
        .collect();
    let outcomes = app.confirm_all(&presses).await;
    assert_eq!(
        outcomes.iter().filter(|t| t.contains("created")).count(),
        4,
        "{outcomes:#?}"
    );
    assert_eq!(
        outcomes.iter().filter(|t| t.contains("Granted")).count(),
        3,
        "{outcomes:#?}"
    );
    assert_eq!(
        app.balance(ALICE).await,
        15,
        "40 granted, 40 spent, 3 × 5 granted"
    );
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deductions_need_a_reason_and_never_go_below_zero() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 20).await;
    let no_reason = app.say(ADMIN, "/deduct alice 5").await;
    assert!(
        no_reason.text.contains("Give a reason"),
        "{}",
        no_reason.text
    );
    let too_much = app.say(ADMIN, "/deduct alice 25 chargeback").await;
    assert!(
        too_much
            .text
            .contains("Cannot deduct 25 credits from alice: the balance is 20."),
        "{}",
        too_much.text
    );
    let card = app
        .say_expecting(ADMIN, "/deduct alice 5 duplicate payment", "Deduct")
        .await;
    assert!(
        card.text.contains("Balance: 20 → <b>15</b>"),
        "{}",
        card.text
    );
    let done = app.press(ADMIN, &card, "Confirm").await;
    assert!(
        done.text.contains("Deducted 5 credits from <b>alice</b>"),
        "{}",
        done.text
    );
    assert_eq!(app.balance(ALICE).await, 15);
    let history = app
        .say_expecting(ADMIN, "/history alice", "Credit history of alice")
        .await;
    assert!(
        history
            .text
            .contains("deducted — 20 → 15 · duplicate payment"),
        "{}",
        history.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_changes_nothing_and_the_card_cannot_be_confirmed_after() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 50).await;
    let card = app
        .say_expecting(ALICE, "/new 30 john.doe", "Create subscriber")
        .await;
    let cancelled = app.press(ALICE, &card, "Cancel").await;
    assert!(cancelled.text.contains("Cancelled"), "{}", cancelled.text);
    let late = app.press(ALICE, &card, "Confirm").await;
    assert!(
        late.text.contains("expired or was already used"),
        "{}",
        late.text
    );
    assert_eq!(app.balance(ALICE).await, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_to_a_reseller_in_debt_moves_the_balance_up() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 100).await;
    app.core.charge_back_for_tests("alice", 1_000).await;
    assert_eq!(app.balance(ALICE).await, -900);

    let card = app.say_expecting(ADMIN, "/grant alice 100", "Grant").await;
    assert!(
        card.text.contains("Balance: -900 → <b>-800</b>"),
        "{}",
        card.text
    );
    let done = app.press(ADMIN, &card, "Confirm").await;
    assert!(done.text.contains("Granted"), "{}", done.text);
    assert_eq!(app.balance(ALICE).await, -800);
    // Deductions stay bounded at zero, debt or not.
    let refused = app.say(ADMIN, "/deduct alice 1 test").await;
    assert!(
        refused
            .text
            .contains("Cannot deduct 1 credits from alice: the balance is -800."),
        "{}",
        refused.text
    );
    app.assert_ledger_sound().await;
}
