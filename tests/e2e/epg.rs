//! The programme guide: a gzip XMLTV source fetched by URL (conditionally the second time),
//! its window, the player API's short EPG and data table, `xmltv.php` filtered by bouquets,
//! `/epg map` for a channel without a `tvg-id`, the status, uploads, and the address rules.

use crate::support::{ADMIN, TestApp};
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use serde_json::Value;
use std::io::Write;
use std::sync::{Arc, Mutex};

const ALICE: i64 = 2_301;

const PLAYLIST: &str = "#EXTM3U\n\
#EXTINF:-1 tvg-id=\"news.uk\" group-title=\"News\",News One\nhttp://origin/news1.ts\n\
#EXTINF:-1 tvg-id=\"sport.uk\" group-title=\"Sports\",Sport One\nhttp://origin/sport1.ts\n\
#EXTINF:-1 group-title=\"Films\",Film One\nhttp://origin/film1.ts\n";

/// An XMLTV time `offset` seconds from now.
fn at(now: i64, offset: i64) -> String {
    chrono::DateTime::from_timestamp(now + offset, 0)
        .unwrap()
        .format("%Y%m%d%H%M%S +0000")
        .to_string()
}

/// News: one programme 3 days ago and one 10 days ahead (both outside the window), one that
/// ended yesterday, the one on now, and four after it; Sport and Film one each, on now.
fn guide(now: i64) -> String {
    let h = 3600;
    let p = |ch: &str, from: i64, to: i64, title: &str| {
        format!(
            "<programme start=\"{}\" stop=\"{}\" channel=\"{ch}\"><title lang=\"en\">{title}</title><desc>About {title}</desc></programme>\n",
            at(now, from),
            at(now, to)
        )
    };
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<tv>\n\
         <channel id=\"news.uk\"><display-name>News</display-name></channel>\n\
         <channel id=\"sport.uk\"><display-name>Sport</display-name></channel>\n\
         <channel id=\"film.tv\"><display-name>Film</display-name></channel>\n",
    );
    xml += &p("news.uk", -72 * h, -71 * h, "Old news");
    xml += &p("news.uk", -24 * h, -23 * h, "Yesterday");
    xml += &p("news.uk", -h / 2, h / 2, "News now");
    for i in 0..4 {
        xml += &p(
            "news.uk",
            h / 2 + i * h,
            h / 2 + (i + 1) * h,
            &format!("Next {}", i + 1),
        );
    }
    xml += &p("news.uk", 240 * h, 241 * h, "Far ahead");
    xml += &p("sport.uk", -h, h, "Match");
    xml += &p("film.tv", -h, h, "Film &amp; fun");
    xml + "</tv>\n"
}

fn gzip(text: &str) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap()
}

