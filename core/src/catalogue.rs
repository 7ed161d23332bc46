//! Movies and series: the parts of the streaming side's playlist that are not live TV. The
//! channel import ([`Core::import_channels`]) sorts each entry into live, movie or episode
//! ([`Prefixes::kind`]) and stores the catalogue in the same transaction, in its own tables but
//! with the live channels' categories, so bouquets cover movies and series as they cover
//! channels. Episodes are grouped into series by the name before their `S01E02` mark.

use crate::channels::{PlaylistEntry, ROWS_PER_INSERT, placeholders};
use crate::db::Tx;
use crate::{Core, Result};
use std::collections::HashMap;

/// How the import recognises movies and series besides their URL (`/movie/`, `/series/`, as
/// Xtream panels export them): `group-title` prefixes the admin configures, e.g. `VOD:`.
#[derive(Debug, Clone, Default)]
pub struct Prefixes {
    pub vod: Vec<String>,
    pub series: Vec<String>,
}

/// What a playlist entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Live,
    Movie,
    Episode,
}

impl Prefixes {
    /// The URL's path decides first; then the group's prefix; anything else is live.
    pub fn kind(&self, entry: &PlaylistEntry) -> Kind {
        let path = entry.url.split(['?', '#']).next().unwrap_or("");
        let prefixed = |prefixes: &[String]| {
            prefixes
                .iter()
                .any(|p| !p.is_empty() && entry.group.starts_with(p.as_str()))
        };
        if path.contains("/movie/") {
            Kind::Movie
        } else if path.contains("/series/") {
            Kind::Episode
        } else if prefixed(&self.vod) {
            Kind::Movie
        } else if prefixed(&self.series) {
            Kind::Episode
        } else {
            Kind::Live
        }
    }
}

/// A stream a player may ask for, by its kind: ids are numbered per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Live(i64),
    Movie(i64),
    Episode(i64),
}

/// The container extension in a source URL (`mkv` in `.../12.mkv`); `mp4` when it has none.
pub fn container(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let file = path.rsplit('/').next().unwrap_or("");
    file.rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .filter(|ext| {
            !ext.is_empty() && ext.len() <= 5 && ext.chars().all(|c| c.is_ascii_alphanumeric())
        })
        .unwrap_or_else(|| "mp4".into())
}

/// An episode's place, from names like `Show S01 E02`, `Show - S01E02 - Title` or `show s1e2`:
/// (series name, season, episode). A name without the mark is its own series, season 1, with
/// no episode number (the import numbers those in playlist order).
pub fn episode_of(name: &str) -> (&str, i64, Option<i64>) {
    let bytes = name.as_bytes();
    let digits = |from: usize| {
        let len = bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        (len > 0 && len <= 4).then(|| (name[from..from + len].parse::<i64>().ok(), from + len))
    };
    for (at, _) in name.match_indices(['S', 's']) {
        if at > 0 && bytes[at - 1].is_ascii_alphanumeric() {
            continue;
        }
        let Some((Some(season), mut next)) = digits(at + 1) else {
            continue;
        };
        while next < bytes.len() && bytes[next] == b' ' {
            next += 1;
        }
        if next >= bytes.len() || !matches!(bytes[next], b'E' | b'e') {
            continue;
        }
        let Some((Some(episode), end)) = digits(next + 1) else {
            continue;
        };
        if end < bytes.len() && bytes[end].is_ascii_alphanumeric() {
            continue;
        }
        let series = name[..at].trim_end_matches(|c: char| c.is_whitespace() || "-|:.".contains(c));
        if series.is_empty() {
            break;
        }
        return (series, season, Some(episode));
    }
    (name.trim(), 1, None)
}

