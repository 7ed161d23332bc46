//! An in-process fake of the Telegram Bot API: the app under test polls it for updates that the
//! tests queue (or, once it set a webhook, gets them POSTed), and every message the app sends is
//! recorded for the tests to read.
//!
//! It is as strict as Telegram, so that what the fake accepts Telegram accepts too: it refuses
//! invalid HTML, texts over 4,096 characters (captions over 1,024), and private chats whose user
//! never wrote to the bot, with the status and description Telegram answers with; getUpdates
//! answers 409 Conflict while a webhook is set or another getUpdates is in flight; a webhook
//! delivery that fails (not 2xx, or too slow) is made again.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// How long a test waits for the bot to answer before failing.
const PATIENCE: Duration = Duration::from_secs(20);
const BOT_ID: i64 = 999_000;

/// A message the bot sent or edited.
#[derive(Clone, Debug)]
pub struct Sent {
    pub chat_id: i64,
    pub message_id: i64,
    pub text: String,
    pub edited: bool,
    /// Inline keyboard, flattened: (label, callback data, or the URL of a link button).
    pub buttons: Vec<(String, String)>,
}

/// A file the bot uploaded with sendDocument or sendPhoto, as Telegram received it.
#[derive(Clone, Debug)]
pub struct Upload {
    pub method: String,
    pub chat_id: i64,
    pub file_name: String,
    pub bytes: Vec<u8>,
    pub caption: String,
}

impl Sent {
    /// The callback data of the first button whose label contains `label`.
    pub fn button(&self, label: &str) -> String {
        self.buttons
            .iter()
            .find(|(text, _)| text.contains(label))
            .map(|(_, data)| data.clone())
            .unwrap_or_else(|| {
                panic!(
                    "no button {label:?} on message {:?}; buttons: {:?}",
                    self.text, self.buttons
                )
            })
    }
}

#[derive(Default)]
struct Inner {
    next_update: i64,
    next_message: i64,
    /// Updates not yet confirmed by a `getUpdates` offset.
    pending: Vec<(i64, Value)>,
    /// Every update ever queued, for redelivery.
    queued: HashMap<i64, Value>,
    sent: Vec<Sent>,
    /// Files the bot uploaded (not those it sent again by file id).
    uploads: Vec<Upload>,
    answers: Vec<(String, Option<String>)>,
    /// answerPreCheckoutQuery calls: (query id, ok, error message).
    pre_checkout_answers: Vec<(String, bool, Option<String>)>,
    /// Uploaded files by file id, for getFile and downloads.
    files: HashMap<String, String>,
    calls: HashMap<String, usize>,
    /// Injected failures per method: how many calls are left to fail, and how.
    failures: HashMap<String, (usize, Failure)>,
    /// Users who wrote to the bot (sent any update), so the bot may message them.
    started: HashSet<i64>,
    /// Requests Telegram would have refused: (method, chat id, description).
    refused: Vec<(String, i64, String)>,
    /// When set, refundStarPayment answers 400 with this description.
    refund_error: Option<String>,
    /// The webhook set with setWebhook, if any.
    webhook: Option<Webhook>,
    /// Webhook deliveries made: (update id, HTTP status, or 0 when it failed or timed out).
    deliveries: Vec<(i64, u16)>,
    /// getUpdates calls in flight.
    polling: usize,
    /// getUpdates calls answered 409 Conflict.
    conflicts: usize,
}

/// A webhook as setWebhook registered it.
#[derive(Clone, Debug)]
pub struct Webhook {
    pub url: String,
    pub secret_token: Option<String>,
    pub allowed_updates: Vec<String>,
    pub max_connections: Option<i64>,
}

/// How long a webhook delivery may take before Telegram gives up on it and tries again.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(2);

/// A failure a test injects.
#[derive(Clone, Copy)]
enum Failure {
    /// 429 with `retry_after: 1`.
    TooManyRequests,
    /// 500, as Telegram answers when it has trouble of its own.
    ServerError,
}

struct Shared {
    inner: Mutex<Inner>,
    new_update: Notify,
}

