//! Bouquets on the streaming path and channel import hardening: `/auth/stream` checks the
//! stream's category, restrictions survive a re-import that drops their categories, and
//! playlists are bounded in size and never read from the server's private network.

use crate::support::{ADMIN, TestApp};
use serde_json::Value;

const ALICE: i64 = 2_101;

const PLAYLIST: &str = "#EXTM3U\n\
#EXTINF:-1 group-title=\"News\",News One\nhttp://origin/news1.ts\n\
#EXTINF:-1 group-title=\"Sports\",Sport One\nhttp://origin/sport1.ts\n\
#EXTINF:-1 group-title=\"Films\",Film One\nhttp://origin/film1.ts\n";

fn password(text: &str) -> String {
    text.split("Password: <code>")
        .nth(1)
        .and_then(|s| s.split("</code>").next())
        .expect("password")
        .to_string()
}

async fn get(app: &TestApp, path: &str, query: &[(&str, &str)]) -> (u16, String) {
    let resp = reqwest::Client::new()
        .get(format!("http://{}{path}", app.http))
        .query(query)
        .send()
        .await
        .expect("answers");
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// Serves `routes` (path, body) on 127.0.0.1; returns the base URL.
async fn serve(routes: Vec<(&'static str, axum::routing::MethodRouter)>) -> String {
    let mut router = axum::Router::new();
    for (path, route) in routes {
        router = router.route(path, route);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

async fn serve_playlist(body: String) -> String {
    let base = serve(vec![(
        "/playlist.m3u",
        axum::routing::get(move || async move { body }),
    )])
    .await;
    format!("{base}/playlist.m3u")
}

/// Imports `playlist` as an uploaded file; returns the bot's answer.
async fn upload(app: &TestApp, playlist: &str) -> String {
    let before = app.tg.sent().len();
    app.tg
        .send_document(ADMIN, "playlist.m3u", playlist, "/channels import");
    app.tg.wait_for(ADMIN, before, "playlist").await.text
}

/// A reseller `alice` with one subscriber `viewer`; returns the subscriber's password.
async fn viewer(app: &TestApp) -> String {
    app.reseller("alice", ALICE).await;
    app.grant("alice", 10).await;
    let card = app.say_expecting(ALICE, "/new 10 viewer", "Create").await;
    password(&app.press(ALICE, &card, "Confirm").await.text)
}

/// Stream id by channel name, as the player lists them (all categories the viewer gets).
async fn streams(app: &TestApp, pass: &str) -> Vec<(String, String)> {
    let (_, body) = get(
        app,
        "/player_api.php",
        &[
            ("username", "viewer"),
            ("password", pass),
            ("action", "get_live_streams"),
        ],
    )
    .await;
    let v: Value = serde_json::from_str(&body).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["stream_id"].to_string(),
            )
        })
        .collect()
}

/// `/auth/stream` for `viewer` opening `stream`, always in the same player session (the
/// stream is checked on every call, heartbeats included).
async fn open(app: &TestApp, pass: &str, stream: &str) -> (u16, String) {
    get(
        app,
        "/auth/stream",
        &[
            ("username", "viewer"),
            ("password", pass),
            ("session", "s1"),
            ("stream", stream),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_authorization_follows_the_reseller_and_subscriber_bouquets() {
    let app = TestApp::spawn().await;
    upload(&app, PLAYLIST).await;
    let pass = viewer(&app).await;
    let ids: std::collections::HashMap<String, String> =
        streams(&app, &pass).await.into_iter().collect();
    let (news, sport, film) = (&ids["News One"], &ids["Sport One"], &ids["Film One"]);
    for id in [news, sport, film] {
        assert_eq!(open(&app, &pass, id).await.0, 200, "no bouquet: {id}");
    }
    // The streaming server passes the stream as its id, a file name or the player's path.
    assert_eq!(open(&app, &pass, &format!("{news}.ts")).await.0, 200);
    assert_eq!(
        open(&app, &pass, &format!("/live/viewer/{pass}/{news}.m3u8"))
            .await
            .0,
        200
    );

    app.say_expecting(ADMIN, "/bouquet alice News, Films", "now gets 2 categories")
        .await;
    assert_eq!(open(&app, &pass, news).await.0, 200);
    assert_eq!(
        open(&app, &pass, sport).await,
        (403, "this channel is not in the subscription".into()),
        "the reseller's bouquet applies at once"
    );
    app.say_expecting(ALICE, "/bouquet viewer Films", "now gets 1 categories")
        .await;
    assert_eq!(open(&app, &pass, film).await.0, 200);
    assert_eq!(
        open(&app, &pass, news).await.0,
        403,
        "the subscriber's own bouquet applies within the reseller's"
    );

    for unknown in ["999999", "abc", "0"] {
        assert_eq!(
            open(&app, &pass, unknown).await,
            (403, "unknown stream".into()),
            "{unknown}"
        );
    }
    let (status, why) = get(
        &app,
        "/auth/stream",
        &[
            ("username", "viewer"),
            ("password", pass.as_str()),
            ("session", "s-none"),
        ],
    )
    .await;
    assert_eq!(
        (status, why.as_str()),
        (400, "the stream id is required: stream=<id>")
    );

    // A re-import that changes a stream's category is seen at once.
    upload(
        &app,
        "#EXTM3U\n#EXTINF:-1 group-title=\"Films\",News One\nhttp://origin/news1.ts\n\
         #EXTINF:-1 group-title=\"News\",Film One\nhttp://origin/film1.ts\n",
    )
    .await;
    assert_eq!(
        open(&app, &pass, news).await.0,
        200,
        "News One is a film now"
    );
    assert_eq!(open(&app, &pass, film).await.0, 403);
    assert_eq!(
        open(&app, &pass, sport).await.1,
        "unknown stream",
        "a channel dropped from the playlist is unknown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restriction_whose_categories_vanish_shows_nothing_and_the_admin_is_told() {
    let app = TestApp::spawn().await;
    upload(&app, PLAYLIST).await;
    let pass = viewer(&app).await;
    let news = streams(&app, &pass).await[0].1.clone();
    app.say_expecting(
        ADMIN,
        "/bouquet alice Sports, Films",
        "now gets 2 categories",
    )
    .await;
    app.say_expecting(ALICE, "/bouquet viewer Sports", "now gets 1 categories")
        .await;

    let report = upload(
        &app,
        "#EXTM3U\n#EXTINF:-1 group-title=\"News\",News One\nhttp://origin/news1.ts\n",
    )
    .await;
    assert!(
        report.contains("2 bouquets lost categories")
            && report.contains(
                "• reseller <b>alice</b> lost Films, Sports — nothing left: no channels until you choose again"
            )
            && report.contains("• subscriber <b>viewer</b> lost Sports — nothing left"),
        "{report}"
    );
    assert!(
        streams(&app, &pass).await.is_empty(),
        "restricted to nothing, not to everything"
    );
    let (_, m3u) = get(
        &app,
        "/get.php",
        &[("username", "viewer"), ("password", pass.as_str())],
    )
    .await;
    assert!(
        m3u.starts_with("#EXTM3U ") && !m3u.contains("#EXTINF"),
        "a header and no entry: {m3u}"
    );
    assert_eq!(
        open(&app, &pass, &news).await.1,
        "this channel is not in the subscription"
    );

    // Sports comes back: the restriction was emptied, so it does not return by itself.
    upload(&app, PLAYLIST).await;
    assert!(streams(&app, &pass).await.is_empty());
    app.say_expecting(ADMIN, "/bouquet alice all", "every category")
        .await;
    app.say_expecting(ALICE, "/bouquet viewer all", "every category")
        .await;
    assert_eq!(streams(&app, &pass).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playlists_from_private_addresses_are_refused_unless_allowed() {
    let app = TestApp::spawn().await;
    let url = serve_playlist(PLAYLIST.to_string()).await;
    let refused = app
        .say_expecting(ADMIN, &format!("/channels import {url}"), "playlist")
        .await;
    assert!(
        refused.text.contains(
            "Could not read the playlist: 127.0.0.1 is at 127.0.0.1, which is not a public address"
        ) && refused.text.contains("channels.import_allow_hosts"),
        "{}",
        refused.text
    );
    let summary = app.say_expecting(ADMIN, "/channels", "channels in").await;
    assert!(
        summary.text.contains("<b>0</b> channels"),
        "{}",
        summary.text
    );

    // An allowed host may not redirect to one that is not allowed.
    let target = serve_playlist(PLAYLIST.to_string()).await;
    let port = target.split(':').nth(2).unwrap().to_string();
    let hop = format!("http://localhost:{port}");
    let redirector = serve(vec![(
        "/go",
        axum::routing::get(move || async move { axum::response::Redirect::temporary(&hop) }),
    )])
    .await;
    let app =
        TestApp::spawn_with(|s| s.channels.import_allow_hosts = vec!["127.0.0.1".into()]).await;
    let refused = app
        .say_expecting(
            ADMIN,
            &format!("/channels import {redirector}/go"),
            "playlist",
        )
        .await;
    assert!(
        refused.text.contains("localhost is at") && refused.text.contains("not a public address"),
        "{}",
        refused.text
    );
    let imported = app
        .say_expecting(ADMIN, &format!("/channels import {url}"), "playlist")
        .await;
    assert!(
        imported.text.contains("Imported 3 channels"),
        "{}",
        imported.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playlists_over_the_size_limit_are_refused_by_url_and_upload() {
    let app = TestApp::spawn_with(|s| {
        s.channels.max_playlist_mb = 1;
        s.channels.import_allow_hosts = vec!["127.0.0.1".into()];
    })
    .await;
    let line = "#EXTINF:-1 group-title=\"News\",A channel with a long enough name\nhttp://origin/a-stream-url.ts\n";
    let big = format!("#EXTM3U\n{}", line.repeat(1_500_000 / line.len()));
    let url = serve_playlist(big.clone()).await;
    let refused = app
        .say_expecting(ADMIN, &format!("/channels import {url}"), "playlist")
        .await;
    assert!(
        refused
            .text
            .contains("Could not read the playlist: it is 1.4 MB, over the 1 MB limit (channels.max_playlist_mb)"),
        "{}",
        refused.text
    );
    let uploaded = upload(&app, &big).await;
    assert!(
        uploaded.contains("it is 1.4 MB, over the 1 MB limit"),
        "{uploaded}"
    );
    let summary = app.say_expecting(ADMIN, "/channels", "channels in").await;
    assert!(
        summary.text.contains("<b>0</b> channels"),
        "{}",
        summary.text
    );
}
