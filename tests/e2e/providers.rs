//! A stand-in for the payment providers' APIs: answers checkout creation like Stripe, BTCPay,
//! NOWPayments and Cryptomus do, and records what it was asked.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Inner {
    requests: Vec<(String, HeaderMap, String)>,
    down: bool,
}

pub struct FakeProviders {
    inner: Arc<Mutex<Inner>>,
    pub url: String,
}

impl FakeProviders {
    pub async fn start() -> FakeProviders {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let router = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        FakeProviders { inner, url }
    }

    /// The body of the last request to a path ending in `suffix`.
    pub fn last(&self, suffix: &str) -> (HeaderMap, String) {
        let inner = self.inner.lock().unwrap();
        let (_, headers, body) = inner
            .requests
            .iter()
            .rev()
            .find(|(p, _, _)| p.ends_with(suffix))
            .expect("the provider was called");
        (headers.clone(), body.clone())
    }

    /// While down, every call gets a 503.
    pub fn set_down(&self, down: bool) {
        self.inner.lock().unwrap().down = down;
    }
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let path = uri.path().to_string();
    let n = {
        let mut inner = inner.lock().unwrap();
        if inner.down {
            return (StatusCode::SERVICE_UNAVAILABLE, "maintenance").into_response();
        }
        inner.requests.push((path.clone(), headers, body));
        inner.requests.len()
    };
    let answer: Value = if path == "/v1/checkout/sessions" {
        json!({ "id": format!("cs_test_{n}"), "url": format!("https://checkout.stripe.test/c/cs_test_{n}") })
    } else if path.starts_with("/api/v1/stores/") {
        json!({ "id": format!("inv{n}"), "checkoutLink": format!("https://btcpay.test/i/inv{n}") })
    } else if path == "/v1/invoice" {
        json!({ "id": format!("{n}"), "invoice_url": format!("https://nowpayments.test/payment/?iid={n}") })
    } else if path == "/v1/payment" {
        json!({ "state": 0, "result": { "uuid": format!("uuid-{n}"), "url": format!("https://pay.cryptomus.test/pay/uuid-{n}") } })
    } else {
        return StatusCode::NOT_FOUND.into_response();
    };
    axum::Json(answer).into_response()
}
