//! The Xtream Codes compatible `player_api.php` that IPTV players log in with. Field names and
//! types are those real panels send (numbers as strings), so existing players parse it
//! unchanged. Wrong credentials get the same answer whether the username exists or not, and
//! after repeated failures from one address every login from it waits (see
//! [`failed_logins`](crate::failed_logins)).

use crate::AppState;
use crate::client_addr::{ClientAddr, TrustedProxies};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use reseller_core::access::Access;
use reseller_core::bouquets::StreamRight;
use reseller_core::connections::Verdict;
use serde::Deserialize;
use serde_json::json;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Where players are told the streams are: the public streaming URL's parts.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// The URL itself, without a trailing slash: stream URLs are built on it.
    pub base: String,
    pub host: String,
    pub port: u16,
    pub https_port: u16,
    pub protocol: String,
    /// The reverse proxies in front of this server, whose `X-Forwarded-For` names the player.
    pub proxies: TrustedProxies,
}

impl ServerInfo {
    /// From a URL such as `http://stream.example.com:8080`.
    pub fn from_url(url: &reqwest::Url) -> ServerInfo {
        ServerInfo {
            base: url.as_str().trim_end_matches('/').to_string(),
            host: url.host_str().unwrap_or("localhost").to_string(),
            port: url.port_or_known_default().unwrap_or(80),
            https_port: if url.scheme() == "https" {
                url.port_or_known_default().unwrap_or(443)
            } else {
                443
            },
            protocol: url.scheme().to_string(),
            proxies: TrustedProxies::default(),
        }
    }

    /// The same, reached through `proxies`.
    pub fn behind(self, proxies: TrustedProxies) -> ServerInfo {
        ServerInfo { proxies, ..self }
    }
}

#[derive(Deserialize)]
pub(crate) struct Login {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    action: Option<String>,
    category_id: Option<String>,
    stream_id: Option<i64>,
    limit: Option<usize>,
    /// `get.php`: `m3u_plus`.
    #[serde(rename = "type")]
    kind: Option<String>,
    /// `get.php`: `ts` or `m3u8`.
    output: Option<String>,
}

/// Why a login did not go through.
enum Refused {
    WrongCredentials,
    /// Too many failed logins from this address: wait this long.
    Slow(Duration),
    Internal,
}

/// Checks the credentials; failures count against the client's address.
async fn authenticated(
    state: &AppState,
    client: IpAddr,
    username: &str,
    password: &str,
) -> Result<Arc<Access>, Refused> {
    guarded(state, client, state.core.authenticate(username, password)).await
}

/// Runs `login` only if the client's address has failures left; wrong credentials spend one.
async fn guarded(
    state: &AppState,
    client: IpAddr,
    login: impl Future<Output = reseller_core::Result<Option<Arc<Access>>>>,
) -> Result<Arc<Access>, Refused> {
    state.guesses.check(client).map_err(Refused::Slow)?;
    let outcome = login.await;
    if matches!(outcome, Ok(None)) {
        state.guesses.failed(&state.core, client).await;
    }
    match outcome {
        Ok(Some(a)) => Ok(a),
        Ok(None) => Err(Refused::WrongCredentials),
        Err(e) => {
            tracing::error!(error = ?e, "login failed on our side");
            Err(Refused::Internal)
        }
    }
}

impl Refused {
    /// The answer a player expects: `auth: 0` for wrong credentials.
    fn for_player(self) -> Response {
        match self {
            Refused::WrongCredentials => {
                axum::Json(json!({ "user_info": { "auth": 0 } })).into_response()
            }
            other => other.for_server(),
        }
    }

    /// The answer a streaming server or a playlist download expects: a status.
    fn for_server(self) -> Response {
        match self {
            Refused::WrongCredentials => {
                (StatusCode::FORBIDDEN, "wrong username or password").into_response()
            }
            Refused::Slow(wait) => {
                let secs = wait.as_secs() + 1;
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(axum::http::header::RETRY_AFTER, secs.to_string())],
                    format!("too many failed logins from this address; try again in {secs} s"),
                )
                    .into_response()
            }
            Refused::Internal => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        }
    }
}

fn can_watch(a: &Access) -> bool {
    a.active && a.expires_at > Utc::now()
}