/// Upserts the playlist's movies by source URL, numbered in playlist order, stamped `now` when
/// new; movies no longer in it are deleted.
pub(crate) async fn replace_movies(
    tx: &mut Tx,
    movies: &[(&PlaylistEntry, usize)],
    category_ids: &[i64],
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE movies SET sort_order = -1")
        .execute(&mut **tx)
        .await?;
    for (n, chunk) in movies.chunks(ROWS_PER_INSERT).enumerate() {
        let sql = format!(
            "INSERT INTO movies (name, source_url, logo, category_id, container, sort_order, added_at) \
             VALUES {} ON CONFLICT (source_url) DO UPDATE SET name = excluded.name, logo = excluded.logo, \
             category_id = excluded.category_id, container = excluded.container, sort_order = excluded.sort_order",
            placeholders(chunk.len(), 7)
        );
        let mut query = sqlx::query(&sql);
        for (i, (e, group)) in chunk.iter().enumerate() {
            query = query
                .bind(&e.name)
                .bind(&e.url)
                .bind(&e.logo)
                .bind(category_ids[*group])
                .bind(container(&e.url))
                .bind((n * ROWS_PER_INSERT + i) as i64 + 1)
                .bind(now);
        }
        query.execute(&mut **tx).await?;
    }
    sqlx::query("DELETE FROM movies WHERE sort_order = -1")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// One series of the playlist: its name, its first episode's group and logo, its episodes.
struct PlannedSeries<'a> {
    name: &'a str,
    group: usize,
    logo: &'a str,
    episodes: Vec<(&'a PlaylistEntry, i64, i64)>,
    /// The highest episode number seen so far in each season.
    highest: HashMap<i64, i64>,
}

/// Groups episodes by series name in linear time, in order of first appearance; episodes with
/// no number are numbered after the highest one seen in their season so far.
fn plan_series<'a>(episodes: &[(&'a PlaylistEntry, usize)]) -> Vec<PlannedSeries<'a>> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut series: Vec<PlannedSeries<'a>> = Vec::new();
    for (e, group) in episodes {
        let (name, season, number) = episode_of(&e.name);
        let at = *index.entry(name).or_insert_with(|| {
            series.push(PlannedSeries {
                name,
                group: *group,
                logo: &e.logo,
                episodes: Vec::new(),
                highest: HashMap::new(),
            });
            series.len() - 1
        });
        let s = &mut series[at];
        if s.logo.is_empty() {
            s.logo = &e.logo;
        }
        let highest = s.highest.entry(season).or_insert(0);
        let number = number.unwrap_or(*highest + 1);
        *highest = (*highest).max(number);
        s.episodes.push((e, season, number));
    }
    series
}

/// Upserts the playlist's series (by name) and episodes (by source URL); those no longer in it
/// are deleted. Returns the number of series.
pub(crate) async fn replace_series(
    tx: &mut Tx,
    episodes: &[(&PlaylistEntry, usize)],
    category_ids: &[i64],
    now: i64,
) -> Result<usize> {
    let planned = plan_series(episodes);
    sqlx::query("UPDATE series SET sort_order = -1")
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE episodes SET sort_order = -1")
        .execute(&mut **tx)
        .await?;
    let mut ids: HashMap<String, i64> = HashMap::with_capacity(planned.len());
    for (n, chunk) in planned.chunks(ROWS_PER_INSERT).enumerate() {
        let sql = format!(
            "INSERT INTO series (name, logo, category_id, sort_order, added_at) VALUES {} \
             ON CONFLICT (name) DO UPDATE SET logo = excluded.logo, category_id = excluded.category_id, \
             sort_order = excluded.sort_order RETURNING id, name",
            placeholders(chunk.len(), 5)
        );
        let mut query = sqlx::query_as::<_, (i64, String)>(&sql);
        for (i, s) in chunk.iter().enumerate() {
            query = query
                .bind(s.name)
                .bind(s.logo)
                .bind(category_ids[s.group])
                .bind((n * ROWS_PER_INSERT + i) as i64 + 1)
                .bind(now);
        }
        ids.extend(
            query
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(|(id, name)| (name, id)),
        );
    }
    let rows: Vec<(i64, &PlaylistEntry, i64, i64)> = planned
        .iter()
        .flat_map(|s| {
            let id = ids.get(s.name).copied().unwrap_or_default();
            s.episodes
                .iter()
                .map(move |(e, season, n)| (id, *e, *season, *n))
        })
        .collect();
    for (n, chunk) in rows.chunks(ROWS_PER_INSERT).enumerate() {
        let sql = format!(
            "INSERT INTO episodes (series_id, season, episode, title, source_url, container, sort_order, added_at) \
             VALUES {} ON CONFLICT (source_url) DO UPDATE SET series_id = excluded.series_id, \
             season = excluded.season, episode = excluded.episode, title = excluded.title, \
             container = excluded.container, sort_order = excluded.sort_order",
            placeholders(chunk.len(), 8)
        );
        let mut query = sqlx::query(&sql);
        for (i, (series_id, e, season, number)) in chunk.iter().enumerate() {
            query = query
                .bind(*series_id)
                .bind(*season)
                .bind(*number)
                .bind(&e.name)
                .bind(&e.url)
                .bind(container(&e.url))
                .bind((n * ROWS_PER_INSERT + i) as i64 + 1)
                .bind(now);
        }
        query.execute(&mut **tx).await?;
    }
    sqlx::query("DELETE FROM episodes WHERE sort_order = -1")
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM series WHERE sort_order = -1")
        .execute(&mut **tx)
        .await?;
    Ok(planned.len())
}

