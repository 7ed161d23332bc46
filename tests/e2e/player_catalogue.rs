//! Movies and series from the streaming side's playlist, as players list, inspect, download and
//! open them, within the subscriber's bouquets.

use crate::support::{ADMIN, TestApp};
use serde_json::{Value, json};

const ALICE: i64 = 2_101;

/// Live TV, movies (by `/movie/` URL and by the `VOD:` prefix) and series episodes (by
/// `/series/` URL and by the `Series:` prefix).
const PLAYLIST: &str = "#EXTM3U\n\
#EXTINF:-1 tvg-id=\"news1\" group-title=\"News\",News One\nhttp://origin/news1.ts\n\
#EXTINF:-1 tvg-logo=\"http://logos/film.png\" group-title=\"Films\",Film One\nhttp://origin/movie/u/p/101.mkv\n\
#EXTINF:-1 group-title=\"VOD: Kids\",Cartoon Movie\nhttp://origin/vod/cartoon.mp4\n\
#EXTINF:-1 tvg-logo=\"http://logos/show.png\" group-title=\"Drama\",The Show S01 E01\nhttp://origin/series/u/p/201.mp4\n\
#EXTINF:-1 group-title=\"Drama\",The Show S01E02\nhttp://origin/series/u/p/202.mp4\n\
#EXTINF:-1 group-title=\"Drama\",The Show S02E01\nhttp://origin/series/u/p/203.avi\n\
#EXTINF:-1 group-title=\"Series: Kids\",Cartoon Show S01E01\nhttp://origin/shows/c1.mp4\n";

