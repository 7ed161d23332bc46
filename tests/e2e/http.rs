//! The HTTP probes.

use crate::support::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    let health = client
        .get(format!("http://{}/healthz", app.http))
        .send()
        .await
        .expect("healthz answers");
    assert_eq!(health.status(), 200);
    let ready = client
        .get(format!("http://{}/readyz", app.http))
        .send()
        .await
        .expect("readyz answers");
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.expect("json");
    assert_eq!(body["status"], "ready");
    let missing = client
        .get(format!("http://{}/nope", app.http))
        .send()
        .await
        .expect("answers");
    assert_eq!(missing.status(), 404);
}
