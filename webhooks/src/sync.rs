//! The sync worker: delivers core's outbox of subscriber changes to the operator's existing
//! panel, in order per subscriber, retrying with exponential backoff and jitter while it is
//! down, and reporting permanent refusals back to core (which refunds a refused creation).

use hmac::{Hmac, Mac};
use reseller_core::Core;
use reseller_core::sync::{Job, JobKind};
use serde_json::json;
use std::future::Future;
use std::time::Duration;

/// Where changes go.
#[derive(Clone, Debug)]
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

/// What delivering one job gave.
#[derive(Debug, PartialEq, Eq)]
enum Delivery {
    Done,
    /// Down, overloaded, unreachable: try again later.
    Later(String),
    /// Refused for good (the username is taken there, say).
    Refused(String),
}

/// Runs until `stop` completes. `retry_base` is the first retry delay; it doubles per attempt
/// up to five minutes, with ±50 % jitter so a recovering panel is not hit all at once.
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
    tokio::pin!(stop);
    loop {
        let jobs = match core.due_sync_jobs(20).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::error!(error = ?e, "could not read the sync outbox");
                Vec::new()
            }
        };
        for job in &jobs {
            let outcome = deliver(&client, &backend, job).await;
            let recorded = match outcome {
                Delivery::Done => core.sync_delivered(job.id).await,
                Delivery::Later(why) => {
                    let delay = retry_base.as_secs_f64() * 2f64.powi(job.attempts.min(16) as i32);
                    let secs = (delay.min(300.0) * rand::random_range(0.5..1.5)).ceil() as i64;
                    tracing::warn!(job = job.id, error = %why, retry_in = secs, "panel sync will be retried");
                    core.sync_retry_later(job.id, &why, secs.max(1)).await
                }
                Delivery::Refused(why) => {
                    // The Xtream API has no idempotency key: a creation refused after an
                    // earlier attempt may be the panel refusing our own first, unanswered try.
                    let ambiguous = job.kind == JobKind::Create
                        && job.attempts > 0
                        && matches!(backend, Backend::Xtream { .. });
                    if ambiguous {
                        let why = format!(
                            "{why} (after an earlier attempt that may have reached the panel: check the line there, then retry or drop this job; no credits were refunded)"
                        );
                        core.sync_rejected(job.id, &why, false).await
                    } else {
                        core.sync_rejected(job.id, &why, true).await
                    }
                }
            };
            if let Err(e) = recorded {
                tracing::error!(job = job.id, error = ?e, "could not record a sync result");
            }
        }
        let idle = if jobs.is_empty() {
            Duration::from_millis(300)
        } else {
            Duration::ZERO
        };
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(idle) => {}
        }
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
                Err(e) => return Delivery::Later(e.to_string()),
            };
            if resp.status().is_server_error() || resp.status().as_u16() == 429 {
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

async fn by_status(sent: reqwest::Result<reqwest::Response>) -> Delivery {
    let resp = match sent {
        Ok(r) => r,
        Err(e) => return Delivery::Later(e.to_string()),
    };
    let status = resp.status().as_u16();
    if resp.status().is_success() {
        return Delivery::Done;
    }
    let text: String = resp
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    match status {
        408 | 425 | 429 | 500..=599 => Delivery::Later(format!("HTTP {status}")),
        _ => Delivery::Refused(format!("HTTP {status}: {text}")),
    }
}
