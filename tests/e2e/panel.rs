//! A stand-in for the operator's existing panel: receives resellerbot's signed webhook events
//! or Xtream admin API calls, and can be down or refuse.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Up,
    Down,
    /// Refuses creations (the username is taken there).
    RefuseCreates,
    /// Takes requests and never answers, as a panel that hangs mid-delivery.
    Hang,
    /// Answers every request with this HTTP status (a wrong secret or path, say).
    Status(u16),
    /// Up, but takes this many milliseconds over each request, as a loaded panel does.
    Slow(u64),
}

struct Inner {
    mode: Mode,
    /// Requests that arrived, answered or not.
    attempts: usize,
    /// Received events (webhook bodies, or Xtream calls as JSON), with their headers.
    received: Vec<(HeaderMap, Value)>,
}

pub struct FakePanel {
    inner: Arc<Mutex<Inner>>,
    pub url: String,
}

impl FakePanel {
    pub async fn start() -> FakePanel {
        let inner = Arc::new(Mutex::new(Inner {
            mode: Mode::Up,
            attempts: 0,
            received: Vec::new(),
        }));
        let router = Router::new()
            .route("/events", axum::routing::post(event))
            .route("/api/", axum::routing::get(xtream))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        FakePanel { inner, url }
    }

    pub fn set(&self, mode: Mode) {
        self.inner.lock().unwrap().mode = mode;
    }

    pub fn attempts(&self) -> usize {
        self.inner.lock().unwrap().attempts
    }

    pub fn received(&self) -> Vec<(HeaderMap, Value)> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Waits until `n` events arrived; returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<(HeaderMap, Value)> {
        for _ in 0..1000 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!(
            "the panel got {} of {n} events: {:?}",
            self.received().len(),
            self.received().iter().map(|r| &r.1).collect::<Vec<_>>()
        );
    }
}

async fn event(
    State(shared): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let mode = {
        let mut inner = shared.lock().unwrap();
        inner.attempts += 1;
        inner.mode
    };
    match mode {
        Mode::Hang => std::future::pending::<()>().await,
        Mode::Slow(ms) => tokio::time::sleep(std::time::Duration::from_millis(ms)).await,
        _ => {}
    }
    let mut inner = shared.lock().unwrap();
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    match inner.mode {
        Mode::Down => return (StatusCode::SERVICE_UNAVAILABLE, "maintenance").into_response(),
        Mode::RefuseCreates if v["type"] == "subscriber.create" => {
            return (StatusCode::CONFLICT, "username already exists").into_response();
        }
        Mode::Status(code) => return status(code),
        Mode::Up | Mode::RefuseCreates | Mode::Hang | Mode::Slow(_) => {}
    }
    let mut h = headers.clone();
    h.insert("x-raw-body", body.parse().unwrap());
    inner.received.push((h, v));
    StatusCode::OK.into_response()
}

/// A hanging Xtream panel has applied the call before it stops answering: a crash there is
/// the ambiguous case, since this API takes no idempotency key.
async fn xtream(
    State(shared): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let hang = {
        let mut inner = shared.lock().unwrap();
        inner.attempts += 1;
        inner.mode == Mode::Hang
    };
    if hang {
        shared
            .lock()
            .unwrap()
            .received
            .push((headers.clone(), json!(q)));
        std::future::pending::<()>().await;
    }
    let mut inner = shared.lock().unwrap();
    match inner.mode {
        Mode::Down => return (StatusCode::BAD_GATEWAY, "down").into_response(),
        Mode::Status(code) => return status(code),
        Mode::RefuseCreates if q.get("action").map(String::as_str) == Some("create_line") => {
            return axum::Json(json!({ "result": false, "error": "username exists" }))
                .into_response();
        }
        _ => {}
    }
    inner.received.push((headers, json!(q)));
    axum::Json(json!({ "result": true })).into_response()
}

fn status(code: u16) -> Response {
    StatusCode::from_u16(code)
        .expect("a valid status")
        .into_response()
}
