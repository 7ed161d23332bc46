//! The XUI.one-compatible reseller API (`/api/xui/`): XUI's actions, field names and status
//! strings over the same rules and ledger as the bot and `/api/v1`.

use crate::api::api_reseller;
use crate::support::TestApp;
use reqwest::StatusCode;
use serde_json::Value;

const ALICE: i64 = 6_001;
const BOB: i64 = 6_002;

/// `action` with form fields `fields`, POSTed as XUI tools do; (HTTP status, body).
async fn xui(
    app: &TestApp,
    key: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("http://{}/api/xui/", app.http))
        .query(&[("api_key", key), ("action", action)])
        .form(fields)
        .send()
        .await
        .expect("the API answers");
    (response.status(), response.json().await.expect("JSON"))
}

async fn ok(app: &TestApp, key: &str, action: &str, fields: &[(&str, &str)]) -> Value {
    let (status, body) = xui(app, key, action, fields).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("STATUS_SUCCESS")),
        "{body}"
    );
    body["data"].clone()
}

fn number(v: &Value) -> i64 {
    v.as_str()
        .expect("XUI numbers are strings")
        .parse()
        .expect("a number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_line_get_lines_and_edit_line_answer_in_xuis_shapes() {
    let app = TestApp::spawn().await;
    let key = api_reseller(&app, "alice", ALICE, 100).await;

    let me = ok(&app, &key, "user_info", &[]).await;
    assert_eq!(
        (me["username"].as_str(), me["credits"].as_str()),
        (Some("alice"), Some("100"))
    );
    let packages = ok(&app, &key, "packages", &[]).await;
    assert_eq!(packages[0]["id"], "1");
    assert_eq!(packages[0]["official_duration"], "30");
    assert_eq!(packages[0]["official_credits"], "30");

    let created = ok(
        &app,
        &key,
        "create_line",
        &[("username", "xui.line"), ("package", "1")],
    )
    .await;
    let id = created["line_id"].as_str().expect("line_id").to_string();
    assert_eq!(created["username"], "xui.line");
    let password = created["password"].as_str().expect("password").to_string();
    assert_eq!(ok(&app, &key, "user_info", &[]).await["credits"], "70");

    // The line is real: a player logs in with what XUI answered.
    let login: Value = reqwest::Client::new()
        .get(format!("http://{}/player_api.php", app.http))
        .query(&[("username", "xui.line"), ("password", password.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(login["user_info"]["auth"], 1, "{login}");

    let lines = ok(&app, &key, "get_lines", &[]).await;
    let lines = lines.as_array().expect("a list of lines");
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["id"], id.as_str());
    assert_eq!(
        (lines[0]["enabled"].as_str(), lines[0]["is_trial"].as_str()),
        (Some("1"), Some("0"))
    );
    assert_eq!(lines[0]["password"], password.as_str());
    let expiry = number(&lines[0]["exp_date"]);
    assert!((expiry - (chrono::Utc::now().timestamp() + 30 * 86_400)).abs() < 60);

    let edited = ok(&app, &key, "edit_line", &[("id", &id), ("package", "1")]).await;
    assert_eq!(number(&edited["exp_date"]), expiry + 30 * 86_400);
    assert_eq!(ok(&app, &key, "user_info", &[]).await["credits"], "40");

    ok(&app, &key, "disable_line", &[("id", &id)]).await;
    assert_eq!(
        ok(&app, &key, "get_line", &[("id", &id)]).await["enabled"],
        "0"
    );
    ok(&app, &key, "enable_line", &[("id", &id)]).await;
    assert_eq!(
        ok(&app, &key, "get_line", &[("id", &id)]).await["enabled"],
        "1"
    );
    ok(&app, &key, "delete_line", &[("id", &id)]).await;
    assert_eq!(ok(&app, &key, "get_lines", &[]).await, Value::Array(vec![]));
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_carry_xuis_status_strings_and_change_nothing() {
    let app = TestApp::spawn().await;
    let key = api_reseller(&app, "alice", ALICE, 100).await;
    let bob = api_reseller(&app, "bob", BOB, 100).await;

    // 12 months cost 365 credits.
    let (status, body) = xui(
        &app,
        &key,
        "create_line",
        &[("username", "too.long"), ("package", "4")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "STATUS_INSUFFICIENT_CREDITS", "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("You need 365 credits"),
        "{body}"
    );

    ok(
        &app,
        &key,
        "create_line",
        &[("username", "taken.name"), ("package", "1")],
    )
    .await;
    let (_, body) = xui(
        &app,
        &bob,
        "create_line",
        &[("username", "taken.name"), ("package", "1")],
    )
    .await;
    assert_eq!(body["status"], "STATUS_EXISTS_USERNAME", "{body}");

    let (_, body) = xui(
        &app,
        &key,
        "create_line",
        &[("username", "no.package"), ("package", "9")],
    )
    .await;
    assert_eq!(body["status"], "STATUS_INVALID_INPUT", "{body}");

    // Bob cannot see or touch Alice's line by its id.
    let id = ok(&app, &key, "get_lines", &[]).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, body) = xui(&app, &bob, "delete_line", &[("id", &id)]).await;
    assert_eq!(body["status"], "STATUS_FAILURE", "{body}");
    assert_eq!(
        ok(&app, &key, "get_line", &[("id", &id)]).await["username"],
        "taken.name"
    );

    let (status, body) = xui(&app, "rb_nothing_here", "user_info", &[]).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("STATUS_INVALID_KEY"))
    );

    assert_eq!(ok(&app, &key, "user_info", &[]).await["credits"], "70");
    assert_eq!(ok(&app, &bob, "user_info", &[]).await["credits"], "100");
    app.assert_ledger_sound().await;
}
