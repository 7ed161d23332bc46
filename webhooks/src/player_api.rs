//! The Xtream Codes compatible `player_api.php` that IPTV players log in with. Field names and
//! types are those real panels send (numbers as strings), so existing players parse it
//! unchanged. Wrong credentials get the same answer whether the username exists or not, and
//! repeated failures from one address are slowed down.

use crate::AppState;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use reseller_core::access::Access;
use serde::Deserialize;
use serde_json::json;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;

/// Where players are told the streams are: the public streaming URL's parts.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub host: String,
    pub port: u16,
    pub https_port: u16,
    pub protocol: String,
}

impl ServerInfo {
    /// From a URL such as `http://stream.example.com:8080`.
    pub fn from_url(url: &reqwest::Url) -> ServerInfo {
        ServerInfo {
            host: url.host_str().unwrap_or("localhost").to_string(),
            port: url.port_or_known_default().unwrap_or(80),
            https_port: if url.scheme() == "https" {
                url.port_or_known_default().unwrap_or(443)
            } else {
                443
            },
            protocol: url.scheme().to_string(),
        }
    }
}

/// Failed logins allowed per client address: a burst, then one a second.
pub(crate) fn guess_limiter() -> DefaultKeyedRateLimiter<IpAddr> {
    RateLimiter::keyed(
        Quota::per_second(NonZeroU32::MIN).allow_burst(NonZeroU32::new(20).expect("non-zero")),
    )
}

#[derive(Deserialize)]
pub(crate) struct Login {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    action: Option<String>,
}

pub(crate) async fn player_api(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(login): Query<Login>,
) -> Response {
    let access = match state
        .core
        .authenticate(&login.username, &login.password)
        .await
    {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = ?e, "player login failed on our side");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let Some(access) = access else {
        if state.guesses.check_key(&peer.ip()).is_err() {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed logins; slow down",
            )
                .into_response();
        }
        return axum::Json(json!({ "user_info": { "auth": 0 } })).into_response();
    };
    match login.action.as_deref() {
        None | Some("") => {
            axum::Json(login_answer(&access, &login.password, &state.server)).into_response()
        }
        Some(other) => (
            StatusCode::NOT_IMPLEMENTED,
            axum::Json(json!({ "error": format!("action {other} is not served yet") })),
        )
            .into_response(),
    }
}

fn login_answer(a: &Access, password: &str, server: &ServerInfo) -> serde_json::Value {
    let now = Utc::now();
    let status = if !a.active {
        "Disabled"
    } else if a.expires_at <= now {
        "Expired"
    } else {
        "Active"
    };
    json!({
        "user_info": {
            "username": a.username,
            "password": password,
            "message": "",
            "auth": 1,
            "status": status,
            "exp_date": a.expires_at.timestamp().to_string(),
            "is_trial": "0",
            "active_cons": "0",
            "created_at": a.created_at.timestamp().to_string(),
            "max_connections": a.max_connections.to_string(),
            "allowed_output_formats": ["m3u8", "ts"],
        },
        "server_info": {
            "url": server.host,
            "port": server.port.to_string(),
            "https_port": server.https_port.to_string(),
            "server_protocol": server.protocol,
            "rtmp_port": "1935",
            "timezone": "UTC",
            "timestamp_now": now.timestamp(),
            "time_now": now.format("%Y-%m-%d %H:%M:%S").to_string(),
        },
    })
}
