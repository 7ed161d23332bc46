//! `get.php`: the subscriber's whole playlist in `m3u_plus` format, with the guide's address in
//! the header (`url-tvg`, read by TiviMate, Kodi's IPTV Simple and most M3U parsers; `x-tvg-url`
//! for the others) and every `#EXTINF` attribute made safe for strict parsers. Live channels
//! come first, then movies (`/movie/USER/PASS/ID.ext`) and episodes (`/series/USER/PASS/ID.ext`),
//! as Xtream panels list them.

use super::can_watch;
use super::params::Params;
use crate::AppState;
use crate::client_addr::ClientAddr;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::fmt::Write;

pub(crate) async fn playlist(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    params: Params,
) -> Response {
    let password = params.get("password");
    let access = match super::login_for_download(&state, client, &params).await {
        Ok(a) => a,
        Err(refused) => return refused,
    };
    if !can_watch(&access) {
        return (
            StatusCode::FORBIDDEN,
            "this subscription is disabled or expired",
        )
            .into_response();
    }
    if !matches!(params.get("type"), "" | "m3u_plus" | "m3u") {
        return (StatusCode::BAD_REQUEST, "type must be m3u_plus").into_response();
    }
    let ext = match params.get("output") {
        "m3u8" | "hls" => "m3u8",
        _ => "ts",
    };
    let core = &state.core;
    let (categories, channels, movies, series, episodes) = match (
        core.channel_categories().await,
        core.channels(None).await,
        core.movies(None).await,
        core.series(None).await,
        core.episodes().await,
    ) {
        (Ok(c), Ok(ch), Ok(m), Ok(s), Ok(e)) => (c, ch, m, s, e),
        _ => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let groups: HashMap<i64, &str> = categories.iter().map(|c| (c.id, c.name.as_str())).collect();
    let base = &state.server.base;
    let guide = format!(
        "{base}/xmltv.php?username={}&password={}",
        encoded(&access.username),
        encoded(password)
    );
    let mut m3u = format!(
        "#EXTM3U url-tvg=\"{}\" x-tvg-url=\"{}\"\n",
        attribute(&guide),
        attribute(&guide)
    );
    for c in channels.iter().filter(|c| access.may_watch(c.category_id)) {
        let group = groups.get(&c.category_id).copied().unwrap_or("");
        let url = format!("{base}/live/{}/{password}/{}.{ext}", access.username, c.id);
        entry(
            &mut m3u,
            &[("tvg-id", &c.epg_id)],
            &c.name,
            &c.logo,
            group,
            &url,
        );
    }
    let user = &access.username;
    for m in movies.iter().filter(|m| access.may_watch(m.category_id)) {
        let group = groups.get(&m.category_id).copied().unwrap_or("");
        let url = format!("{base}/movie/{user}/{password}/{}.{}", m.id, m.container);
        entry(&mut m3u, &[], &m.name, &m.logo, group, &url);
    }
    let shows: HashMap<i64, _> = series
        .iter()
        .filter(|s| access.may_watch(s.category_id))
        .map(|s| (s.id, s))
        .collect();
    for e in &episodes {
        let Some(show) = shows.get(&e.series_id) else {
            continue;
        };
        let group = groups.get(&show.category_id).copied().unwrap_or("");
        let url = format!("{base}/series/{user}/{password}/{}.{}", e.id, e.container);
        entry(&mut m3u, &[], &e.title, &show.logo, group, &url);
    }
    ([(axum::http::header::CONTENT_TYPE, "audio/x-mpegurl")], m3u).into_response()
}

/// Appends one `#EXTINF` entry and its URL: `extra` attributes, then `tvg-name`, `tvg-logo`
/// and `group-title`, each escaped, and the name after the comma on one line.
fn entry(m3u: &mut String, extra: &[(&str, &str)], name: &str, logo: &str, group: &str, url: &str) {
    m3u.push_str("#EXTINF:-1");
    let named = [
        ("tvg-name", name),
        ("tvg-logo", logo),
        ("group-title", group),
    ];
    for (key, value) in extra.iter().chain(named.iter()) {
        let _ = write!(m3u, " {key}=\"{}\"", attribute(value));
    }
    let _ = writeln!(m3u, ",{}\n{}", one_line(name), one_line(url));
}

/// A value fit for a double-quoted M3U attribute: M3U has no escape for `"`, so it becomes `'`
/// (as XUI.one writes it), and line breaks become spaces.
fn attribute(value: &str) -> String {
    one_line(value).replace('"', "'")
}

/// `value` on one line: a line break inside it would start a new playlist line.
fn one_line(value: &str) -> String {
    value.replace(['\r', '\n'], " ")
}

fn encoded(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_hold_no_quote_and_entries_no_stray_line() {
        let mut m3u = String::new();
        entry(
            &mut m3u,
            &[("tvg-id", "a\"b")],
            "He said \"hi\"\nagain",
            "http://l/\"x\".png",
            "A \"B\"",
            "http://s/1.ts",
        );
        assert_eq!(
            m3u,
            "#EXTINF:-1 tvg-id=\"a'b\" tvg-name=\"He said 'hi' again\" tvg-logo=\"http://l/'x'.png\" \
             group-title=\"A 'B'\",He said \"hi\" again\nhttp://s/1.ts\n"
        );
    }
}
