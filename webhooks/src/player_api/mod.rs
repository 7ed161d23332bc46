//! The Xtream Codes compatible subscriber API that IPTV players log in with: `player_api.php`
//! (here), `get.php` ([`playlist`]) and `/auth/stream` ([`stream`]). Field names and types are
//! those real panels send (numbers as strings), so existing players parse it unchanged. Every
//! action a player sends gets an answer of the shape it expects, whatever the subscriber's
//! state: an expired or disabled one gets the same shapes with nothing to watch in them. Wrong
//! credentials get the same answer whether the username exists or not, and after repeated
//! failures from one address every login from it waits (see
//! [`failed_logins`](crate::failed_logins)).

mod live;
mod login;
mod params;
mod playlist;
mod stream;
mod vod;

pub(crate) use params::Params;
pub(crate) use playlist::playlist;
pub(crate) use stream::{authorize_stream, end_stream};

use crate::AppState;
use crate::client_addr::{ClientAddr, TrustedProxies};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use reseller_core::access::Access;
use reseller_core::catalogue::Kind;
use serde_json::{Value, json};
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
    /// The reseller API's rates.
    pub api: crate::api::ApiLimits,
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
            api: crate::api::ApiLimits::default(),
        }
    }

    /// The same, reached through `proxies`.
    pub fn behind(self, proxies: TrustedProxies) -> ServerInfo {
        ServerInfo { proxies, ..self }
    }

    /// With the reseller API's rates.
    pub fn with_api(self, api: crate::api::ApiLimits) -> ServerInfo {
        ServerInfo { api, ..self }
    }
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

/// What a player asks `player_api.php` for, as clients send it: @iptv/xtream-api (npm) calls
/// `get_profile` (and `get_server_info`) before listing channels; pyxtream, the Python client in
/// Linux Mint's Hypnotix, logs in with no action and sends `get_vod_info&vod_id=`,
/// `get_series_info&series_id=`, `get_short_epg&stream_id=` and `get_simple_data_table`;
/// Retrofit-based Android players log in with `get_account_info` (others `get_user_info`);
/// XC_VM / XUI.one also answer the misspelt `get_simple_date_table`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// No action, the profile aliases, and any action we do not know: Xtream UI answers all of
    /// them with the login body, so a player probing for a feature never sees an error.
    Login,
    LiveCategories,
    LiveStreams,
    VodCategories,
    VodStreams,
    VodInfo,
    SeriesCategories,
    Series,
    SeriesInfo,
    /// `get_short_epg`: the next programmes of a channel.
    ShortEpg,
    /// `get_simple_data_table`: the channel's whole guide, with what is on now.
    EpgTable,
}

impl Action {
    fn parse(action: &str) -> Action {
        match action {
            "get_live_categories" => Action::LiveCategories,
            "get_live_streams" => Action::LiveStreams,
            "get_vod_categories" => Action::VodCategories,
            "get_vod_streams" => Action::VodStreams,
            "get_vod_info" => Action::VodInfo,
            "get_series_categories" => Action::SeriesCategories,
            "get_series" => Action::Series,
            "get_series_info" => Action::SeriesInfo,
            "get_short_epg" => Action::ShortEpg,
            "get_simple_data_table" | "get_simple_date_table" => Action::EpgTable,
            _ => Action::Login,
        }
    }

    /// The answer with nothing in it: for a subscriber who may not watch, and for an unknown id.
    fn empty(self) -> Value {
        match self {
            Action::VodInfo => json!({ "info": [], "movie_data": [] }),
            Action::SeriesInfo => json!({ "seasons": [], "info": [], "episodes": {} }),
            Action::ShortEpg | Action::EpgTable => json!({ "epg_listings": [] }),
            _ => json!([]),
        }
    }
}

pub(crate) async fn player_api(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    params: Params,
) -> Response {
    let password = params.get("password");
    let access = match authenticated(&state, client, params.get("username"), password).await {
        Ok(a) => a,
        Err(refused) => return refused.for_player(),
    };
    let action = Action::parse(params.get("action"));
    if action == Action::Login {
        let live = state.core.live_connections(&access.username);
        return axum::Json(login::answer(&access, password, &state.server, live)).into_response();
    }
    if !can_watch(&access) {
        return axum::Json(action.empty()).into_response();
    }
    let stream = params.id("stream_id").unwrap_or(0);
    match action {
        Action::ShortEpg => {
            // Xtream answers four programmes when the player gives no limit.
            let limit = params.get("limit").trim().parse().unwrap_or(4);
            return crate::epg::short_epg(&state, &access, stream, limit).await;
        }
        Action::EpgTable => return crate::epg::data_table(&state, &access, stream).await,
        _ => {}
    }
    let core = &state.core;
    let category = params.id("category_id");
    // `None`: nothing to show for that id, answered with the action's empty shape.
    let answer = match action {
        Action::LiveCategories => live::categories(core, &access, Kind::Live).await.map(Some),
        Action::LiveStreams => live::streams(core, &access, category).await.map(Some),
        Action::VodCategories => live::categories(core, &access, Kind::Movie).await.map(Some),
        Action::VodStreams => vod::movies(core, &access, category).await.map(Some),
        Action::VodInfo => vod::movie(core, &access, params.id("vod_id")).await,
        Action::SeriesCategories => live::categories(core, &access, Kind::Episode)
            .await
            .map(Some),
        Action::Series => vod::series(core, &access, category).await.map(Some),
        Action::SeriesInfo => vod::series_episodes(core, &access, params.id("series_id")).await,
        Action::ShortEpg | Action::EpgTable | Action::Login => Ok(None),
    };
    match answer {
        Ok(body) => axum::Json(body.unwrap_or_else(|| action.empty())).into_response(),
        Err(e) => {
            tracing::error!(error = ?e, "player listing failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// Logs in for a download (a playlist, the guide): a refusal is an HTTP status, which is what
/// the programs that fetch those understand.
pub(crate) async fn login_for_download(
    state: &AppState,
    client: IpAddr,
    params: &Params,
) -> Result<Arc<Access>, Response> {
    authenticated(
        state,
        client,
        params.get("username"),
        params.get("password"),
    )
    .await
    .map_err(Refused::for_server)
}
