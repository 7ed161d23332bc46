//! The programme guide for players: `get_short_epg` and `get_simple_data_table` (answered
//! through `player_api.php`) and `xmltv.php`, the subscriber's whole guide as XMLTV, streamed
//! from core's paged queries as the player reads it.
//!
//! The listing fields and their types are Xtream UI's, as published clients read them: every
//! value a string except `now_playing` and `has_archive` (numbers), `title` and `description`
//! base64 — see firstred/iptvproxy `dtos/xtream/Epg.kt` (`id`, `epg_id`, `title`, `lang`,
//! `start`, `end`, `description`, `channel_id`, `start_timestamp`, `stop_timestamp`,
//! `now_playing: Int?`, `has_archive: Int?`) and the Android client cactuvi `EPGListing`
//! ("title: Base64 encoded", "start: YYYY-MM-DD HH:MM:SS").

use crate::AppState;
use crate::client_addr::ClientAddr;
use crate::player_api::Params;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use reseller_core::access::Access;
use reseller_core::epg::Listing;
use serde_json::json;

/// The whole held guide of one stream is at most this many programmes in the data table.
const DATA_TABLE_MAX: usize = 5_000;

/// `get_short_epg`: the next `limit` programmes of stream `stream_id`, the one on now first.
pub(crate) async fn short_epg(
    state: &AppState,
    access: &Access,
    stream_id: i64,
    limit: usize,
) -> Response {
    let now = Utc::now().timestamp();
    listings(state, access, stream_id, now, limit.clamp(1, 100), false).await
}

/// `get_simple_data_table`: every programme held for stream `stream_id`, with `now_playing`.
pub(crate) async fn data_table(state: &AppState, access: &Access, stream_id: i64) -> Response {
    listings(state, access, stream_id, i64::MIN, DATA_TABLE_MAX, true).await
}

async fn listings(
    state: &AppState,
    access: &Access,
    stream: i64,
    from: i64,
    limit: usize,
    table: bool,
) -> Response {
    match state.core.epg_listings(access, stream, from, limit).await {
        Ok(found) => {
            let now = Utc::now().timestamp();
            let items: Vec<_> = found
                .iter()
                .map(|l| listing_json(l, stream, now, table))
                .collect();
            axum::Json(json!({ "epg_listings": items })).into_response()
        }
        Err(e) => {
            tracing::error!(error = ?e, "guide listing failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

fn listing_json(l: &Listing, stream: i64, now: i64, table: bool) -> serde_json::Value {
    let mut v = json!({
        "id": l.id.to_string(),
        // Xtream UI's id of the guide source; there is one.
        "epg_id": "1",
        "title": STANDARD.encode(&l.title),
        "lang": l.lang,
        "start": wall_clock(l.start),
        "end": wall_clock(l.stop),
        "description": STANDARD.encode(&l.description),
        "channel_id": l.channel_id,
        "start_timestamp": l.start.to_string(),
        "stop_timestamp": l.stop.to_string(),
    });
    if table {
        v["stream_id"] = json!(stream.to_string());
        v["now_playing"] = json!(i32::from(l.start <= now && now < l.stop));
        v["has_archive"] = json!(0);
    }
    v
}

/// `Y-m-d H:i:s` in UTC.
fn wall_clock(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// `xmltv.php?username=U&password=P` (GET, HEAD or POST, query or form): the guide of the
/// subscriber's channels. Wrong credentials count against the address as at every login.
pub(crate) async fn xmltv(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    params: Params,
) -> Response {
    let access = match crate::player_api::login_for_download(&state, client, &params).await {
        Ok(a) => a,
        Err(refused) => return refused,
    };
    if !(access.active && access.expires_at > Utc::now()) {
        return (
            StatusCode::FORBIDDEN,
            "this subscription is disabled or expired",
        )
            .into_response();
    }
    let pages = state.core.xmltv_for(access).inspect_err(|e| {
        tracing::error!(error = ?e, "the guide stream failed part-way");
    });
    (
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        Body::from_stream(pages),
    )
        .into_response()
}
