//! `/auth/stream`: the streaming server asks whether a viewer may open a stream (and reports
//! that one ended), checked against the subscriber's bouquets and connection limit.

use super::{authenticated, guarded};
use crate::AppState;
use crate::client_addr::ClientAddr;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use reseller_core::bouquets::StreamRight;
use reseller_core::connections::Verdict;
use serde::Deserialize;

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
