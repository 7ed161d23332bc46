//! The sync worker: delivers core's outbox of subscriber changes to the operator's existing
//! panel, in order per subscriber, retrying with exponential backoff and jitter while it is
//! down, and reporting permanent refusals back to core (which refunds a refused creation).
//! Nothing it stores or logs holds a secret: request errors lose their URL (it carries the
//! Xtream API key and the subscriber's password), and any text is scrubbed of the secrets it
//! sent.

use hmac::{Hmac, Mac};
use reseller_core::Core;
use reseller_core::lease::{Outbox, Step};
use reseller_core::sync::{Job, JobKind};
use serde_json::json;
use std::future::Future;
use std::time::Duration;

/// Where changes go.
#[derive(Clone)]
pub enum Backend {
    /// The Xtream UI / XUI.one admin API: `{base_url}/{access_path}/?api_key=...&action=...`.
    Xtream {
        base_url: String,
        access_path: String,
        api_key: String,
    },
    /// A signed JSON event per change, POSTed to the operator's URL.
    Webhook { url: String, secret: String },
}

/// The API key and the signing secret are never printed.
impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Xtream {
                base_url,
                access_path,
                ..
            } => f
                .debug_struct("Xtream")
                .field("base_url", base_url)
                .field("access_path", access_path)
                .field("api_key", &"<redacted>")
                .finish(),
            Backend::Webhook { url, .. } => f
                .debug_struct("Webhook")
                .field("url", &without_query(url))
                .field("secret", &"<redacted>")
                .finish(),
        }
    }
}

impl Backend {
    /// What must never appear in a stored error or a log line.
    fn secret(&self) -> &str {
        match self {
            Backend::Xtream { api_key, .. } => api_key,
            Backend::Webhook { secret, .. } => secret,
        }
    }
}

/// What delivering one job gave.
#[derive(Debug, PartialEq, Eq)]
enum Delivery {
    Done,
    /// Down, overloaded, unreachable: try again later.
    Later(String),
    /// Refused for good (the username is taken there, say).
    Refused(String),
}

impl Delivery {
    fn label(&self) -> &'static str {
        match self {
            Delivery::Done => "done",
            Delivery::Later(_) => "later",
            Delivery::Refused(_) => "refused",
        }
    }
}

/// Runs until `stop` completes, then gives back the jobs it claimed but did not start.
/// `retry_base` is the first retry delay; it doubles per attempt up to five minutes, with ±50 %
/// jitter so a recovering panel is not hit all at once. Jobs are claimed under a lease, so other
/// instances on the same database never send them too.
pub async fn run(
    core: Core,
    backend: Backend,
    retry_base: Duration,
    stop: impl Future<Output = ()> + Send,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("an HTTP client builds");
    core.work_leased(
        Outbox::SyncJobs,
        Duration::from_millis(300),
        stop,
        || core.claim_sync_jobs(20),
        |job| {
            let (core, client, backend) = (core.clone(), client.clone(), backend.clone());
            async move {
                send(&core, &client, &backend, retry_base, &job).await;
                Step::Next
            }
        },
    )
    .await;
}

/// Sends one claimed job and records what the panel said, under the job's lease.
async fn send(
    core: &Core,
    client: &reqwest::Client,
    backend: &Backend,
    retry_base: Duration,
    job: &Job,
) {
    // Committed before the request, so a crash mid-delivery still counts as an attempt.
    match core.sync_attempt_started(job).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::error!(job = job.id, error = ?e, "could not record a sync attempt");
            return;
        }
    }
    let started = std::time::Instant::now();
    let outcome = deliver(client, backend, job).await;
    reseller_core::metrics::sync_delivery(outcome.label(), started.elapsed());
    let password = job.current.as_ref().map_or("", |s| s.password.as_str());
    let clean = |why: &str| scrub(why, &[backend.secret(), password]);
    let recorded = match outcome {
        Delivery::Done => core.sync_delivered(job).await,
        Delivery::Later(why) => {
            let why = clean(&why);
            let delay = retry_base.as_secs_f64() * 2f64.powi(job.attempts.min(16) as i32);
            let secs = (delay.min(300.0) * rand::random_range(0.5..1.5)).ceil() as i64;
            tracing::warn!(job = job.id, error = %why, retry_in = secs, "panel sync will be retried");
            core.sync_retry_later(job, &why, secs.max(1)).await
        }
        // Core decides about the refund: only a refusal of the first attempt is one.
        Delivery::Refused(why) => core.sync_rejected(job, &clean(&why)).await,
    };
    match recorded {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            job = job.id,
            "the panel answered after this instance's lease on the job ran out; the answer is not recorded"
        ),
        Err(e) => tracing::error!(job = job.id, error = ?e, "could not record a sync result"),
    }
}

