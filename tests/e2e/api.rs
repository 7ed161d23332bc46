//! The reseller REST API (`/api/v1`) over real HTTP: changes with their ledger rows, replays
//! under one Idempotency-Key charging once, revoked keys, other resellers' subscribers, the
//! `can_api_access` permission, the per-key rate limit and the OpenAPI document.

use crate::support::{ADMIN, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const ALICE: i64 = 5_001;
const BOB: i64 = 5_002;

/// Reseller `name` (Telegram user `user`) allowed the API, with `credits` and a new key.
pub(crate) async fn api_reseller(app: &TestApp, name: &str, user: i64, credits: i64) -> String {
    app.reseller(name, user).await;
    // Basic resellers may not delete: these tests delete too.
    for permission in ["can_api_access", "can_delete_users"] {
        app.say_expecting(ADMIN, &format!("/perm {name} {permission} on"), "is on")
            .await;
    }
    if credits > 0 {
        app.grant(name, credits).await;
    }
    let reply = app.say_expecting(user, "/apikey new", "API key").await;
    reply
        .text
        .split("<code>")
        .nth(1)
        .and_then(|s| s.split("</code>").next())
        .expect("the key is shown")
        .to_string()
}

/// What an API answered.
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

async fn call(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    idempotency_key: Option<&str>,
) -> Answer {
    let mut request = reqwest::Client::new()
        .request(method, format!("http://{}/api/v1{path}", app.http))
        .bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(k) = idempotency_key {
        request = request.header("Idempotency-Key", k);
    }
    let response = request.send().await.expect("the API answers");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.expect("JSON");
    Answer {
        status,
        headers,
        body,
    }
}

async fn get(app: &TestApp, key: &str, path: &str) -> Answer {
    call(app, key, Method::GET, path, None, None).await
}

async fn post(app: &TestApp, key: &str, path: &str, body: Value) -> Answer {
    call(app, key, Method::POST, path, Some(body), None).await
}

async fn balance(app: &TestApp, key: &str) -> i64 {
    get(app, key, "/account").await.body["balance"]
        .as_i64()
        .expect("a balance")
}

/// The amounts of the caller's ledger rows, newest first.
async fn ledger(app: &TestApp, key: &str) -> Vec<(i64, String)> {
    let history = get(app, key, "/history").await.body;
    history["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            (
                e["amount"].as_i64().unwrap(),
                e["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_are_created_extended_reset_disabled_and_deleted_with_their_ledger_rows() {
    let app = TestApp::spawn().await;
    let key = api_reseller(&app, "alice", ALICE, 100).await;

    let created = post(
        &app,
        &key,
        "/subscribers",
        json!({"username": "api.one", "days": 30}),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["charged"], 30);
    assert_eq!(created.body["balance"], 70);
    let password = created.body["credentials"]["password"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(password.len() >= 8, "{}", created.body);

    let extended = post(
        &app,
        &key,
        "/subscribers/api.one/extend",
        json!({"days": 10}),
    )
    .await;
    assert_eq!(extended.status, StatusCode::OK, "{}", extended.body);
    assert_eq!(extended.body["balance"], 60);
    let line = get(&app, &key, "/subscribers/api.one").await.body;
    assert_eq!(line["days_left"], 39, "{line}");

    let reset = post(&app, &key, "/subscribers/api.one/reset", json!({})).await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    assert_ne!(reset.body["password"].as_str().unwrap(), password);

    let disabled = post(&app, &key, "/subscribers/api.one/disable", json!({})).await;
    assert_eq!(disabled.body["changed"], true, "{}", disabled.body);
    let line = get(&app, &key, "/subscribers/api.one").await.body;
    assert_eq!(line["status"], "disabled");
    let listed = get(&app, &key, "/subscribers?filter=disabled").await.body;
    assert_eq!(listed["total"], 1, "{listed}");

    // Not enough credits: the bot's sentence, with the numbers, and nothing charged.
    let refused = post(
        &app,
        &key,
        "/subscribers",
        json!({"username": "api.two", "days": 90}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(refused.code(), "insufficient_credits");
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("You need 90 credits") && message.contains("you have 60"),
        "{message}"
    );

    let deleted = call(
        &app,
        &key,
        Method::DELETE,
        "/subscribers/api.one",
        None,
        None,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    let gone = get(&app, &key, "/subscribers/api.one").await;
    assert_eq!(
        (gone.status, gone.code()),
        (StatusCode::NOT_FOUND, "not_found")
    );

    assert_eq!(balance(&app, &key).await, 60);
    assert_eq!(
        ledger(&app, &key).await,
        vec![
            (-10, "debit".into()),
            (-30, "debit".into()),
            (100, "credit".into())
        ]
    );
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_replayed_with_the_same_idempotency_key_charges_once() {
    let app = TestApp::spawn().await;
    let key = api_reseller(&app, "alice", ALICE, 100).await;
    let body = json!({"username": "once.only", "days": 30});

    let first = call(
        &app,
        &key,
        Method::POST,
        "/subscribers",
        Some(body.clone()),
        Some("order-17"),
    )
    .await;
    let again = call(
        &app,
        &key,
        Method::POST,
        "/subscribers",
        Some(body),
        Some("order-17"),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_eq!(first.body, again.body, "a replay answers the first result");
    assert!(first.headers.get("idempotent-replayed").is_none());
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(balance(&app, &key).await, 70, "charged once");
    assert_eq!(ledger(&app, &key).await.len(), 2, "one credit, one debit");

    // The same key for another request is a mistake, refused without a change.
    let other = json!({"username": "someone.else", "days": 5});
    let reused = call(
        &app,
        &key,
        Method::POST,
        "/subscribers",
        Some(other),
        Some("order-17"),
    )
    .await;
    assert_eq!(
        reused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reused.body
    );
    assert_eq!(reused.code(), "idempotency_key_reused");
    assert_eq!(balance(&app, &key).await, 70);
    app.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_is_refused_by_every_instance() {
    let app = TestApp::spawn().await;
    let key = api_reseller(&app, "alice", ALICE, 0).await;
    // A second instance (PostgreSQL: the scale-out database) has verified the key too.
    let peer = if app.database_url().starts_with("postgres") {
        Some(app.peer().await)
    } else {
        None
    };
    assert_eq!(get(&app, &key, "/account").await.status, StatusCode::OK);
    if let Some(peer) = &peer {
        assert_eq!(get(peer, &key, "/account").await.status, StatusCode::OK);
    }

    let prefix = key.split('_').nth(1).expect("a prefix");
    let listed = app.say_expecting(ALICE, "/apikey list", "API keys").await;
    assert!(
        listed.text.contains(prefix) && listed.text.contains("active"),
        "{}",
        listed.text
    );
    app.say_expecting(ALICE, &format!("/apikey revoke {prefix}"), "revoked")
        .await;

    let refused = get(&app, &key, "/account").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.code(), "invalid_api_key");
    if let Some(peer) = &peer {
        let refused = get(peer, &key, "/account").await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    }
    let no_key = reqwest::get(format!("http://{}/api/v1/account", app.http))
        .await
        .unwrap();
    assert_eq!(no_key.status(), StatusCode::UNAUTHORIZED);
    // Only an argon2id hash of the key is stored, never its secret.
    let secret = key.rsplit('_').next().expect("a secret");
    let hashed = "SELECT COUNT(*) FROM api_keys WHERE secret_hash LIKE '$argon2id$%'";
    assert_eq!(app.core.scalar_for_tests(hashed).await, 1);
    let leaked = format!(
        "SELECT (SELECT COUNT(*) FROM api_keys WHERE secret_hash LIKE '%{secret}%') \
         + (SELECT COUNT(*) FROM audit_log WHERE details LIKE '%{secret}%')"
    );
    assert_eq!(app.core.scalar_for_tests(&leaked).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_resellers_key_cannot_touch_anothers_subscribers() {
    let app = TestApp::spawn().await;
    let alice = api_reseller(&app, "alice", ALICE, 50).await;
    let bob = api_reseller(&app, "bob", BOB, 50).await;
    let created = post(
        &app,
        &bob,
        "/subscribers",
        json!({"username": "bobs.line", "days": 10}),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);

    for answer in [
        get(&app, &alice, "/subscribers/bobs.line").await,
        get(&app, &alice, "/subscribers/bobs.line/credentials").await,
        post(
            &app,
            &alice,
            "/subscribers/bobs.line/extend",
            json!({"days": 5}),
        )
        .await,
        post(&app, &alice, "/subscribers/bobs.line/disable", json!({})).await,
        call(
            &app,
            &alice,
            Method::DELETE,
            "/subscribers/bobs.line",
            None,
            None,
        )
        .await,
    ] {
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);
    }
    assert_eq!(get(&app, &alice, "/subscribers").await.body["total"], 0);
    assert_eq!(balance(&app, &alice).await, 50);
    let line = get(&app, &bob, "/subscribers/bobs.line").await.body;
    assert_eq!(
        (line["status"].as_str(), line["days_left"].as_i64()),
        (Some("active"), Some(9))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_a_reseller_without_api_access_is_refused() {
    let app = TestApp::spawn().await;
    let key = api_reseller(&app, "alice", ALICE, 0).await;
    assert_eq!(get(&app, &key, "/account").await.status, StatusCode::OK);

    app.say_expecting(ADMIN, "/perm alice can_api_access off", "is off")
        .await;
    let refused = get(&app, &key, "/account").await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    assert_eq!(
        refused.body["error"]["message"],
        "You are not allowed to use the API. Ask your admin to enable it."
    );
    let no_new_key = app.say_expecting(ALICE, "/apikey new", "not allowed").await;
    assert!(!no_new_key.text.contains("rb_"), "{}", no_new_key.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_the_keys_rate_are_refused_with_retry_after() {
    let app = TestApp::spawn_with(|s| {
        s.api.requests_per_minute = 1.try_into().unwrap();
        s.api.burst = 2.try_into().unwrap();
    })
    .await;
    let key = api_reseller(&app, "alice", ALICE, 0).await;
    assert_eq!(get(&app, &key, "/account").await.status, StatusCode::OK);
    assert_eq!(get(&app, &key, "/account").await.status, StatusCode::OK);
    let limited = get(&app, &key, "/account").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.code(), "rate_limited");
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_parses_and_lists_the_paths() {
    let app = TestApp::spawn().await;
    let doc: Value = reqwest::get(format!("http://{}/api/v1/openapi.json", app.http))
        .await
        .unwrap()
        .json()
        .await
        .expect("the document is JSON");
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/api/v1/account",
        "/api/v1/packages",
        "/api/v1/history",
        "/api/v1/subscribers",
        "/api/v1/trials",
        "/api/v1/subscribers/{username}",
        "/api/v1/subscribers/{username}/extend",
        "/api/v1/subscribers/{username}/reset",
        "/api/v1/subscribers/{username}/enable",
        "/api/v1/subscribers/{username}/disable",
        "/api/v1/subscribers/{username}/credentials",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from {:?}",
            paths.keys()
        );
    }
    assert!(paths["/api/v1/subscribers"]["post"]["responses"]["201"].is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}