pub struct FakeTelegram {
    shared: Arc<Shared>,
    url: String,
}

impl FakeTelegram {
    pub const BOT_USERNAME: &'static str = "resellerbot_test_bot";

    pub async fn start() -> FakeTelegram {
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                next_update: 1,
                next_message: 1,
                ..Default::default()
            }),
            new_update: Notify::new(),
        });
        let router = Router::new()
            .route("/{token}/{method}", axum::routing::post(handle))
            .route("/file/{token}/{path}", axum::routing::get(download))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake Telegram binds");
        let url = format!("http://{}/", listener.local_addr().expect("has an address"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        tokio::spawn(deliver(shared.clone()));
        FakeTelegram { shared, url }
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.inner.lock().expect("fake Telegram state")
    }

    fn queue(&self, build: impl FnOnce(i64, &mut Inner) -> Value) -> i64 {
        let id = {
            let mut inner = self.lock();
            let id = inner.next_update;
            inner.next_update += 1;
            let update = build(id, &mut inner);
            if let Some(user) = sender(&update) {
                inner.started.insert(user);
            }
            inner.queued.insert(id, update.clone());
            inner.pending.push((id, update));
            id
        };
        self.shared.new_update.notify_waiters();
        id
    }

    /// A private text message from `user`; returns its update id.
    pub fn send_text(&self, user: i64, text: &str) -> i64 {
        self.queue(|id, inner| {
            let message_id = inner.next_message;
            inner.next_message += 1;
            let mut message = json!({
                "message_id": message_id,
                "date": now(),
                "chat": chat(user),
                "from": user_json(user),
                "text": text,
            });
            if text.starts_with('/') {
                let len = text
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .encode_utf16()
                    .count();
                message["entities"] =
                    json!([{ "type": "bot_command", "offset": 0, "length": len }]);
            }
            json!({ "update_id": id, "message": message })
        })
    }

    /// Delivers update `update_id` again under a new update id, as Telegram does when the bot
    /// crashed before confirming it.
    pub fn redeliver(&self, update_id: i64) {
        self.queue(|id, inner| {
            let mut update = inner
                .queued
                .get(&update_id)
                .cloned()
                .expect("update was queued");
            update["update_id"] = json!(id);
            update
        });
    }

    /// Delivers update `update_id` again as it was, same id and all, as Telegram does when it
    /// did not get a 2xx in time from the webhook or a poller did not confirm it.
    pub fn resend(&self, update_id: i64) {
        {
            let mut inner = self.lock();
            let update = inner
                .queued
                .get(&update_id)
                .cloned()
                .expect("update was queued");
            inner.pending.push((update_id, update));
        }
        self.shared.new_update.notify_waiters();
    }

    /// A webhook set for the bot before the test, as another deployment of it would have.
    pub fn set_webhook(&self, url: &str) {
        self.lock().webhook = Some(Webhook {
            url: url.to_string(),
            secret_token: None,
            allowed_updates: Vec::new(),
            max_connections: None,
        });
    }

    /// The webhook the bot set, if any.
    pub fn webhook(&self) -> Option<Webhook> {
        self.lock().webhook.clone()
    }

    /// Webhook deliveries so far: (update id, HTTP status, 0 for none).
    pub fn deliveries(&self) -> Vec<(i64, u16)> {
        self.lock().deliveries.clone()
    }

    /// How many getUpdates calls were answered 409 Conflict.
    pub fn conflicts(&self) -> usize {
        self.lock().conflicts
    }

    /// A photo (say, a payment receipt) from `user`.
    pub fn send_photo(&self, user: i64, file_id: &str) {
        self.queue(|id, inner| {
            let message_id = inner.next_message;
            inner.next_message += 1;
            json!({ "update_id": id, "message": {
                "message_id": message_id, "date": now(), "chat": chat(user), "from": user_json(user),
                "photo": [{ "file_id": file_id, "file_unique_id": format!("u{file_id}"), "width": 800, "height": 600 }],
            }})
        });
    }

    /// A file from `user` with `caption`, as when an admin uploads a playlist.
    pub fn send_document(&self, user: i64, file_name: &str, content: &str, caption: &str) {
        self.queue(|id, inner| {
            let file_id = format!("doc{id}");
            inner.files.insert(file_id.clone(), content.to_string());
            let message_id = inner.next_message;
            inner.next_message += 1;
            json!({ "update_id": id, "message": {
                "message_id": message_id, "date": now(), "chat": chat(user), "from": user_json(user),
                "document": { "file_id": file_id, "file_unique_id": format!("u{file_id}"), "file_name": file_name, "file_size": content.len() },
                "caption": caption,
            }})
        });
    }

    /// Telegram asking whether `user` may pay `amount` Stars for invoice `payload`.
    pub fn pre_checkout(&self, user: i64, payload: &str, amount: i64) -> String {
        let id = self.queue(|id, _| {
            json!({ "update_id": id, "pre_checkout_query": {
                "id": format!("pcq{id}"), "from": user_json(user), "currency": "XTR",
                "total_amount": amount, "invoice_payload": payload,
            }})
        });
        format!("pcq{id}")
    }

    /// The service message Telegram sends once `user` paid `amount` Stars for `payload`.
    pub fn stars_paid(&self, user: i64, payload: &str, amount: i64, charge_id: &str) {
        self.queue(|id, inner| {
            let message_id = inner.next_message;
            inner.next_message += 1;
            json!({ "update_id": id, "message": {
                "message_id": message_id, "date": now(), "chat": chat(user), "from": user_json(user),
                "successful_payment": {
                    "currency": "XTR", "total_amount": amount, "invoice_payload": payload,
                    "telegram_payment_charge_id": charge_id, "provider_payment_charge_id": "",
                },
            }})
        });
    }

    pub fn pre_checkout_answers(&self) -> Vec<(String, bool, Option<String>)> {
        self.lock().pre_checkout_answers.clone()
    }

    /// `user` presses a button carrying `data` on message `message_id` of their chat.
    pub fn press(&self, user: i64, message_id: i64, data: &str) -> String {
        let id = self.queue(|id, _| {
            json!({
                "update_id": id,
                "callback_query": {
                    "id": format!("{id}"),
                    "from": user_json(user),
                    "chat_instance": format!("ci{user}"),
                    "data": data,
                    "message": {
                        "message_id": message_id,
                        "date": now(),
                        "chat": chat(user),
                        "from": bot_user(),
                        "text": "…",
                    },
                },
            })
        });
        id.to_string()
    }

    /// The next `n` calls of `method` get a 429 with `retry_after: 1`.
    pub fn fail_next(&self, method: &str, n: usize) {
        self.lock()
            .failures
            .insert(method.to_ascii_lowercase(), (n, Failure::TooManyRequests));
    }

    /// The next `n` calls of `method` get a 500 Internal Server Error.
    pub fn break_next(&self, method: &str, n: usize) {
        self.lock()
            .failures
            .insert(method.to_ascii_lowercase(), (n, Failure::ServerError));
    }

    /// `user` has pressed Start before the test begins (as every admin of a running bot has).
    pub fn start_chat(&self, user: i64) {
        self.lock().started.insert(user);
    }

    /// `user` never opened the bot, as an admin listed in the settings may not have.
    pub fn never_started(&self, user: i64) {
        self.lock().started.remove(&user);
    }

    /// Every request refused as Telegram would: (method, chat id, description).
    pub fn refused(&self) -> Vec<(String, i64, String)> {
        self.lock().refused.clone()
    }

    /// From now on refundStarPayment fails with a 400 and `description`, as Telegram answers
    /// `Bad Request: CHARGE_ALREADY_REFUNDED` for a charge refunded before.
    pub fn refuse_refunds(&self, description: &str) {
        self.lock().refund_error = Some(description.to_string());
    }

    /// Every file the bot uploaded, oldest first.
    pub fn uploads(&self) -> Vec<Upload> {
        self.lock().uploads.clone()
    }

    pub fn sent(&self) -> Vec<Sent> {
        self.lock().sent.clone()
    }

    pub fn callback_answers(&self) -> Vec<(String, Option<String>)> {
        self.lock().answers.clone()
    }

    pub fn calls(&self, method: &str) -> usize {
        self.lock()
            .calls
            .get(&method.to_ascii_lowercase())
            .copied()
            .unwrap_or(0)
    }

    /// The first message to `chat` after the first `after` ones whose text contains `needle`.
    pub async fn wait_for(&self, chat: i64, after: usize, needle: &str) -> Sent {
        self.wait(
            chat,
            after,
            |s| s.text.contains(needle),
            &format!("a message containing {needle:?}"),
        )
        .await
    }

    /// The first edit of `message_id` in `chat` after the first `after` messages.
    pub async fn wait_for_edit(&self, chat: i64, message_id: i64, after: usize) -> Sent {
        self.wait(
            chat,
            after,
            |s| s.edited && s.message_id == message_id,
            &format!("an edit of message {message_id}"),
        )
        .await
    }

    async fn wait(
        &self,
        chat: i64,
        after: usize,
        matches: impl Fn(&Sent) -> bool,
        what: &str,
    ) -> Sent {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(found) = self
                .lock()
                .sent
                .iter()
                .skip(after)
                .find(|s| s.chat_id == chat && matches(s))
            {
                return found.clone();
            }
            if tokio::time::Instant::now() > deadline {
                let texts: Vec<String> = self
                    .sent()
                    .into_iter()
                    .filter(|s| s.chat_id == chat)
                    .map(|s| s.text)
                    .collect();
                panic!("chat {chat} never got {what}; it got: {texts:#?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The user an update comes from.
fn sender(update: &Value) -> Option<i64> {
    ["message", "callback_query", "pre_checkout_query"]
        .iter()
        .find_map(|kind| update[*kind]["from"]["id"].as_i64())
}

fn chat(user: i64) -> Value {
    json!({ "id": user, "type": "private", "first_name": format!("User{user}") })
}

fn user_json(user: i64) -> Value {
    json!({ "id": user, "is_bot": false, "first_name": format!("User{user}"), "language_code": "en" })
}

fn bot_user() -> Value {
    json!({
        "id": BOT_ID,
        "is_bot": true,
        "first_name": "Reseller Bot",
        "username": FakeTelegram::BOT_USERNAME,
        "can_join_groups": true,
        "can_read_all_group_messages": false,
        "supports_inline_queries": false,
        "has_main_web_app": false,
    })
}

/// The inline keyboard of a request, flattened to (label, callback data).
fn buttons(params: &Value) -> Vec<(String, String)> {
    params["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .map(|b| {
            (
                b["text"].as_str().unwrap_or_default().to_string(),
                b["callback_data"]
                    .as_str()
                    .or(b["url"].as_str())
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

/// Serves an uploaded file's content, as Telegram's file download does.
async fn download(
    State(shared): State<Arc<Shared>>,
    Path((_token, path)): Path<(String, String)>,
) -> Response {
    match shared
        .inner
        .lock()
        .expect("fake Telegram state")
        .files
        .get(&path)
    {
        Some(content) => content.clone().into_response(),
        None => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

fn ok(result: Value) -> Response {
    axum::Json(json!({ "ok": true, "result": result })).into_response()
}

/// An error answer in Telegram's shape.
fn refuse(status: u16, description: &str) -> Response {
    let status = axum::http::StatusCode::from_u16(status).expect("a valid status");
    let body = json!({ "ok": false, "error_code": status.as_u16(), "description": description });
    (status, axum::Json(body)).into_response()
}

/// What Telegram checks before it accepts a message: that a private chat's user started the
/// bot, that HTML parses, and that the text (after parsing) fits. `Err` is (status, description).
fn check_outgoing(inner: &Inner, method: &str, params: &Value) -> Result<(), (u16, String)> {
    let chat_id = int(&params["chat_id"]).unwrap_or_default();
    // Positive ids are private chats; an edit is of a message already in the chat.
    if chat_id > 0 && method != "editmessagetext" && !inner.started.contains(&chat_id) {
        return Err((
            403,
            "Forbidden: bot can't initiate conversation with a user".into(),
        ));
    }
    let (field, max, too_long) = match method {
        "sendmessage" => ("text", 4096, "Bad Request: message is too long"),
        "editmessagetext" => ("text", 4096, "Bad Request: MESSAGE_TOO_LONG"),
        "sendphoto" | "senddocument" => {
            ("caption", 1024, "Bad Request: message caption is too long")
        }
        _ => return Ok(()),
    };
    let raw = params[field].as_str().unwrap_or_default();
    let visible = if params["parse_mode"].as_str() == Some("HTML") {
        crate::telegram_html::parse(raw)
            .map_err(|e| (400, format!("Bad Request: can't parse entities: {e}")))?
    } else {
        raw.to_string()
    };
    if field == "text" && visible.trim().is_empty() {
        return Err((400, "Bad Request: message text is empty".into()));
    }
    if visible.encode_utf16().count() > max {
        return Err((400, too_long.into()));
    }
    Ok(())
}

fn int(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// The fields of a multipart/form-data body (teloxide sends files, even by id, this way), as a
/// JSON object, and the files in it as (field, file name, bytes). Fields that hold JSON (a reply
/// markup) are parsed.
fn multipart_fields(content_type: &str, body: &[u8]) -> (Value, Vec<(String, String, Vec<u8>)>) {
    let mut fields = serde_json::Map::new();
    let mut files = Vec::new();
    let Some(boundary) = content_type.split("boundary=").nth(1) else {
        return (json!({}), files);
    };
    let delimiter = format!("--{}", boundary.trim_matches('"')).into_bytes();
    for part in split_bytes(body, &delimiter) {
        let Some(head_end) = find(part, b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..head_end]);
        let mut value = &part[head_end + 4..];
        if value.ends_with(b"\r\n") {
            value = &value[..value.len() - 2];
        }
        let quoted = |key: &str| {
            head.split(&format!("{key}=\""))
                .nth(1)
                .and_then(|n| n.split('"').next())
                .map(str::to_string)
        };
        let Some(name) = quoted(" name") else {
            continue;
        };
        if let Some(file_name) = quoted("filename") {
            files.push((name, file_name, value.to_vec()));
            continue;
        }
        let text = String::from_utf8_lossy(value).to_string();
        let parsed = serde_json::from_str(&text).unwrap_or(Value::String(text));
        fields.insert(name, parsed);
    }
    (Value::Object(fields), files)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The pieces of `body` between occurrences of `delimiter`.
fn split_bytes<'a>(mut body: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    while let Some(at) = find(body, delimiter) {
        parts.push(&body[..at]);
        body = &body[at + delimiter.len()..];
    }
    parts.push(body);
    parts
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    Path((_token, method)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let method = method.to_ascii_lowercase();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let (params, files) = if content_type.starts_with("multipart/form-data") {
        multipart_fields(content_type, &body)
    } else {
        (
            serde_json::from_slice(&body).unwrap_or_else(|_| json!({})),
            Vec::new(),
        )
    };
    {
        let mut inner = shared.inner.lock().expect("fake Telegram state");
        *inner.calls.entry(method.clone()).or_default() += 1;
        if let Some((left, failure)) = inner.failures.get_mut(&method).filter(|f| f.0 > 0) {
            *left -= 1;
            return match failure {
                Failure::TooManyRequests => {
                    let body = json!({
                        "ok": false,
                        "error_code": 429,
                        "description": "Too Many Requests: retry after 1",
                        "parameters": { "retry_after": 1 },
                    });
                    (axum::http::StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response()
                }
                Failure::ServerError => refuse(500, "Internal Server Error"),
            };
        }
        if let Err((status, description)) = check_outgoing(&inner, &method, &params) {
            let chat_id = int(&params["chat_id"]).unwrap_or_default();
            eprintln!("fake Telegram refused {method} to {chat_id}: {description}");
            inner
                .refused
                .push((method.clone(), chat_id, description.clone()));
            return refuse(status, &description);
        }
    }
    if method == "refundstarpayment"
        && let Some(description) = shared
            .inner
            .lock()
            .expect("fake Telegram state")
            .refund_error
            .clone()
    {
        let body = json!({ "ok": false, "error_code": 400, "description": description });
        return (axum::http::StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    }
    match method.as_str() {
        "getme" => ok(bot_user()),
        "getupdates" => get_updates(&shared, &params).await,
        "setwebhook" => {
            let url = params["url"].as_str().unwrap_or_default().to_string();
            let webhook = Webhook {
                url: url.clone(),
                secret_token: params["secret_token"].as_str().map(str::to_string),
                allowed_updates: params["allowed_updates"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|u| u.as_str().map(str::to_string))
                    .collect(),
                max_connections: int(&params["max_connections"]),
            };
            let mut inner = shared.inner.lock().expect("fake Telegram state");
            inner.webhook = (!url.is_empty()).then_some(webhook);
            ok(json!(true))
        }
        "deletewebhook" => {
            shared.inner.lock().expect("fake Telegram state").webhook = None;
            ok(json!(true))
        }
        "getwebhookinfo" => {
            let inner = shared.inner.lock().expect("fake Telegram state");
            let url = inner.webhook.as_ref().map_or("", |w| w.url.as_str());
            let pending = if url.is_empty() {
                0
            } else {
                inner.pending.len()
            };
            ok(json!({
                "url": url,
                "has_custom_certificate": false,
                "pending_update_count": pending,
            }))
        }
        "sendmessage" | "editmessagetext" => {
            let edited = method == "editmessagetext";
            let chat_id = int(&params["chat_id"]).unwrap_or_default();
            let text = params["text"].as_str().unwrap_or_default().to_string();
            let buttons = buttons(&params);
            let mut inner = shared.inner.lock().expect("fake Telegram state");
            let message_id = if edited {
                int(&params["message_id"]).unwrap_or_default()
            } else {
                inner.next_message += 1;
                inner.next_message
            };
            inner.sent.push(Sent {
                chat_id,
                message_id,
                text: text.clone(),
                edited,
                buttons,
            });
            let mut message = json!({
                "message_id": message_id,
                "date": now(),
                "chat": chat(chat_id),
                "from": bot_user(),
                "text": text,
            });
            if !params["reply_markup"].is_null() {
                message["reply_markup"] = params["reply_markup"].clone();
            }
            ok(message)
        }
        "sendphoto" | "senddocument" | "sendinvoice" => {
            let chat_id = int(&params["chat_id"]).unwrap_or_default();
            let text = if method != "sendinvoice" {
                params["caption"].as_str().unwrap_or_default().to_string()
            } else {
                format!(
                    "invoice {} {} {}",
                    params["payload"].as_str().unwrap_or_default(),
                    params["currency"].as_str().unwrap_or_default(),
                    params["prices"][0]["amount"]
                )
            };
            let buttons = buttons(&params);
            let mut inner = shared.inner.lock().expect("fake Telegram state");
            for (_, file_name, bytes) in files {
                inner.uploads.push(Upload {
                    method: method.clone(),
                    chat_id,
                    file_name,
                    bytes,
                    caption: text.clone(),
                });
            }
            inner.next_message += 1;
            let message_id = inner.next_message;
            inner.sent.push(Sent {
                chat_id,
                message_id,
                text,
                edited: false,
                buttons,
            });
            let mut message = json!({ "message_id": message_id, "date": now(), "chat": chat(chat_id), "from": bot_user() });
            if method == "senddocument" {
                message["document"] = json!({ "file_id": format!("d{message_id}"), "file_unique_id": format!("ud{message_id}") });
            } else {
                message["photo"] =
                    json!([{ "file_id": "f", "file_unique_id": "uf", "width": 1, "height": 1 }]);
            }
            ok(message)
        }
        "getfile" => {
            let file_id = params["file_id"].as_str().unwrap_or_default().to_string();
            let size = shared
                .inner
                .lock()
                .expect("fake Telegram state")
                .files
                .get(&file_id)
                .map_or(0, String::len);
            ok(
                json!({ "file_id": file_id, "file_unique_id": format!("u{file_id}"), "file_size": size, "file_path": file_id }),
            )
        }
        "answerprecheckoutquery" => {
            let id = params["pre_checkout_query_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let error = params["error_message"].as_str().map(str::to_string);
            let ok_flag = params["ok"].as_bool().unwrap_or(false);
            shared
                .inner
                .lock()
                .expect("fake Telegram state")
                .pre_checkout_answers
                .push((id, ok_flag, error));
            ok(json!(true))
        }
        "answercallbackquery" => {
            let id = params["callback_query_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let text = params["text"].as_str().map(str::to_string);
            shared
                .inner
                .lock()
                .expect("fake Telegram state")
                .answers
                .push((id, text));
            ok(json!(true))
        }
        _ => ok(json!(true)),
    }
}

/// Marks a getUpdates call in flight until it is answered or its client goes away.
struct InFlight<'a>(&'a Shared);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.inner.lock().expect("fake Telegram state").polling -= 1;
    }
}

async fn get_updates(shared: &Shared, params: &Value) -> Response {
    let _in_flight = {
        let mut inner = shared.inner.lock().expect("fake Telegram state");
        let conflict = if inner.webhook.is_some() {
            Some(
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
            )
        } else if inner.polling > 0 {
            Some(
                "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
            )
        } else {
            None
        };
        if let Some(description) = conflict {
            inner.conflicts += 1;
            eprintln!("fake Telegram refused getUpdates: {description}");
            return refuse(409, description);
        }
        inner.polling += 1;
        InFlight(shared)
    };
    let offset = int(&params["offset"]);
    let limit = int(&params["limit"]).unwrap_or(100).clamp(1, 100) as usize;
    let timeout = int(&params["timeout"]).unwrap_or(0);
    let take = |inner: &mut Inner| -> Vec<Value> {
        if let Some(offset) = offset {
            inner.pending.retain(|(id, _)| *id >= offset);
        }
        inner
            .pending
            .iter()
            .take(limit)
            .map(|(_, u)| u.clone())
            .collect()
    };
    let notified = shared.new_update.notified();
    let ready = take(&mut shared.inner.lock().expect("fake Telegram state"));
    if !ready.is_empty() || timeout == 0 {
        return ok(Value::Array(ready));
    }
    // Long poll: wait for a new update, but not so long that shutdowns in tests drag.
    let _ = tokio::time::timeout(Duration::from_millis(500), notified).await;
    ok(Value::Array(take(
        &mut shared.inner.lock().expect("fake Telegram state"),
    )))
}

/// Telegram's side of a webhook: POSTs the oldest pending update to the webhook with its secret
/// token, drops it on a 2xx and tries it again otherwise, one at a time, in order.
async fn deliver(shared: Arc<Shared>) {
    let client = reqwest::Client::new();
    loop {
        let next = {
            let inner = shared.inner.lock().expect("fake Telegram state");
            inner.webhook.clone().zip(inner.pending.first().cloned())
        };
        let Some((webhook, (id, update))) = next else {
            let _ =
                tokio::time::timeout(Duration::from_millis(50), shared.new_update.notified()).await;
            continue;
        };
        let mut request = client
            .post(&webhook.url)
            .timeout(DELIVERY_TIMEOUT)
            .json(&update);
        if let Some(secret) = &webhook.secret_token {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        let status = request.send().await.map_or(0, |r| r.status().as_u16());
        let delivered = (200..300).contains(&status);
        {
            let mut inner = shared.inner.lock().expect("fake Telegram state");
            inner.deliveries.push((id, status));
            if delivered && inner.pending.first().is_some_and(|(first, _)| *first == id) {
                inner.pending.remove(0);
            }
        }
        if !delivered {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
