//! Movies and series in the Xtream shapes: `get_vod_categories`, `get_vod_streams`,
//! `get_vod_info`, `get_series_categories`, `get_series`, `get_series_info`, filtered by the
//! subscriber's bouquets like live channels. `direct_source` stays empty: players build
//! `/movie/USER/PASS/ID.ext` and `/series/USER/PASS/ID.ext` from the id and
//! `container_extension`, as with Xtream panels.

use reseller_core::access::Access;
use reseller_core::catalogue::{Episode, Movie, Series};
use reseller_core::{Core, Result};
use serde_json::{Map, Value, json};

fn movie_data(m: &Movie) -> Value {
    json!({
        "stream_id": m.id, "name": m.name, "added": m.added_at.to_string(),
        "category_id": m.category_id.to_string(), "category_ids": [m.category_id],
        "container_extension": m.container, "custom_sid": "", "direct_source": "",
    })
}

pub(super) async fn movies(core: &Core, access: &Access, category: Option<i64>) -> Result<Value> {
    let movies = core.movies(category).await?;
    Ok(movies
        .iter()
        .filter(|m| access.may_watch(m.category_id))
        .map(|m| {
            let mut item = movie_data(m);
            if let Value::Object(fields) = &mut item {
                fields.extend(Map::from_iter([
                    ("num".into(), json!(m.num)),
                    ("stream_type".into(), json!("movie")),
                    ("stream_icon".into(), json!(m.logo)),
                    ("rating".into(), json!("")),
                    ("rating_5based".into(), json!(0)),
                ]));
            }
            item
        })
        .collect())
}

/// `get_vod_info`; `None` for a movie that is unknown or outside the bouquets.
pub(super) async fn movie(core: &Core, access: &Access, id: Option<i64>) -> Result<Option<Value>> {
    let Some(id) = id else { return Ok(None) };
    Ok(core
        .movie(id)
        .await?
        .filter(|m| access.may_watch(m.category_id))
        .map(|m| {
            json!({
                "info": {
                    "name": m.name, "movie_image": m.logo, "cover_big": m.logo, "plot": "",
                    "genre": "", "releasedate": "", "duration_secs": 0, "duration": "", "rating": "",
                },
                "movie_data": movie_data(&m),
            })
        }))
}

fn series_info(s: &Series) -> Value {
    json!({
        "name": s.name, "cover": s.logo, "plot": "", "cast": "", "director": "", "genre": "",
        "releaseDate": "", "last_modified": s.added_at.to_string(), "rating": "",
        "rating_5based": 0, "backdrop_path": [], "youtube_trailer": "", "episode_run_time": "",
        "category_id": s.category_id.to_string(), "category_ids": [s.category_id],
    })
}

pub(super) async fn series(core: &Core, access: &Access, category: Option<i64>) -> Result<Value> {
    let series = core.series(category).await?;
    Ok(series
        .iter()
        .filter(|s| access.may_watch(s.category_id))
        .map(|s| {
            let mut item = series_info(s);
            if let Value::Object(fields) = &mut item {
                fields.insert("num".into(), json!(s.num));
                fields.insert("series_id".into(), json!(s.id));
            }
            item
        })
        .collect())
}

/// `get_series_info`: seasons, the series, and its episodes by season number (a JSON object
/// keyed by the number as a string, episode ids as strings, as Xtream panels send them);
/// `None` for a series that is unknown or outside the bouquets.
pub(super) async fn series_episodes(
    core: &Core,
    access: &Access,
    id: Option<i64>,
) -> Result<Option<Value>> {
    let Some(id) = id else { return Ok(None) };
    let Some((s, episodes)) = core.series_episodes(id).await? else {
        return Ok(None);
    };
    if !access.may_watch(s.category_id) {
        return Ok(None);
    }
    let mut by_season: Vec<(i64, Vec<Value>)> = Vec::new();
    for e in &episodes {
        match by_season.last_mut() {
            Some((season, list)) if *season == e.season => list.push(episode(e)),
            _ => by_season.push((e.season, vec![episode(e)])),
        }
    }
    let seasons: Vec<Value> = by_season
        .iter()
        .map(|(season, list)| {
            json!({
                "season_number": season, "name": format!("Season {season}"),
                "episode_count": list.len(), "cover": s.logo, "air_date": "",
            })
        })
        .collect();
    let episodes: Map<String, Value> = by_season
        .into_iter()
        .map(|(season, list)| (season.to_string(), Value::Array(list)))
        .collect();
    Ok(Some(
        json!({ "seasons": seasons, "info": series_info(&s), "episodes": episodes }),
    ))
}

fn episode(e: &Episode) -> Value {
    json!({
        "id": e.id.to_string(), "episode_num": e.episode, "title": e.title,
        "container_extension": e.container, "info": {}, "custom_sid": "",
        "added": e.added_at.to_string(), "season": e.season, "direct_source": "",
    })
}