/// A movie as players list it.
#[derive(Debug, Clone)]
pub struct Movie {
    pub id: i64,
    pub name: String,
    pub logo: String,
    pub category_id: i64,
    /// The file's extension, which players put in `/movie/USER/PASS/ID.ext`.
    pub container: String,
    pub num: i64,
    pub added_at: i64,
}

#[derive(Debug, Clone)]
pub struct Series {
    pub id: i64,
    pub name: String,
    pub logo: String,
    pub category_id: i64,
    pub num: i64,
    pub added_at: i64,
}

#[derive(Debug, Clone)]
pub struct Episode {
    pub id: i64,
    pub series_id: i64,
    pub season: i64,
    pub episode: i64,
    /// The entry's name in the playlist.
    pub title: String,
    pub container: String,
    pub added_at: i64,
}

type MovieRow = (i64, String, String, i64, String, i64, i64);
type SeriesRow = (i64, String, String, i64, i64, i64);
type EpisodeRow = (i64, i64, i64, i64, String, String, i64);

fn movie((id, name, logo, category_id, container, num, added_at): MovieRow) -> Movie {
    Movie {
        id,
        name,
        logo,
        category_id,
        container,
        num,
        added_at,
    }
}

fn series((id, name, logo, category_id, num, added_at): SeriesRow) -> Series {
    Series {
        id,
        name,
        logo,
        category_id,
        num,
        added_at,
    }
}

fn episode((id, series_id, season, episode, title, container, added_at): EpisodeRow) -> Episode {
    Episode {
        id,
        series_id,
        season,
        episode,
        title,
        container,
        added_at,
    }
}

const MOVIE_COLUMNS: &str = "id, name, logo, category_id, container, sort_order, added_at";
const SERIES_COLUMNS: &str = "id, name, logo, category_id, sort_order, added_at";
const EPISODE_COLUMNS: &str = "id, series_id, season, episode, title, container, added_at";

