//! The Xtream-compatible `player_api.php`: what a player sees after each change made in the bot.

use crate::support::{ADMIN, TestApp};
use serde_json::Value;

const ALICE: i64 = 2_001;

async fn login(app: &TestApp, username: &str, password: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .get(format!("http://{}/player_api.php", app.http))
        .query(&[("username", username), ("password", password)])
        .send()
        .await
        .expect("answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn password(text: &str) -> String {
    text.split("Password: <code>")
        .nth(1)
        .and_then(|s| s.split("</code>").next())
        .expect("password")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn players_see_every_change_made_in_the_bot_at_once() {
    let app =
        TestApp::spawn_with(|s| s.stream_url = "http://stream.example.test:8081".parse().unwrap())
            .await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 100).await;
    let card = app.say_expecting(ALICE, "/new 30 viewer", "Create").await;
    let created = app.press(ALICE, &card, "Confirm").await;
    let pass = password(&created.text);

    let (status, body) = login(&app, "viewer", &pass).await;
    assert_eq!(status, 200);
    let user = &body["user_info"];
    assert_eq!(user["auth"], 1);
    assert_eq!(user["status"], "Active");
    assert_eq!(user["max_connections"], "3");
    let exp: i64 = user["exp_date"]
        .as_str()
        .expect("exp_date is a string")
        .parse()
        .unwrap();
    assert!(
        (exp - (chrono::Utc::now().timestamp() + 30 * 86_400)).abs() < 60,
        "{exp}"
    );
    assert_eq!(body["server_info"]["url"], "stream.example.test");
    assert_eq!(body["server_info"]["port"], "8081");
    assert_eq!(body["server_info"]["server_protocol"], "http");

    app.say_expecting(ALICE, "/disable viewer", "is now disabled")
        .await;
    assert_eq!(
        login(&app, "viewer", &pass).await.1["user_info"]["status"],
        "Disabled"
    );
    app.say_expecting(ALICE, "/enable viewer", "is now enabled")
        .await;
    assert_eq!(
        login(&app, "viewer", &pass).await.1["user_info"]["status"],
        "Active"
    );

    let extend = app
        .say_expecting(ALICE, "/extend viewer 10", "Extend")
        .await;
    app.press(ALICE, &extend, "Confirm").await;
    let exp2: i64 = login(&app, "viewer", &pass).await.1["user_info"]["exp_date"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(exp2 - exp, 10 * 86_400);

    let reset = app.say_expecting(ALICE, "/reset viewer", "Reset").await;
    let new_pass = password(&app.press(ALICE, &reset, "Confirm").await.text);
    assert_eq!(
        login(&app, "viewer", &pass).await.1["user_info"]["auth"],
        0,
        "the old password stops at once"
    );
    assert_eq!(
        login(&app, "viewer", &new_pass).await.1["user_info"]["auth"],
        1
    );

    app.core
        .set_expiry_for_tests("viewer", chrono::Utc::now() - chrono::Duration::days(1))
        .await;
    assert_eq!(
        login(&app, "viewer", &new_pass).await.1["user_info"]["status"],
        "Expired"
    );

    app.say_expecting(ADMIN, "/perm alice can_delete_users on", "is on")
        .await;
    let delete = app.say_expecting(ALICE, "/delete viewer", "Delete").await;
    app.press(ALICE, &delete, "Confirm").await;
    assert_eq!(
        login(&app, "viewer", &new_pass).await.1["user_info"]["auth"],
        0,
        "a deleted subscriber is refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_and_unknown_users_look_the_same_and_guessing_is_slowed() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 10).await;
    let card = app.say_expecting(ALICE, "/new 10 known", "Create").await;
    app.press(ALICE, &card, "Confirm").await;
    let wrong = login(&app, "known", "not-the-password").await;
    let unknown = login(&app, "nobody", "not-the-password").await;
    assert_eq!(wrong, unknown);
    assert_eq!(wrong.1, serde_json::json!({ "user_info": { "auth": 0 } }));
    let mut statuses = Vec::new();
    for i in 0..30 {
        statuses.push(login(&app, "known", &format!("guess{i}")).await.0);
    }
    assert!(
        statuses.contains(&429),
        "failed logins from one address are rate limited: {statuses:?}"
    );
}
