//! How updates reach the bot: by webhook (Telegram POSTs them, with the secret token), or by
//! long polling from exactly one instance; either way an update delivered twice is answered once.

use crate::support::{ADMIN, TestApp, WEBHOOK_SECRET, test_settings};
use crate::telegram::FakeTelegram;
use resellerbot::Application;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The replies `chat` got after the first `after` messages.
fn replies(app: &TestApp, chat: i64, after: usize) -> Vec<String> {
    app.tg
        .sent()
        .into_iter()
        .skip(after)
        .filter(|s| s.chat_id == chat)
        .map(|s| s.text)
        .collect()
}

/// Waits until the fake has delivered update `id` to the webhook `times` times with a 2xx.
async fn delivered(tg: &FakeTelegram, id: i64, times: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ok = tg
            .deliveries()
            .iter()
            .filter(|(update, status)| *update == id && (200..300).contains(status))
            .count();
        if ok >= times {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "update {id} was delivered {ok} times, not {times}: {:?}",
            tg.deliveries()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn webhook_mode_registers_its_webhook_and_answers_a_redelivered_update_once() {
    let app = TestApp::spawn_webhook(|s| s.telegram_webhook_max_connections = 7).await;
    let hook = app.tg.webhook().expect("the bot set its webhook");
    assert!(
        hook.url
            .starts_with(&format!("http://127.0.0.1:{}/telegram/", app.http.port())),
        "{}",
        hook.url
    );
    assert!(!hook.url.contains(WEBHOOK_SECRET), "{}", hook.url);
    assert_eq!(hook.secret_token.as_deref(), Some(WEBHOOK_SECRET));
    assert_eq!(
        hook.allowed_updates,
        ["message", "callback_query", "pre_checkout_query"]
    );
    assert_eq!(hook.max_connections, Some(7));

    let before = app.tg.sent().len();
    let first = app.tg.send_text(ADMIN, "/balance");
    app.tg.wait_for(ADMIN, before, "").await;
    delivered(&app.tg, first, 1).await;
    // Telegram delivers it again (it missed our 200, say); then a new message follows. One
    // chat's updates are handled in order, so had the copy been handled, its answer would come
    // before the second message's.
    app.tg.resend(first);
    delivered(&app.tg, first, 2).await;
    let second = app.tg.send_text(ADMIN, "/help");
    delivered(&app.tg, second, 1).await;
    app.tg.wait_for(ADMIN, before + 1, "").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        replies(&app, ADMIN, before).len(),
        2,
        "two updates, two answers: {:#?}",
        replies(&app, ADMIN, before)
    );
    assert_eq!(app.tg.calls("getUpdates"), 0, "a webhook bot never polls");
    assert_eq!(app.tg.calls("deleteWebhook"), 0);
}

#[tokio::test]
async fn a_webhook_update_without_the_secret_token_is_refused_and_not_handled() {
    let app = TestApp::spawn_webhook(|_| {}).await;
    let hook = app.tg.webhook().expect("the bot set its webhook");
    app.tg.start_chat(ADMIN);
    let update = json!({ "update_id": 4242, "message": {
        "message_id": 77, "date": chrono::Utc::now().timestamp(),
        "chat": { "id": ADMIN, "type": "private", "first_name": "Admin" },
        "from": { "id": ADMIN, "is_bot": false, "first_name": "Admin" },
        "text": "/balance",
        "entities": [{ "type": "bot_command", "offset": 0, "length": 8 }],
    }});
    let client = reqwest::Client::new();
    let post = |secret: Option<&str>| {
        let mut request = client.post(&hook.url).json(&update);
        if let Some(secret) = secret {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        request.send()
    };
    let before = app.tg.sent().len();
    for secret in [None, Some("wrong-secret-wrong-secret"), Some("")] {
        let response = post(secret).await.expect("the server answers");
        assert_eq!(response.status(), 401, "secret {secret:?}");
    }
    let wrong_path = client
        .post(format!("http://{}/telegram/0000", app.http))
        .header("X-Telegram-Bot-Api-Secret-Token", WEBHOOK_SECRET)
        .json(&update)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(wrong_path.status(), 404);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(replies(&app, ADMIN, before).is_empty());

    // The same update with the token is taken: the refused ones did not even record its id.
    let response = post(Some(WEBHOOK_SECRET))
        .await
        .expect("the server answers");
    assert_eq!(response.status(), 200);
    let reply = app.tg.wait_for(ADMIN, before, "").await;
    assert!(reply.text.contains("no balance"), "{}", reply.text);
    let again = post(Some(WEBHOOK_SECRET))
        .await
        .expect("the server answers");
    assert_eq!(again.status(), 200, "a redelivery is acknowledged");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(replies(&app, ADMIN, before).len(), 1);
}

#[tokio::test]
async fn polling_refuses_to_start_over_a_webhook_unless_told_to_delete_it() {
    let tg = Arc::new(FakeTelegram::start().await);
    tg.set_webhook("http://127.0.0.1:9/another-deployment");
    let settings = test_settings(&tg).await;
    let app = Application::build(&settings).await.expect("builds");
    let outcome = tokio::time::timeout(
        Duration::from_secs(20),
        app.run(std::future::pending::<()>()),
    )
    .await
    .expect("the app stops by itself");
    let error = format!("{:#}", outcome.expect_err("the app refuses to poll"));
    assert!(
        error.contains("a webhook is set for this bot")
            && error.contains("BOT_MODE=webhook")
            && error.contains("TELEGRAM_DELETE_WEBHOOK=true"),
        "{error}"
    );
    assert!(tg.webhook().is_some(), "the webhook is left alone");
    assert_eq!(tg.calls("deleteWebhook"), 0);
    assert_eq!(tg.calls("getUpdates"), 0);

    let mut settings = settings;
    settings.telegram_delete_webhook = true;
    let app = TestApp::boot(tg.clone(), settings).await;
    assert!(tg.webhook().is_none(), "the webhook was deleted");
    let reply = app.say(ADMIN, "/balance").await;
    assert!(reply.text.contains("no balance"), "{}", reply.text);
    assert_eq!(tg.conflicts(), 0);
}

#[tokio::test]
async fn one_instance_polls_and_another_takes_over_when_it_stops() {
    let first = TestApp::spawn().await;
    if !first.database_url().starts_with("postgres") {
        // One SQLite file is one process's: there is no second instance to keep from polling.
        return;
    }
    let second = first.peer().await;
    // The second instance tries for the lock every 2 s; give it time to try, and fail, twice.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(first.tg.conflicts(), 0, "only one instance polls");
    let tg = first.tg.clone();
    let before = tg.sent().len();
    let balance = tg.send_text(ADMIN, "/balance");
    tg.wait_for(ADMIN, before, "no balance").await;

    first.stop().await;
    let stopped = Instant::now();
    // Telegram hands the new poller what the old one had not confirmed (say, this update):
    // it is dropped, not answered again.
    tg.resend(balance);
    tg.send_text(ADMIN, "/help");
    tg.wait_for(ADMIN, before + 1, "").await;
    assert!(
        stopped.elapsed() < Duration::from_secs(8),
        "the second instance took {:?} to take over",
        stopped.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        replies(&second, ADMIN, before).len(),
        2,
        "one answer per message: {:#?}",
        replies(&second, ADMIN, before)
    );
    assert_eq!(tg.conflicts(), 0, "never two pollers at once");
}

#[tokio::test]
async fn a_poller_that_loses_its_lock_connection_stops_polling() {
    let first = TestApp::spawn().await;
    if !first.database_url().starts_with("postgres") {
        // SQLite has no lock to lose: its one process always polls.
        return;
    }
    let second = first.peer().await;
    // The poller's lock connection dies (a database failover, a network cut): another instance
    // may have the lock at once, so the poller must stop rather than poll beside it.
    first
        .core
        .tamper_for_tests(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' \
             AND granted AND database = (SELECT oid FROM pg_database \
             WHERE datname = current_database())",
        )
        .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let settled = first.tg.conflicts();
    let before = first.tg.sent().len();
    first.tg.send_text(ADMIN, "/balance");
    first.tg.wait_for(ADMIN, before, "no balance").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(replies(&second, ADMIN, before).len(), 1);
    assert_eq!(
        first.tg.conflicts(),
        settled,
        "one instance polls again once the lock changed hands"
    );
}