async fn get(app: &TestApp, path: &str, query: &[(&str, &str)]) -> (u16, String) {
    let resp = reqwest::Client::new()
        .get(format!("http://{}{path}", app.http))
        .query(query)
        .send()
        .await
        .expect("answers");
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// `player_api.php?action=...` for viewer with `extra` parameters.
async fn api(app: &TestApp, pass: &str, action: &str, extra: &[(&str, &str)]) -> Value {
    let mut query = vec![
        ("username", "viewer"),
        ("password", pass),
        ("action", action),
    ];
    query.extend_from_slice(extra);
    let (status, body) = get(app, "/player_api.php", &query).await;
    assert_eq!(status, 200, "{action}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|_| panic!("{action}: {body}"))
}

fn names(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .map(|i| i[field].as_str().unwrap().to_string())
        .collect()
}

async fn open(app: &TestApp, pass: &str, stream: &str, session: &str) -> (u16, String) {
    get(
        app,
        "/auth/stream",
        &[
            ("username", "viewer"),
            ("password", pass),
            ("session", session),
            ("stream", stream),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn movies_and_series_reach_players_within_their_bouquets() {
    let app = TestApp::spawn_with(|s| {
        s.stream_url = "http://stream.example.test:8081".parse().unwrap();
        s.channels.vod_group_prefixes = vec!["VOD:".into()];
        s.channels.series_group_prefixes = vec!["Series:".into()];
    })
    .await;
    let before = app.tg.sent().len();
    app.tg
        .send_document(ADMIN, "playlist.m3u", PLAYLIST, "/channels import");
    let report = app.tg.wait_for(ADMIN, before, "Imported").await.text;
    assert!(
        report.contains("Imported 1 channels in 5 categories")
            && report.contains("2 movies and 4 episodes of 2 series"),
        "{report}"
    );
    app.reseller("alice", ALICE).await;
    app.grant("alice", 10).await;
    let card = app.say_expecting(ALICE, "/new 10 viewer", "Create").await;
    let created = app.press(ALICE, &card, "Confirm").await.text;
    let pass = created
        .split("Password: <code>")
        .nth(1)
        .and_then(|s| s.split("</code>").next())
        .expect("password")
        .to_string();
    let pass = pass.as_str();

    // Each kind lists its own categories; the live list no longer shows the others.
    let live = api(&app, pass, "get_live_categories", &[]).await;
    assert_eq!(names(&live, "category_name"), ["News"]);
    let vod_cats = api(&app, pass, "get_vod_categories", &[]).await;
    assert_eq!(names(&vod_cats, "category_name"), ["Films", "VOD: Kids"]);
    let series_cats = api(&app, pass, "get_series_categories", &[]).await;
    assert_eq!(
        names(&series_cats, "category_name"),
        ["Drama", "Series: Kids"]
    );

    let movies = api(&app, pass, "get_vod_streams", &[]).await;
    assert_eq!(names(&movies, "name"), ["Film One", "Cartoon Movie"]);
    let film = &movies[0];
    let films = vod_cats[0]["category_id"].as_str().unwrap();
    assert_eq!(film["stream_type"], "movie");
    assert_eq!(film["container_extension"], "mkv");
    assert_eq!(film["stream_icon"], "http://logos/film.png");
    assert_eq!(film["category_id"], films);
    assert_eq!(film["category_ids"], json!([films.parse::<i64>().unwrap()]));
    assert!(film["added"].as_str().unwrap().parse::<i64>().unwrap() > 0);
    assert_eq!(movies[1]["container_extension"], "mp4");
    let in_films = api(&app, pass, "get_vod_streams", &[("category_id", films)]).await;
    assert_eq!(names(&in_films, "name"), ["Film One"]);
    let film_id = film["stream_id"].as_i64().unwrap().to_string();

    let info = api(&app, pass, "get_vod_info", &[("vod_id", &film_id)]).await;
    assert_eq!(info["info"]["name"], "Film One");
    assert_eq!(info["movie_data"]["stream_id"].to_string(), film_id);
    assert_eq!(info["movie_data"]["container_extension"], "mkv");
    assert_eq!(
        api(&app, pass, "get_vod_info", &[("vod_id", "999999")]).await,
        json!({ "info": [], "movie_data": [] })
    );

    let series = api(&app, pass, "get_series", &[]).await;
    assert_eq!(names(&series, "name"), ["The Show", "Cartoon Show"]);
    assert_eq!(series[0]["cover"], "http://logos/show.png");
    let show_id = series[0]["series_id"].as_i64().unwrap().to_string();
    let show = api(&app, pass, "get_series_info", &[("series_id", &show_id)]).await;
    assert_eq!(show["info"]["name"], "The Show");
    let seasons: Vec<i64> = show["seasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["season_number"].as_i64().unwrap())
        .collect();
    assert_eq!(seasons, [1, 2]);
    let first = show["episodes"]["1"].as_array().expect("season 1");
    assert_eq!(
        first
            .iter()
            .map(|e| (
                e["episode_num"].as_i64().unwrap(),
                e["season"].as_i64().unwrap()
            ))
            .collect::<Vec<_>>(),
        [(1, 1), (2, 1)]
    );
    assert_eq!(show["episodes"]["2"][0]["container_extension"], "avi");
    let episode_id = first[0]["id"].as_str().expect("ids as strings").to_string();
    assert_eq!(
        api(&app, pass, "get_series_info", &[("series_id", "999999")]).await,
        json!({ "seasons": [], "info": [], "episodes": {} })
    );

    // get.php lists them in the /movie/ and /series/ URL forms.
    let (_, m3u) = get(
        &app,
        "/get.php",
        &[("username", "viewer"), ("password", pass)],
    )
    .await;
    let base = "http://stream.example.test:8081";
    assert!(
        m3u.contains(&format!("{base}/movie/viewer/{pass}/{film_id}.mkv"))
            && m3u.contains(&format!("{base}/series/viewer/{pass}/{episode_id}.mp4"))
            && m3u.contains("group-title=\"Films\",Film One\n"),
        "{m3u}"
    );

    // The streaming server may open them by their paths.
    let movie_path = format!("/movie/viewer/{pass}/{film_id}.mkv");
    let episode_path = format!("/series/viewer/{pass}/{episode_id}.mp4");
    assert_eq!(open(&app, pass, &movie_path, "m1").await.0, 200);
    assert_eq!(open(&app, pass, &episode_path, "e1").await.0, 200);
    assert_eq!(
        open(
            &app,
            pass,
            &format!("/movie/viewer/{pass}/999999.mkv"),
            "m2"
        )
        .await,
        (403, "unknown stream".into())
    );

    // A bouquet without Films hides the movies everywhere and refuses to open them.
    app.say_expecting(ADMIN, "/bouquet alice News, Drama", "now gets 2 categories")
        .await;
    assert!(api(&app, pass, "get_vod_categories", &[]).await == json!([]));
    assert_eq!(api(&app, pass, "get_vod_streams", &[]).await, json!([]));
    assert_eq!(
        api(&app, pass, "get_vod_info", &[("vod_id", &film_id)]).await,
        json!({ "info": [], "movie_data": [] })
    );
    assert_eq!(
        names(&api(&app, pass, "get_series", &[]).await, "name"),
        ["The Show"]
    );
    assert_eq!(
        open(&app, pass, &movie_path, "m3").await,
        (403, "this channel is not in the subscription".into())
    );
    assert_eq!(open(&app, pass, &episode_path, "e1").await.0, 200);
    let (_, m3u) = get(
        &app,
        "/get.php",
        &[("username", "viewer"), ("password", pass)],
    )
    .await;
    assert!(
        !m3u.contains("/movie/") && m3u.contains("/series/") && !m3u.contains("Cartoon"),
        "{m3u}"
    );
}