pub(crate) async fn player_api(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Query(login): Query<Login>,
) -> Response {
    let access = match authenticated(&state, client, &login.username, &login.password).await {
        Ok(a) => a,
        Err(refused) => return refused.for_player(),
    };
    let action = login.action.as_deref().unwrap_or("");
    if action.is_empty() {
        return axum::Json(login_answer(
            &access,
            &login.password,
            &state.server,
            state.core.live_connections(&access.username),
        ))
        .into_response();
    }
    if !can_watch(&access) {
        return axum::Json(json!([])).into_response();
    }
    let category = login
        .category_id
        .as_deref()
        .and_then(|c| c.parse::<i64>().ok());
    let listing = match action {
        "get_live_categories" => state.core.channel_categories().await.map(|cats| {
            cats.iter()
                .filter(|c| access.may_watch(c.id))
                .map(|c| json!({ "category_id": c.id.to_string(), "category_name": c.name, "parent_id": 0 }))
                .collect::<Vec<_>>()
        }),
        "get_live_streams" => state.core.channels(category).await.map(|channels| {
            channels
                .iter()
                .filter(|c| access.may_watch(c.category_id))
                .map(|c| {
                    json!({
                        "num": c.num, "name": c.name, "stream_type": "live", "stream_id": c.id,
                        "stream_icon": c.logo, "epg_channel_id": c.epg_id, "added": "0",
                        "category_id": c.category_id.to_string(), "custom_sid": "", "tv_archive": 0,
                        "direct_source": "", "tv_archive_duration": 0,
                    })
                })
                .collect()
        }),
        "get_short_epg" => return crate::epg::short_epg(&state, &access, login.stream_id.unwrap_or(0), login.limit.unwrap_or(4)).await,
        "get_simple_data_table" | "get_simple_date_table" => return crate::epg::data_table(&state, &access, login.stream_id.unwrap_or(0)).await,
        // Actions for content we do not carry (VOD, series) list nothing, as panels without it do.
        "get_vod_categories" | "get_vod_streams" | "get_series_categories" | "get_series" => Ok(Vec::new()),
        other => {
            return (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": format!("unknown action {other}") }))).into_response();
        }
    };
    match listing {
        Ok(items) => axum::Json(items).into_response(),
        Err(e) => {
            tracing::error!(error = ?e, "channel listing failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// `get.php`: the subscriber's whole playlist in `m3u_plus` format.
pub(crate) async fn playlist(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Query(login): Query<Login>,
) -> Response {
    let access = match authenticated(&state, client, &login.username, &login.password).await {
        Ok(a) => a,
        Err(refused) => return refused.for_server(),
    };
    if !can_watch(&access) {
        return (
            StatusCode::FORBIDDEN,
            "this subscription is disabled or expired",
        )
            .into_response();
    }
    if login
        .kind
        .as_deref()
        .is_some_and(|k| k != "m3u_plus" && k != "m3u")
    {
        return (StatusCode::BAD_REQUEST, "type must be m3u_plus").into_response();
    }
    let ext = match login.output.as_deref() {
        Some("m3u8") | Some("hls") => "m3u8",
        _ => "ts",
    };
    let (categories, channels) = match (
        state.core.channel_categories().await,
        state.core.channels(None).await,
    ) {
        (Ok(c), Ok(ch)) => (c, ch),
        _ => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let mut m3u = String::from("#EXTM3U\n");
    for c in channels.iter().filter(|c| access.may_watch(c.category_id)) {
        let group = categories
            .iter()
            .find(|k| k.id == c.category_id)
            .map_or("", |k| k.name.as_str());
        m3u.push_str(&format!(
            "#EXTINF:-1 tvg-id=\"{}\" tvg-name=\"{}\" tvg-logo=\"{}\" group-title=\"{}\",{}\n{}/live/{}/{}/{}.{ext}\n",
            c.epg_id, c.name, c.logo, group, c.name, state.server.base, access.username, login.password, c.id
        ));
    }
    ([(axum::http::header::CONTENT_TYPE, "audio/x-mpegurl")], m3u).into_response()
}

fn login_answer(a: &Access, password: &str, server: &ServerInfo, live: usize) -> serde_json::Value {
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
            "active_cons": live.to_string(),
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

#[derive(Deserialize)]
pub(crate) struct StreamCheck {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    /// The subscriber's stream token, instead of username and password.
    token: Option<String>,
    /// The stream asked for: its id, as in `/live/USER/PASS/ID.ts` (the path, or `ID.ext`,
    /// is accepted too). Checked against the subscriber's bouquets.
    stream: Option<String>,
    /// The viewer's address: failed logins count against it (and it is logged).
    ip: Option<String>,
    /// The streaming server's id for this playback (one per player connection).
    #[serde(default)]
    session: String,
}

/// Stream authorization for the streaming server (nginx `auth_request`, media-server play
/// hooks): 200 to allow the session, 403 to refuse it. Call it on start and as a heartbeat.
pub(crate) async fn authorize_stream(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Query(check): Query<StreamCheck>,
) -> Response {
    if check.session.is_empty() || check.session.len() > 128 {
        return (
            StatusCode::BAD_REQUEST,
            "a session id (1 to 128 characters) is required",
        )
            .into_response();
    }
    // The streaming server asks for every viewer from its own address: failures count against
    // the viewer's address it reports, or one viewer's wrong password would lock everyone out.
    let viewer = check
        .ip
        .as_deref()
        .and_then(|ip| ip.parse().ok())
        .unwrap_or(client);
    let login = match check.token.as_deref() {
        Some(token) => guarded(&state, viewer, state.core.authenticate_token(token)).await,
        None => authenticated(&state, viewer, &check.username, &check.password).await,
    };
    let access = match login {
        Ok(a) => a,
        Err(refused) => return refused.for_server(),
    };
    tracing::debug!(user = %access.username, stream = ?check.stream, ip = ?check.ip, "stream authorization");
    let Some(stream) = check.stream.as_deref() else {
        return (
            StatusCode::BAD_REQUEST,
            "the stream id is required: stream=<id>",
        )
            .into_response();
    };
    let right = match stream_id(stream) {
        Some(id) => state.core.stream_right(&access, id).await,
        None => Ok(StreamRight::UnknownStream),
    };
    match right {
        Ok(StreamRight::Allowed) => {}
        Ok(StreamRight::NotInBouquet) => {
            return (
                StatusCode::FORBIDDEN,
                "this channel is not in the subscription",
            )
                .into_response();
        }
        Ok(StreamRight::UnknownStream) => {
            return (StatusCode::FORBIDDEN, "unknown stream").into_response();
        }
        Err(e) => {
            tracing::error!(error = ?e, "stream lookup failed on our side");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    }
    match state.core.authorize_stream(&access, &check.session).await {
        Ok(Verdict::Allow) => (StatusCode::OK, "allow").into_response(),
        Ok(Verdict::Denied) => (
            StatusCode::FORBIDDEN,
            "subscription disabled, expired or session ended",
        )
            .into_response(),
        Ok(Verdict::TooManyConnections) => {
            (StatusCode::FORBIDDEN, "too many connections").into_response()
        }
        Err(e) => {
            tracing::error!(error = ?e, "stream authorization failed on our side");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// The channel id in `stream`: `42`, `42.ts`, or a path ending in either.
fn stream_id(stream: &str) -> Option<i64> {
    let last = stream.rsplit('/').next().unwrap_or(stream);
    let id = last.split_once('.').map_or(last, |(id, _)| id);
    id.parse().ok().filter(|id| *id > 0)
}

/// The streaming server reports that a session ended.
pub(crate) async fn end_stream(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Query(check): Query<StreamCheck>,
) -> Response {
    let access = match authenticated(&state, client, &check.username, &check.password).await {
        Ok(a) => a,
        Err(refused) => return refused.for_server(),
    };
    match state
        .core
        .end_stream(&access.username, &check.session)
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::stream_id;

    #[test]
    fn stream_ids_come_from_ids_file_names_and_paths() {
        assert_eq!(stream_id("42"), Some(42));
        assert_eq!(stream_id("42.m3u8"), Some(42));
        assert_eq!(stream_id("/live/user/pass/42.ts"), Some(42));
        for bad in [
            "",
            "abc",
            "-3",
            "0",
            "/live/user/pass/",
            "99999999999999999999",
        ] {
            assert_eq!(stream_id(bad), None, "{bad}");
        }
    }
}
