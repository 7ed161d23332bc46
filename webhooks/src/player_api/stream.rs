//! `/auth/stream`: the streaming server asks whether a viewer may open a stream (and reports
//! that one ended), checked against the subscriber's bouquets and connection limit.

use super::{authenticated, guarded};
use crate::AppState;
use crate::client_addr::ClientAddr;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use reseller_core::bouquets::StreamRight;
use reseller_core::catalogue::Stream;
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
    /// The stream asked for: a channel's id, as in `/live/USER/PASS/ID.ts` (the path, or
    /// `ID.ext`, is accepted too), or the path of a movie (`/movie/USER/PASS/ID.mp4`) or an
    /// episode (`/series/USER/PASS/ID.mkv`). Checked against the subscriber's bouquets.
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
    let right = match stream_of(stream) {
        Some(stream) => state.core.stream_right(&access, stream).await,
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

/// The stream in `stream`: `42`, `42.ts` or a `/live/` path name a channel; a path through
/// `/movie/` or `/series/` names a movie or an episode (ids are numbered per kind).
fn stream_of(stream: &str) -> Option<Stream> {
    let last = stream.rsplit('/').next().unwrap_or(stream);
    let id = last.split_once('.').map_or(last, |(id, _)| id);
    let id: i64 = id.parse().ok().filter(|id| *id > 0)?;
    Some(if stream.contains("/movie/") {
        Stream::Movie(id)
    } else if stream.contains("/series/") {
        Stream::Episode(id)
    } else {
        Stream::Live(id)
    })
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
    use super::{Stream, stream_of};

    #[test]
    fn streams_come_from_ids_file_names_and_paths() {
        assert_eq!(stream_of("42"), Some(Stream::Live(42)));
        assert_eq!(stream_of("42.m3u8"), Some(Stream::Live(42)));
        assert_eq!(stream_of("/live/user/pass/42.ts"), Some(Stream::Live(42)));
        assert_eq!(stream_of("/movie/user/pass/7.mkv"), Some(Stream::Movie(7)));
        assert_eq!(
            stream_of("/series/user/pass/9.mp4"),
            Some(Stream::Episode(9))
        );
        for bad in [
            "",
            "abc",
            "-3",
            "0",
            "/live/user/pass/",
            "/movie/user/pass/x.mp4",
            "99999999999999999999",
        ] {
            assert_eq!(stream_of(bad), None, "{bad}");
        }
    }
}