/// A guide server with ETag `"v1"`: it answers 304 to a request that names it. Returns its
/// URL and the `If-None-Match` of each request.
async fn serve_guide(body: Vec<u8>) -> (String, Arc<Mutex<Vec<Option<String>>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let route = axum::routing::get(move |headers: HeaderMap| {
        let (body, log) = (body.clone(), log.clone());
        async move {
            let tag = headers
                .get(header::IF_NONE_MATCH)
                .map(|v| v.to_str().unwrap().to_string());
            log.lock().unwrap().push(tag.clone());
            if tag.as_deref() == Some("\"v1\"") {
                return (
                    StatusCode::NOT_MODIFIED,
                    [(header::ETAG, "\"v1\"")],
                    Vec::new(),
                );
            }
            (StatusCode::OK, [(header::ETAG, "\"v1\"")], body)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/guide.xml.gz?token=s3cret",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().route("/guide.xml.gz", route)).await
    });
    (url, seen)
}

async fn api(app: &TestApp, pass: &str, query: &[(&str, &str)]) -> Value {
    let resp = reqwest::Client::new()
        .get(format!("http://{}/player_api.php", app.http))
        .query(&[("username", "viewer"), ("password", pass)])
        .query(query)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// A reseller `alice` with one subscriber `viewer`; returns the subscriber's password.
async fn viewer(app: &TestApp) -> String {
    app.reseller("alice", ALICE).await;
    app.grant("alice", 10).await;
    let card = app.say_expecting(ALICE, "/new 10 viewer", "Create").await;
    let text = app.press(ALICE, &card, "Confirm").await.text;
    text.split("Password: <code>")
        .nth(1)
        .and_then(|s| s.split("</code>").next())
        .unwrap()
        .to_string()
}

/// Stream ids by channel name.
async fn streams(app: &TestApp, pass: &str) -> std::collections::HashMap<String, String> {
    api(app, pass, &[("action", "get_live_streams")])
        .await
        .as_array()
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

fn titles(listing: &Value) -> Vec<String> {
    listing["epg_listings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(l["title"].as_str().unwrap())
                    .unwrap(),
            )
            .unwrap()
        })
        .collect()
}

/// `xmltv.php` read back with quick-xml: the channel ids, and (channel, title) of each programme.
async fn xmltv(app: &TestApp, pass: &str) -> (Vec<String>, Vec<(String, String)>) {
    let resp = reqwest::Client::new()
        .post(format!("http://{}/xmltv.php", app.http))
        .query(&[("username", "viewer"), ("password", pass)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.unwrap();
    let mut reader = quick_xml::Reader::from_str(&body);
    let (mut channels, mut programmes) = (Vec::new(), Vec::new());
    // The programme being read, and its title once its `<title>` opens.
    let (mut programme, mut title): (Option<String>, Option<String>) = (None, None);
    loop {
        match reader.read_event().expect("xmltv.php is valid XML") {
            quick_xml::events::Event::Start(e) => {
                let attr = |n: &str| {
                    e.try_get_attribute(n)
                        .unwrap()
                        .map(|a| a.unescape_value().unwrap().into_owned())
                };
                match e.name().as_ref() {
                    b"channel" => channels.push(attr("id").unwrap()),
                    b"programme" => programme = attr("channel"),
                    b"title" => title = Some(String::new()),
                    _ => {}
                }
            }
            quick_xml::events::Event::Text(t) => {
                if let Some(title) = title.as_mut() {
                    title.push_str(&t.xml_content().unwrap());
                }
            }
            quick_xml::events::Event::GeneralRef(r) => {
                if let Some(title) = title.as_mut() {
                    title.push_str(
                        quick_xml::escape::resolve_predefined_entity(&r.decode().unwrap()).unwrap(),
                    );
                }
            }
            quick_xml::events::Event::End(e) if e.name().as_ref() == b"title" => {
                programmes.push((programme.clone().unwrap(), title.take().unwrap()));
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    (channels, programmes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_guide_by_url_serves_players_within_their_bouquets() {
    let app =
        TestApp::spawn_with(|s| s.channels.import_allow_hosts = vec!["127.0.0.1".into()]).await;
    let before = app.tg.sent().len();
    app.tg
        .send_document(ADMIN, "playlist.m3u", PLAYLIST, "/channels import");
    app.tg.wait_for(ADMIN, before, "Imported").await;
    let now = chrono::Utc::now().timestamp();
    let (url, seen) = serve_guide(gzip(&guide(now))).await;

    let done = app
        .say_expecting(ADMIN, &format!("/epg source {url}"), "Guide")
        .await
        .text;
    assert!(
        done.contains("8 programmes of 3 channels; 2 outside the window were dropped"),
        "{done}"
    );
    let pass = viewer(&app).await;
    let ids = streams(&app, &pass).await;
    let (news, sport, film) = (&ids["News One"], &ids["Sport One"], &ids["Film One"]);

    let short = api(
        &app,
        &pass,
        &[
            ("action", "get_short_epg"),
            ("stream_id", news),
            ("limit", "2"),
        ],
    )
    .await;
    assert_eq!(titles(&short), ["News now", "Next 1"]);
    let first = &short["epg_listings"][0];
    let start: i64 = first["start_timestamp"].as_str().unwrap().parse().unwrap();
    assert_eq!(start, now - 1800);
    assert_eq!(
        first["stop_timestamp"].as_str().unwrap(),
        (now + 1800).to_string()
    );
    assert_eq!(
        first["start"].as_str().unwrap(),
        chrono::DateTime::from_timestamp(start, 0)
            .unwrap()
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    );
    assert_eq!(first["channel_id"], "news.uk");
    assert_eq!(first["lang"], "en");
    let description = base64::engine::general_purpose::STANDARD
        .decode(first["description"].as_str().unwrap())
        .unwrap();
    assert_eq!(description, b"About News now");
    let default = api(
        &app,
        &pass,
        &[("action", "get_short_epg"), ("stream_id", news)],
    )
    .await;
    assert_eq!(
        titles(&default),
        ["News now", "Next 1", "Next 2", "Next 3"],
        "four by default"
    );

    for spelling in ["get_simple_data_table", "get_simple_date_table"] {
        let table = api(&app, &pass, &[("action", spelling), ("stream_id", news)]).await;
        assert_eq!(
            titles(&table),
            [
                "Yesterday",
                "News now",
                "Next 1",
                "Next 2",
                "Next 3",
                "Next 4"
            ]
        );
        let playing: Vec<i64> = table["epg_listings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["now_playing"].as_i64().unwrap())
            .collect();
        assert_eq!(playing, [0, 1, 0, 0, 0, 0]);
    }

    // Film One has no tvg-id: no guide until the admin maps it.
    let status = app
        .say_expecting(ADMIN, "/epg", "Programme guide")
        .await
        .text;
    assert!(status.contains("Programmes held: 8"), "{status}");
    assert!(
        status.contains("Channels without a guide: 1\n• Film One"),
        "{status}"
    );
    assert!(
        !status.contains("s3cret") && status.contains("guide.xml.gz?…"),
        "{status}"
    );
    assert!(
        titles(
            &api(
                &app,
                &pass,
                &[("action", "get_short_epg"), ("stream_id", film)]
            )
            .await
        )
        .is_empty()
    );
    let refused = app
        .say_expecting(ADMIN, "/epg map Film One film.uk", "guide")
        .await
        .text;
    assert!(
        refused.contains("no channel with the id “film.uk”"),
        "{refused}"
    );
    let mapped = app
        .say_expecting(ADMIN, "/epg map film one film.tv", "now shows")
        .await
        .text;
    assert!(
        mapped.contains("Film One now shows the guide of film.tv (1 programmes held)"),
        "{mapped}"
    );
    assert_eq!(
        titles(
            &api(
                &app,
                &pass,
                &[("action", "get_short_epg"), ("stream_id", film)]
            )
            .await
        ),
        ["Film & fun"]
    );
    assert!(
        app.say_expecting(ADMIN, "/epg", "Programme guide")
            .await
            .text
            .contains("Every channel has a guide.")
    );

    let (channels, programmes) = xmltv(&app, &pass).await;
    assert_eq!(channels, ["news.uk", "sport.uk", "film.tv"]);
    assert_eq!(programmes.len(), 8);
    assert!(programmes.contains(&("film.tv".into(), "Film & fun".into())));

    // Bouquets: Sports is not sold to alice, so its guide is not given either.
    app.say_expecting(ADMIN, "/bouquet alice News, Films", "now gets 2 categories")
        .await;
    let (channels, programmes) = xmltv(&app, &pass).await;
    assert_eq!(channels, ["news.uk", "film.tv"]);
    assert!(
        programmes.iter().all(|(ch, _)| ch != "sport.uk"),
        "{programmes:?}"
    );
    assert!(
        titles(
            &api(
                &app,
                &pass,
                &[("action", "get_short_epg"), ("stream_id", sport)]
            )
            .await
        )
        .is_empty()
    );
    let wrong = reqwest::get(format!(
        "http://{}/xmltv.php?username=viewer&password=nope",
        app.http
    ))
    .await
    .unwrap();
    assert_eq!(wrong.status(), 403);

    // The second fetch names the ETag; the 304 leaves the guide as it was.
    let again = app.say_expecting(ADMIN, "/epg refresh", "guide").await.text;
    assert!(again.contains("has not changed"), "{again}");
    assert_eq!(*seen.lock().unwrap(), [None, Some("\"v1\"".to_string())]);
    let status = app
        .say_expecting(ADMIN, "/epg", "Programme guide")
        .await
        .text;
    assert!(
        status.contains("Programmes held: 8") && status.contains("not modified"),
        "{status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guide_urls_on_private_addresses_are_refused_and_files_can_be_uploaded() {
    let app = TestApp::spawn().await;
    let now = chrono::Utc::now().timestamp();
    let (url, seen) = serve_guide(gzip(&guide(now))).await;
    let refused = app
        .say_expecting(ADMIN, &format!("/epg source {url}"), "guide")
        .await
        .text;
    assert!(
        refused.contains("not a public address") && refused.contains("channels.import_allow_hosts"),
        "{refused}"
    );
    assert!(
        seen.lock().unwrap().is_empty(),
        "nothing was asked of the private address"
    );

    let before = app.tg.sent().len();
    app.tg
        .send_document(ADMIN, "guide.xml", &guide(now), "/epg source");
    let done = app.tg.wait_for(ADMIN, before, "Guide imported").await.text;
    assert!(done.contains("8 programmes of 3 channels"), "{done}");
    let status = app
        .say_expecting(ADMIN, "/epg", "Programme guide")
        .await
        .text;
    assert!(
        status.contains("Source: uploaded file guide.xml"),
        "{status}"
    );
    assert!(status.contains("Programmes held: 8"), "{status}");
}