async fn deliver(client: &reqwest::Client, backend: &Backend, job: &Job) -> Delivery {
    match backend {
        Backend::Webhook { url, secret } => {
            let s = job.current.as_ref();
            let mut event = json!({
                "id": job.id,
                "type": format!("subscriber.{}", job.kind.as_str()),
                "username": job.username,
            });
            if let Some(s) = s {
                event["expires_at"] = json!(s.expires_at);
                event["max_connections"] = json!(s.max_connections);
                event["active"] = json!(s.active);
                if matches!(job.kind, JobKind::Create | JobKind::Reset) {
                    event["password"] = json!(s.password);
                }
            }
            let body = event.to_string();
            let t = chrono::Utc::now().timestamp();
            let mut mac =
                Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
            mac.update(format!("{t}.{body}").as_bytes());
            let signature = format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()));
            let sent = client
                .post(url)
                .header("content-type", "application/json")
                .header("x-resellerbot-signature", signature)
                .header("idempotency-key", format!("sync-{}", job.id))
                .body(body)
                .send()
                .await;
            by_status(sent).await
        }
        Backend::Xtream {
            base_url,
            access_path,
            api_key,
        } => {
            let action = match job.kind {
                JobKind::Create => "create_line",
                JobKind::Extend | JobKind::Reset => "edit_line",
                JobKind::Enable => "enable_line",
                JobKind::Disable => "disable_line",
                JobKind::Delete => "delete_line",
            };
            let mut query = vec![
                ("api_key", api_key.clone()),
                ("action", action.to_string()),
                ("username", job.username.clone()),
            ];
            if let Some(s) = &job.current {
                query.push(("password", s.password.clone()));
                query.push(("exp_date", s.expires_at.to_string()));
                query.push(("max_connections", s.max_connections.to_string()));
            }
            let url = format!(
                "{}/{}/",
                base_url.trim_end_matches('/'),
                access_path.trim_matches('/')
            );
            let resp = match client.get(url).query(&query).send().await {
                Ok(r) => r,
                Err(e) => return Delivery::Later(describe(e)),
            };
            // A wrong key or path (401, 403, 404) is not the panel refusing this line: only a
            // JSON answer saying so is.
            if !resp.status().is_success() {
                return Delivery::Later(format!("HTTP {}", resp.status().as_u16()));
            }
            let answer: serde_json::Value = match resp.json().await {
                Ok(v) => v,
                Err(_) => return Delivery::Later("the panel's answer was not JSON".into()),
            };
            if answer["result"].as_bool() == Some(true) {
                Delivery::Done
            } else {
                Delivery::Refused(answer["error"].as_str().unwrap_or("refused").to_string())
            }
        }
    }
}

/// Only 409 (the username is taken, say) and 422 refuse the change itself; anything else
/// that is not a success (a wrong secret or path, a proxy, a timeout) is tried again later.
async fn by_status(sent: reqwest::Result<reqwest::Response>) -> Delivery {
    let resp = match sent {
        Ok(r) => r,
        Err(e) => return Delivery::Later(describe(e)),
    };
    let status = resp.status().as_u16();
    if resp.status().is_success() {
        return Delivery::Done;
    }
    if !matches!(status, 409 | 422) {
        return Delivery::Later(format!("HTTP {status}"));
    }
    let text: String = resp
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    Delivery::Refused(format!("HTTP {status}: {text}"))
}

/// A request error with its causes, without the URL (reqwest's `Display` includes it, with
/// the Xtream API key and the subscriber's password in its query).
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `text` with every non-empty secret replaced, for errors whose wording we do not control
/// (a panel may echo the request back).
fn scrub(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text.to_string(), |t, s| t.replace(s, "***"))
}

/// A URL without its query string, which may carry a token.
fn without_query(url: &str) -> &str {
    url.split('?').next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_key_and_the_secret() {
        let xtream = Backend::Xtream {
            base_url: "http://panel".into(),
            access_path: "api".into(),
            api_key: "xt-key-123".into(),
        };
        let webhook = Backend::Webhook {
            url: "http://hook/events?token=tok-456".into(),
            secret: "whsec-789".into(),
        };
        let shown = format!("{xtream:?} {webhook:?}");
        for secret in ["xt-key-123", "tok-456", "whsec-789"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("http://panel"), "{shown}");
    }

    #[test]
    fn scrub_replaces_every_secret_and_skips_empty_ones() {
        assert_eq!(
            scrub("bad key k1 for pw1, k1 again", &["k1", "", "pw1"]),
            "bad key *** for ***, *** again"
        );
    }
}
