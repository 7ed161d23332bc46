//! Trials through the bot: `/trial` proposes a free 24-hour line that players see as a trial,
//! lengths past 72 hours and trials past the quota are refused with the numbers, extending a
//! trial converts it to a paid line, and a Trial-template reseller may `/trial` but not `/new`.

use crate::support::{ADMIN, TestApp, invite_code};
use serde_json::Value;

const ALICE: i64 = 4_001;
const TINA: i64 = 4_002;

async fn login(app: &TestApp, username: &str, password: &str) -> Value {
    reqwest::Client::new()
        .get(format!("http://{}/player_api.php", app.http))
        .query(&[("username", username), ("password", password)])
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json")
}

fn password(text: &str) -> String {
    text.split("Password: <code>")
        .nth(1)
        .and_then(|s| s.split("</code>").next())
        .expect("password")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trial_is_free_for_24_hours_and_players_see_it_as_a_trial() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 40).await;

    let card = app
        .say_expecting(ALICE, "/trial demo.user", "Create trial")
        .await;
    assert!(card.text.contains("for <b>24</b> hours?"), "{}", card.text);
    assert!(!card.text.contains("Cost:"), "{}", card.text);
    let created = app.press(ALICE, &card, "Confirm").await;
    assert!(
        created.text.contains("✅ Trial <b>demo.user</b>"),
        "{}",
        created.text
    );
    assert_eq!(app.balance(ALICE).await, 40, "a trial costs nothing");

    let user = &login(&app, "demo.user", &password(&created.text)).await["user_info"];
    assert_eq!(user["is_trial"], "1");
    assert_eq!(user["status"], "Active");
    let exp: i64 = user["exp_date"].as_str().unwrap().parse().unwrap();
    assert!(
        (exp - (chrono::Utc::now().timestamp() + 24 * 3600)).abs() < 60,
        "{exp}"
    );

    // Extending converts it: 30 full days from now, charged, no longer a trial.
    let card = app
        .say_expecting(ALICE, "/extend demo.user 30", "Extend")
        .await;
    let done = app.press(ALICE, &card, "Confirm").await;
    assert!(done.text.contains("Charged: 30 credits"), "{}", done.text);
    assert_eq!(app.balance(ALICE).await, 10);
    let user = &login(&app, "demo.user", &password(&created.text)).await["user_info"];
    assert_eq!(user["is_trial"], "0");
    let exp: i64 = user["exp_date"].as_str().unwrap().parse().unwrap();
    assert!(
        (exp - (chrono::Utc::now().timestamp() + 30 * 86_400)).abs() < 60,
        "{exp}"
    );
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_trials_and_trials_past_the_quota_are_refused_with_the_numbers() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;

    let refused = app
        .say_expecting(ALICE, "/trial demo.long 73", "trial")
        .await;
    assert!(
        refused
            .text
            .ends_with("A trial lasts 1 to 72 hours; you asked for 73."),
        "{}",
        refused.text
    );
    let refused = app
        .say_expecting(ALICE, "/trial demo.long soon", "hours")
        .await;
    assert!(refused.text.contains("you gave soon"), "{}", refused.text);

    // Basic allows 5 trials a day.
    for i in 0..5 {
        let card = app
            .say_expecting(ALICE, &format!("/trial demo{i} 2"), "Create trial")
            .await;
        let done = app.press(ALICE, &card, "Confirm").await;
        assert!(done.text.contains("✅ Trial"), "{}", done.text);
    }
    let first = app
        .core
        .scalar_for_tests("SELECT MIN(created_at) FROM trials")
        .await;
    let next = chrono::DateTime::from_timestamp((first + 86_400 + 59) / 60 * 60, 0)
        .unwrap()
        .format("%Y-%m-%d %H:%M UTC");
    let refused = app.say_expecting(ALICE, "/trial demo5", "trials").await;
    let expected = format!(
        "You have used 5 of your 5 trials in the last 24 hours; the next is possible at {next}."
    );
    assert!(refused.text.ends_with(&expected), "{}", refused.text);
    assert_eq!(
        app.core
            .scalar_for_tests("SELECT COUNT(*) FROM subscribers WHERE is_trial = 1")
            .await,
        5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trial_template_reseller_may_create_trials_but_not_paid_lines() {
    let app = TestApp::spawn().await;
    let created = app
        .say_expecting(ADMIN, "/newreseller tina Tina trial", "start=")
        .await;
    let welcome = app
        .say(TINA, &format!("/start {}", invite_code(&created.text)))
        .await;
    assert!(welcome.text.contains("Welcome"), "{}", welcome.text);
    app.grant("tina", 30).await;

    let refused = app
        .say_expecting(TINA, "/new 30 paid.user", "allowed")
        .await;
    assert!(
        refused.text.contains("You are not allowed to"),
        "{}",
        refused.text
    );
    let card = app
        .say_expecting(TINA, "/trial demo.tina 48", "Create trial")
        .await;
    let done = app.press(TINA, &card, "Confirm").await;
    assert!(
        done.text.contains("✅ Trial <b>demo.tina</b>"),
        "{}",
        done.text
    );
    assert!(done.text.contains("Password: <code>"), "{}", done.text);
    assert_eq!(
        app.core
            .scalar_for_tests("SELECT COUNT(*) FROM subscribers WHERE username = 'paid.user'")
            .await,
        0
    );
    assert_eq!(app.balance(TINA).await, 30);
}
