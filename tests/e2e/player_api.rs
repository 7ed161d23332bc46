//! The Xtream-compatible `player_api.php`: what a player sees after each change made in the bot.

use crate::support::{ADMIN, TestApp};
use serde_json::Value;

const ALICE: i64 = 2_001;

async fn login(app: &TestApp, username: &str, password: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .get(format!("http://{}/player_api.php", app.http))
        .query(&[("username", username), ("password", password)])
        .send()
        .await
        .expect("answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn password(text: &str) -> String {
    text.split("Password: <code>")
        .nth(1)
        .and_then(|s| s.split("</code>").next())
        .expect("password")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn players_see_every_change_made_in_the_bot_at_once() {
    let app =
        TestApp::spawn_with(|s| s.stream_url = "http://stream.example.test:8081".parse().unwrap())
            .await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 100).await;
    let card = app.say_expecting(ALICE, "/new 30 viewer", "Create").await;
    let created = app.press(ALICE, &card, "Confirm").await;
    let pass = password(&created.text);

    let (status, body) = login(&app, "viewer", &pass).await;
    assert_eq!(status, 200);
    let user = &body["user_info"];
    assert_eq!(user["auth"], 1);
    assert_eq!(user["status"], "Active");
    assert_eq!(user["max_connections"], "3");
    let exp: i64 = user["exp_date"]
        .as_str()
        .expect("exp_date is a string")
        .parse()
        .unwrap();
    assert!(
        (exp - (chrono::Utc::now().timestamp() + 30 * 86_400)).abs() < 60,
        "{exp}"
    );
    assert_eq!(body["server_info"]["url"], "stream.example.test");
    assert_eq!(body["server_info"]["port"], "8081");
    assert_eq!(body["server_info"]["server_protocol"], "http");

    app.say_expecting(ALICE, "/disable viewer", "is now disabled")
        .await;
    assert_eq!(
        login(&app, "viewer", &pass).await.1["user_info"]["status"],
        "Disabled"
    );
    app.say_expecting(ALICE, "/enable viewer", "is now enabled")
        .await;
    assert_eq!(
        login(&app, "viewer", &pass).await.1["user_info"]["status"],
        "Active"
    );

    let extend = app
        .say_expecting(ALICE, "/extend viewer 10", "Extend")
        .await;
    app.press(ALICE, &extend, "Confirm").await;
    let exp2: i64 = login(&app, "viewer", &pass).await.1["user_info"]["exp_date"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(exp2 - exp, 10 * 86_400);

    let reset = app.say_expecting(ALICE, "/reset viewer", "Reset").await;
    let new_pass = password(&app.press(ALICE, &reset, "Confirm").await.text);
    assert_eq!(
        login(&app, "viewer", &pass).await.1["user_info"]["auth"],
        0,
        "the old password stops at once"
    );
    assert_eq!(
        login(&app, "viewer", &new_pass).await.1["user_info"]["auth"],
        1
    );

    app.core
        .set_expiry_for_tests("viewer", chrono::Utc::now() - chrono::Duration::days(1))
        .await;
    assert_eq!(
        login(&app, "viewer", &new_pass).await.1["user_info"]["status"],
        "Expired"
    );

    app.say_expecting(ADMIN, "/perm alice can_delete_users on", "is on")
        .await;
    let delete = app.say_expecting(ALICE, "/delete viewer", "Delete").await;
    app.press(ALICE, &delete, "Confirm").await;
    assert_eq!(
        login(&app, "viewer", &new_pass).await.1["user_info"]["auth"],
        0,
        "a deleted subscriber is refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_and_unknown_users_look_the_same_and_guessing_is_slowed() {
    let app = TestApp::spawn().await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 10).await;
    let card = app.say_expecting(ALICE, "/new 10 known", "Create").await;
    app.press(ALICE, &card, "Confirm").await;
    let wrong = login(&app, "known", "not-the-password").await;
    let unknown = login(&app, "nobody", "not-the-password").await;
    assert_eq!(wrong, unknown);
    assert_eq!(wrong.1, serde_json::json!({ "user_info": { "auth": 0 } }));
    let mut statuses = Vec::new();
    for i in 0..30 {
        statuses.push(login(&app, "known", &format!("guess{i}")).await.0);
    }
    assert!(
        statuses.contains(&429),
        "failed logins from one address are rate limited: {statuses:?}"
    );
}

/// Serves `body` at `/playlist.m3u` on a local port; returns its URL.
async fn serve_playlist(body: &'static str) -> String {
    let router = axum::Router::new().route(
        "/playlist.m3u",
        axum::routing::get(move || async move { body }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/playlist.m3u", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

const PLAYLIST: &str = "#EXTM3U\n\
#EXTINF:-1 tvg-id=\"news1\" tvg-logo=\"http://logos/n1.png\" group-title=\"News\",News One\nhttp://origin/news1.ts\n\
#EXTINF:-1 tvg-id=\"news2\" group-title=\"News\",News Two\nhttp://origin/news2.ts\n\
#EXTINF:-1 tvg-id=\"sport1\" group-title=\"Sports\",Sport One\nhttp://origin/sport1.ts\n";

async fn get(app: &TestApp, path: &str, query: &[(&str, &str)]) -> (u16, String) {
    let resp = reqwest::Client::new()
        .get(format!("http://{}{path}", app.http))
        .query(query)
        .send()
        .await
        .expect("answers");
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_channels_reach_players_as_categories_streams_and_a_playlist() {
    let app = TestApp::spawn_with(|s| {
        s.stream_url = "http://stream.example.test:8081/".parse().unwrap();
        s.channels.import_allow_hosts = vec!["127.0.0.1".into()];
    })
    .await;
    let url = serve_playlist(PLAYLIST).await;
    let refused = app
        .say(ADMIN, "/channels import http://127.0.0.1:1/nothing.m3u")
        .await;
    assert!(
        refused.text.contains("Could not read the playlist"),
        "{}",
        refused.text
    );
    let imported = app
        .say_expecting(ADMIN, &format!("/channels import {url}"), "Imported")
        .await;
    assert!(
        imported
            .text
            .contains("Imported 3 channels in 2 categories"),
        "{}",
        imported.text
    );
    // The same playlist uploaded as a file gives the same list.
    let before = app.tg.sent().len();
    app.tg
        .send_document(ADMIN, "playlist.m3u", PLAYLIST, "/channels import");
    let uploaded = app.tg.wait_for(ADMIN, before, "Imported").await;
    assert!(
        uploaded
            .text
            .contains("Imported 3 channels in 2 categories; 0 channels"),
        "{}",
        uploaded.text
    );
    let summary = app.say_expecting(ADMIN, "/channels", "channels in").await;
    assert!(
        summary.text.contains("• News — 2") && summary.text.contains("• Sports — 1"),
        "{}",
        summary.text
    );

    app.reseller("alice", ALICE).await;
    app.grant("alice", 10).await;
    let card = app.say_expecting(ALICE, "/new 10 watcher", "Create").await;
    let pass = password(&app.press(ALICE, &card, "Confirm").await.text);
    let creds = [("username", "watcher"), ("password", pass.as_str())];

    let (_, cats) = get(
        &app,
        "/player_api.php",
        &[creds[0], creds[1], ("action", "get_live_categories")],
    )
    .await;
    let cats: Value = serde_json::from_str(&cats).unwrap();
    let names: Vec<&str> = cats
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["category_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["News", "Sports"]);
    let news_id = cats[0]["category_id"].as_str().unwrap().to_string();
    let (_, streams) = get(
        &app,
        "/player_api.php",
        &[
            creds[0],
            creds[1],
            ("action", "get_live_streams"),
            ("category_id", &news_id),
        ],
    )
    .await;
    let streams: Value = serde_json::from_str(&streams).unwrap();
    let names: Vec<&str> = streams
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["News One", "News Two"]);
    assert_eq!(streams[0]["stream_icon"], "http://logos/n1.png");
    assert_eq!(streams[0]["category_id"], news_id.as_str());
    let stream_id = streams[0]["stream_id"].as_i64().unwrap();

    let (status, m3u) = get(
        &app,
        "/get.php",
        &[creds[0], creds[1], ("type", "m3u_plus"), ("output", "ts")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(m3u.starts_with("#EXTM3U url-tvg=\""), "{m3u}");
    assert!(m3u.contains("group-title=\"News\",News One\n"), "{m3u}");
    assert!(
        m3u.contains(&format!(
            "http://stream.example.test:8081/live/watcher/{pass}/{stream_id}.ts"
        )),
        "{m3u}"
    );
    let (_, hls) = get(
        &app,
        "/get.php",
        &[creds[0], creds[1], ("type", "m3u_plus"), ("output", "m3u8")],
    )
    .await;
    assert!(hls.contains(&format!("/{stream_id}.m3u8")), "{hls}");
    assert_eq!(
        get(&app, "/get.php", &[creds[0], ("password", "wrong")])
            .await
            .0,
        403
    );

    // A refreshed playlist keeps the ids of channels still in it and drops the rest.
    let url2 = serve_playlist(
        "#EXTM3U\n#EXTINF:-1 group-title=\"News\",News One (renamed)\nhttp://origin/news1.ts\n",
    )
    .await;
    let again = app
        .say_expecting(ADMIN, &format!("/channels import {url2}"), "Imported")
        .await;
    assert!(
        again
            .text
            .contains("2 channels no longer in the playlist were removed"),
        "{}",
        again.text
    );
    let (_, streams) = get(
        &app,
        "/player_api.php",
        &[creds[0], creds[1], ("action", "get_live_streams")],
    )
    .await;
    let streams: Value = serde_json::from_str(&streams).unwrap();
    assert_eq!(streams.as_array().unwrap().len(), 1);
    assert_eq!(
        (
            streams[0]["stream_id"].as_i64(),
            streams[0]["name"].as_str()
        ),
        (Some(stream_id), Some("News One (renamed)"))
    );

    app.say_expecting(ALICE, "/disable watcher", "disabled")
        .await;
    assert_eq!(get(&app, "/get.php", &[creds[0], creds[1]]).await.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_authorization_enforces_max_connections_and_kicks() {
    let app = TestApp::spawn().await;
    app.tg
        .send_document(ADMIN, "playlist.m3u", PLAYLIST, "/channels import");
    app.tg.wait_for(ADMIN, 0, "Imported").await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 10).await;
    let card = app.say_expecting(ALICE, "/new 10 streamer", "Create").await;
    let pass = password(&app.press(ALICE, &card, "Confirm").await.text);
    let check = |session: &'static str, password: String| {
        let app = &app;
        async move {
            let q = [
                ("username", "streamer"),
                ("password", password.as_str()),
                ("session", session),
                ("stream", "1"),
            ];
            get(app, "/auth/stream", &q).await
        }
    };
    for s in ["s1", "s2", "s3"] {
        assert_eq!(check(s, pass.clone()).await.0, 200, "{s}");
    }
    let (status, why) = check("s4", pass.clone()).await;
    assert_eq!((status, why.as_str()), (403, "too many connections"));
    assert_eq!(
        check("s1", pass.clone()).await.0,
        200,
        "a heartbeat of a known session is allowed"
    );
    let card = app.say_expecting(ALICE, "/user streamer", "streamer").await;
    assert!(card.text.contains("Connections: 3 of 3"), "{}", card.text);
    assert_eq!(
        login(&app, "streamer", &pass).await.1["user_info"]["active_cons"],
        "3"
    );
    let stats = app.say_expecting(ALICE, "/stats", "Dashboard").await;
    assert!(stats.text.contains("Connections now: 3"), "{}", stats.text);

    let end = [
        ("username", "streamer"),
        ("password", pass.as_str()),
        ("session", "s3"),
    ];
    assert_eq!(get(&app, "/auth/stream/end", &end).await.0, 204);
    assert_eq!(
        check("s4", pass.clone()).await.0,
        200,
        "the freed slot is usable"
    );
    assert_eq!(check("s5", "wrong".into()).await.0, 403);

    let kicked = app.say(ALICE, "/kick streamer").await;
    assert!(
        kicked.text.contains("Ended 3 connection(s)"),
        "{}",
        kicked.text
    );
    assert_eq!(
        check("s1", pass.clone()).await.0,
        403,
        "a kicked session is refused"
    );
    let card = app.say_expecting(ALICE, "/user streamer", "streamer").await;
    assert!(card.text.contains("Connections: 0 of 3"), "{}", card.text);

    app.say_expecting(ALICE, "/disable streamer", "disabled")
        .await;
    assert_eq!(
        check("s9", pass.clone()).await.0,
        403,
        "a disabled subscriber cannot start a stream"
    );
}

/// The category names `player_api.php` lists for these credentials.
async fn categories(app: &TestApp, creds: &[(&str, &str); 2]) -> Vec<String> {
    let (_, body) = get(
        app,
        "/player_api.php",
        &[creds[0], creds[1], ("action", "get_live_categories")],
    )
    .await;
    let v: Value = serde_json::from_str(&body).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| c["category_name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bouquets_limit_what_resellers_sell_and_subscribers_get() {
    let app =
        TestApp::spawn_with(|s| s.channels.import_allow_hosts = vec!["127.0.0.1".into()]).await;
    let url = serve_playlist(PLAYLIST).await;
    app.say_expecting(ADMIN, &format!("/channels import {url}"), "Imported")
        .await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 10).await;
    let card = app.say_expecting(ALICE, "/new 10 bundled", "Create").await;
    let pass = password(&app.press(ALICE, &card, "Confirm").await.text);
    let creds = [("username", "bundled"), ("password", pass.as_str())];
    assert_eq!(categories(&app, &creds).await, ["News", "Sports"]);

    let unknown = app.say(ADMIN, "/bouquet alice Movies").await;
    assert!(
        unknown
            .text
            .contains("There is no category “Movies”. The categories are: News, Sports."),
        "{}",
        unknown.text
    );
    app.say_expecting(ADMIN, "/bouquet alice News", "now gets 1 categories")
        .await;
    assert_eq!(
        categories(&app, &creds).await,
        ["News"],
        "the subscriber follows the reseller's bouquet at once"
    );
    let (_, m3u) = get(&app, "/get.php", &[creds[0], creds[1]]).await;
    assert!(
        m3u.contains("News One") && !m3u.contains("Sport One"),
        "{m3u}"
    );

    let refused = app.say(ALICE, "/bouquet bundled Sports").await;
    assert!(
        refused
            .text
            .contains("only give categories your admin allows"),
        "{}",
        refused.text
    );
    app.say_expecting(ADMIN, "/bouquet alice all", "every category")
        .await;
    app.say_expecting(ALICE, "/bouquet bundled Sports", "now gets 1 categories")
        .await;
    assert_eq!(categories(&app, &creds).await, ["Sports"]);
    let (_, streams) = get(
        &app,
        "/player_api.php",
        &[creds[0], creds[1], ("action", "get_live_streams")],
    )
    .await;
    let streams: Value = serde_json::from_str(&streams).unwrap();
    assert_eq!(streams.as_array().unwrap().len(), 1);
    assert_eq!(streams[0]["name"], "Sport One");
}

/// Imports `playlist` as an uploaded file and waits for the report.
async fn import_file(app: &TestApp, playlist: &str) -> String {
    let before = app.tg.sent().len();
    app.tg
        .send_document(ADMIN, "playlist.m3u", playlist, "/channels import");
    app.tg.wait_for(ADMIN, before, "Imported").await.text
}

/// A subscriber `name` of reseller alice (created here); returns its password.
async fn subscriber(app: &TestApp, name: &str) -> String {
    let card = app
        .say_expecting(ALICE, &format!("/new 10 {name}"), "Create")
        .await;
    password(&app.press(ALICE, &card, "Confirm").await.text)
}

async fn action(app: &TestApp, user: &str, pass: &str, action: &str) -> (u16, Value) {
    let (status, body) = get(
        app,
        "/player_api.php",
        &[("username", user), ("password", pass), ("action", action)],
    )
    .await;
    let json = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{action}: {body}"));
    (status, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_a_player_sends_answers_its_shape_in_every_subscriber_state() {
    let app = TestApp::spawn().await;
    import_file(&app, PLAYLIST).await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 100).await;
    let mut users = Vec::new();
    for name in ["active", "expired", "disabled"] {
        users.push((name, subscriber(&app, name).await));
    }
    app.core
        .set_expiry_for_tests("expired", chrono::Utc::now() - chrono::Duration::days(1))
        .await;
    app.say_expecting(ALICE, "/disable disabled", "disabled")
        .await;

    for (name, pass) in &users {
        let watching = *name == "active";
        let status = match *name {
            "active" => "Active",
            "expired" => "Expired",
            _ => "Disabled",
        };
        // The login body: no action, the profile aliases players send, and unknown actions.
        for login in [
            "",
            "get_profile",
            "get_account_info",
            "get_user_info",
            "get_server_info",
            "no_such_action",
        ] {
            let (code, body) = action(&app, name, pass, login).await;
            assert_eq!(code, 200, "{name} {login}");
            assert_eq!(body["user_info"]["auth"], 1, "{name} {login}: {body}");
            assert_eq!(body["user_info"]["status"], status, "{name} {login}");
            assert!(body["server_info"]["url"].is_string(), "{name} {login}");
        }
        // Lists: live ones hold the channels only for those who may watch; VOD and series are
        // empty with no catalogue imported.
        for (list, len) in [
            ("get_live_categories", 2),
            ("get_live_streams", 3),
            ("get_vod_categories", 0),
            ("get_vod_streams", 0),
            ("get_series_categories", 0),
            ("get_series", 0),
        ] {
            let (code, body) = action(&app, name, pass, list).await;
            assert_eq!(code, 200, "{name} {list}");
            let items = body.as_array().unwrap_or_else(|| panic!("{list}: {body}"));
            assert_eq!(items.len(), if watching { len } else { 0 }, "{name} {list}");
        }
        let (code, vod) = action(&app, name, pass, "get_vod_info").await;
        assert_eq!(
            (code, vod),
            (200, serde_json::json!({ "info": [], "movie_data": [] })),
            "{name}"
        );
        let (code, series) = action(&app, name, pass, "get_series_info").await;
        assert_eq!(
            (code, series),
            (
                200,
                serde_json::json!({ "seasons": [], "info": [], "episodes": {} })
            ),
            "{name}"
        );
        for epg in [
            "get_short_epg",
            "get_simple_data_table",
            "get_simple_date_table",
        ] {
            let (code, body) = action(&app, name, pass, epg).await;
            assert_eq!(
                (code, body),
                (200, serde_json::json!({ "epg_listings": [] })),
                "{name} {epg}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_js_client_lists_channels_after_get_profile_and_android_apps_log_in_by_post() {
    let first_import = chrono::Utc::now().timestamp();
    let app = TestApp::spawn().await;
    import_file(&app, PLAYLIST).await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 10).await;
    let pass = subscriber(&app, "viewer").await;

    // @iptv/xtream-api: get_profile first, then the streams with XUI.one's `category_ids`.
    let (code, profile) = action(&app, "viewer", &pass, "get_profile").await;
    assert_eq!(
        (code, &profile["user_info"]["auth"]),
        (200, &Value::from(1))
    );
    let (_, streams) = action(&app, "viewer", &pass, "get_live_streams").await;
    let streams = streams.as_array().expect("a list").clone();
    assert_eq!(streams.len(), 3);
    for s in &streams {
        let category: i64 = s["category_id"].as_str().unwrap().parse().unwrap();
        assert_eq!(s["category_ids"], serde_json::json!([category]), "{s}");
        let added: i64 = s["added"].as_str().unwrap().parse().unwrap();
        assert!(
            (first_import..=chrono::Utc::now().timestamp()).contains(&added),
            "{s}"
        );
    }
    // A re-import a second later keeps each channel's first import time.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    import_file(&app, PLAYLIST).await;
    let (_, again) = action(&app, "viewer", &pass, "get_live_streams").await;
    let added = |list: &[Value]| -> Vec<(i64, String)> {
        list.iter()
            .map(|s| {
                (
                    s["stream_id"].as_i64().unwrap(),
                    s["added"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(added(again.as_array().unwrap()), added(&streams));

    // POST with a form body, and the form wins over the query as PHP's $_REQUEST does.
    let client = reqwest::Client::new();
    let posted = client
        .post(format!("http://{}/player_api.php", app.http))
        .query(&[("username", "viewer"), ("password", "wrong")])
        .form(&[("username", "viewer"), ("password", pass.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status().as_u16(), 200);
    let body: Value = posted.json().await.unwrap();
    assert_eq!(body["user_info"]["auth"], 1, "{body}");
    let posted = client
        .post(format!("http://{}/player_api.php", app.http))
        .form(&[
            ("username", "viewer"),
            ("password", pass.as_str()),
            ("action", "get_live_categories"),
        ])
        .send()
        .await
        .unwrap();
    let cats: Value = posted.json().await.unwrap();
    assert_eq!(cats.as_array().map(Vec::len), Some(2), "{cats}");
    let playlist = client
        .post(format!("http://{}/get.php", app.http))
        .form(&[("username", "viewer"), ("password", pass.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(playlist.status().as_u16(), 200);
    assert!(playlist.text().await.unwrap().contains("News One"));

    // HEAD, as players probe the server before logging in.
    for path in ["/player_api.php", "/get.php"] {
        let head = client
            .head(format!("http://{}{path}", app.http))
            .query(&[("username", "viewer"), ("password", pass.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(head.status().as_u16(), 200, "{path}");
    }
}

/// `#EXTINF` attributes as a strict parser reads them: `key="value"` pairs separated by spaces,
/// no quote inside a value, then a comma and the name. `None` for anything else.
fn strict_extinf(line: &str) -> Option<(Vec<(String, String)>, String)> {
    let mut rest = line.strip_prefix("#EXTINF:-1")?;
    let mut attributes = Vec::new();
    loop {
        if let Some(name) = rest.strip_prefix(',') {
            return Some((attributes, name.to_string()));
        }
        rest = rest.strip_prefix(' ')?;
        let (key, after) = rest.split_once("=\"")?;
        if key.is_empty() || key.contains([' ', '"', ',']) {
            return None;
        }
        let (value, after) = after.split_once('"')?;
        attributes.push((key.to_string(), value.to_string()));
        rest = after;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotes_in_names_groups_and_logos_survive_a_strict_m3u_parser() {
    let app = TestApp::spawn_with(|s| {
        s.stream_url = "http://stream.example.test:8081".parse().unwrap();
    })
    .await;
    // Panels write quotes inside attribute values as they are; the import keeps them.
    let playlist = "#EXTM3U\n#EXTINF:-1 tvg-id=\"q1\" tvg-logo=\"http://logos/\"q\".png\" group-title=\"A \"B\"\",He said \"hi\"\nhttp://origin/q.ts\n";
    import_file(&app, playlist).await;
    app.reseller("alice", ALICE).await;
    app.grant("alice", 10).await;
    let pass = subscriber(&app, "quoted").await;
    let (status, m3u) = get(
        &app,
        "/get.php",
        &[
            ("username", "quoted"),
            ("password", &pass),
            ("type", "m3u_plus"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let mut lines = m3u.lines();
    assert_eq!(
        lines.next(),
        Some(
            format!(
                "#EXTM3U url-tvg=\"http://stream.example.test:8081/xmltv.php?username=quoted&password={pass}\" \
                 x-tvg-url=\"http://stream.example.test:8081/xmltv.php?username=quoted&password={pass}\""
            )
            .as_str()
        )
    );
    let (attributes, name) = strict_extinf(lines.next().unwrap()).expect("strictly parsable");
    assert_eq!(name, "He said \"hi\"");
    let attribute = |key: &str| {
        attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(attribute("tvg-name"), Some("He said 'hi'"));
    assert_eq!(attribute("group-title"), Some("A 'B'"));
    assert_eq!(attribute("tvg-logo"), Some("http://logos/'q'.png"));
    assert_eq!(attribute("tvg-id"), Some("q1"));
    assert!(lines.next().unwrap().ends_with(".ts"), "{m3u}");
}