impl Core {
    /// The categories holding at least one stream of `kind`, in playlist order.
    pub async fn categories_of(&self, kind: Kind) -> Result<Vec<crate::channels::Category>> {
        // Our own constant table names.
        let table = match kind {
            Kind::Live => "channels",
            Kind::Movie => "movies",
            Kind::Episode => "series",
        };
        let rows: Vec<(i64, String)> = sqlx::query_as(&format!(
            "SELECT c.id, c.name FROM channel_categories c \
             WHERE EXISTS (SELECT 1 FROM {table} t WHERE t.category_id = c.id) ORDER BY c.sort_order, c.id"
        ))
        .fetch_all(self.db.read())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name)| crate::channels::Category { id, name })
            .collect())
    }

    /// Movies in playlist order, of one category or all.
    pub async fn movies(&self, category: Option<i64>) -> Result<Vec<Movie>> {
        let rows: Vec<MovieRow> = sqlx::query_as(&format!(
            "SELECT {MOVIE_COLUMNS} FROM movies WHERE ($1 = 0 OR category_id = $1) ORDER BY sort_order, id"
        ))
        .bind(category.unwrap_or(0))
        .fetch_all(self.db.read())
        .await?;
        Ok(rows.into_iter().map(movie).collect())
    }

    pub async fn movie(&self, id: i64) -> Result<Option<Movie>> {
        let row: Option<MovieRow> =
            sqlx::query_as(&format!("SELECT {MOVIE_COLUMNS} FROM movies WHERE id = $1"))
                .bind(id)
                .fetch_optional(self.db.read())
                .await?;
        Ok(row.map(movie))
    }

    /// Series in playlist order, of one category or all.
    pub async fn series(&self, category: Option<i64>) -> Result<Vec<Series>> {
        let rows: Vec<SeriesRow> = sqlx::query_as(&format!(
            "SELECT {SERIES_COLUMNS} FROM series WHERE ($1 = 0 OR category_id = $1) ORDER BY sort_order, id"
        ))
        .bind(category.unwrap_or(0))
        .fetch_all(self.db.read())
        .await?;
        Ok(rows.into_iter().map(series).collect())
    }

    /// One series and its episodes by season and number.
    pub async fn series_episodes(&self, id: i64) -> Result<Option<(Series, Vec<Episode>)>> {
        let row: Option<SeriesRow> = sqlx::query_as(&format!(
            "SELECT {SERIES_COLUMNS} FROM series WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.db.read())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let episodes: Vec<EpisodeRow> = sqlx::query_as(&format!(
            "SELECT {EPISODE_COLUMNS} FROM episodes WHERE series_id = $1 ORDER BY season, episode, id"
        ))
        .bind(id)
        .fetch_all(self.db.read())
        .await?;
        Ok(Some((
            series(row),
            episodes.into_iter().map(episode).collect(),
        )))
    }

    /// Every episode, series by series in playlist order (for `get.php`).
    pub async fn episodes(&self) -> Result<Vec<Episode>> {
        let rows: Vec<EpisodeRow> = sqlx::query_as(
            "SELECT e.id, e.series_id, e.season, e.episode, e.title, e.container, e.added_at \
             FROM episodes e JOIN series s ON s.id = e.series_id \
             ORDER BY s.sort_order, e.season, e.episode, e.id",
        )
        .fetch_all(self.db.read())
        .await?;
        Ok(rows.into_iter().map(episode).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(url: &str, group: &str) -> PlaylistEntry {
        PlaylistEntry {
            name: "x".into(),
            url: url.into(),
            logo: String::new(),
            epg_id: String::new(),
            group: group.into(),
        }
    }

    #[test]
    fn urls_decide_before_group_prefixes() {
        let p = Prefixes {
            vod: vec!["VOD:".into(), "Movies |".into()],
            series: vec!["Series:".into()],
        };
        assert_eq!(
            p.kind(&entry("http://h/movie/u/p/1.mkv", "News")),
            Kind::Movie
        );
        assert_eq!(
            p.kind(&entry("http://h/series/u/p/2.mp4", "VOD: x")),
            Kind::Episode
        );
        assert_eq!(
            p.kind(&entry("http://h/a.ts", "Movies | Action")),
            Kind::Movie
        );
        assert_eq!(
            p.kind(&entry("http://h/a.ts", "Series: Drama")),
            Kind::Episode
        );
        assert_eq!(
            p.kind(&entry("http://h/a.ts?x=/movie/", "News")),
            Kind::Live
        );
        assert_eq!(
            Prefixes::default().kind(&entry("http://h/a.ts", "VOD: x")),
            Kind::Live
        );
    }

    #[test]
    fn containers_come_from_the_file_name() {
        assert_eq!(container("http://h/movie/u/p/12.MKV?t=1"), "mkv");
        assert_eq!(container("http://h/movie/u/p/12"), "mp4");
        assert_eq!(container("http://h.example/x"), "mp4");
    }

    #[test]
    fn episodes_are_found_by_their_season_and_episode_mark() {
        assert_eq!(episode_of("Show S01 E02"), ("Show", 1, Some(2)));
        assert_eq!(
            episode_of("The Show - S02E10 - Pilot"),
            ("The Show", 2, Some(10))
        );
        assert_eq!(episode_of("show s1e3"), ("show", 1, Some(3)));
        assert_eq!(episode_of("Seasons S03E04"), ("Seasons", 3, Some(4)));
        assert_eq!(episode_of("Just a name"), ("Just a name", 1, None));
        assert_eq!(episode_of("S01E01"), ("S01E01", 1, None));
        assert_eq!(episode_of("Show S01E02x"), ("Show S01E02x", 1, None));
    }

    #[test]
    fn episodes_without_a_number_follow_the_highest_of_their_series() {
        let named = |name: &str| PlaylistEntry {
            name: name.into(),
            ..entry("http://h/x", "G")
        };
        let entries = [
            named("Show S01E05"),
            named("Show"),
            named("Other S02E01"),
            named("Show"),
        ];
        let planned = plan_series(&entries.iter().map(|e| (e, 0)).collect::<Vec<_>>());
        let numbers: Vec<(&str, Vec<(i64, i64)>)> = planned
            .iter()
            .map(|s| {
                (
                    s.name,
                    s.episodes.iter().map(|(_, sn, n)| (*sn, *n)).collect(),
                )
            })
            .collect();
        assert_eq!(
            numbers,
            [
                ("Show", vec![(1, 5), (1, 6), (1, 7)]),
                ("Other", vec![(2, 1)])
            ]
        );
    }
}
