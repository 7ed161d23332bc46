//! The channel list: imported by admins from the streaming server's M3U playlist, grouped into
//! categories by `group-title`, and served to players by the subscriber API.

use crate::catalogue::{self, Kind, Prefixes, Stream};
use crate::db::Tx;
use crate::{Actor, Core, CoreError, Result, audit, domain::ParseError};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// One `#EXTINF` entry of a playlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaylistEntry {
    pub name: String,
    pub url: String,
    pub logo: String,
    pub epg_id: String,
    pub group: String,
}

/// The attributes and the display name of an `#EXTINF:` line (after the colon). Panels write
/// quotes inside values unescaped (`group-title="A "B""`), so a value ends only at a quote
/// followed by the next attribute, the comma before the name, or the end of the line.
fn extinf(info: &str) -> (Vec<(&str, &str)>, &str) {
    let mut attributes = Vec::new();
    // The duration comes first: `-1`, `0`, `-1.0`.
    let mut rest = info.trim_start_matches(|c: char| c == '-' || c == '.' || c.is_ascii_digit());
    loop {
        rest = rest.trim_start();
        if let Some(name) = rest.strip_prefix(',') {
            return (attributes, name);
        }
        let Some((key, after)) = rest.split_once('=') else {
            return (attributes, rest.split_once(',').map_or("", |(_, n)| n));
        };
        if key.contains([',', '"']) || key.trim().is_empty() {
            return (attributes, rest.split_once(',').map_or("", |(_, n)| n));
        }
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => quoted_value(quoted),
            None => after.split_at(after.find([' ', ',']).unwrap_or(after.len())),
        };
        attributes.push((key.trim(), value));
        rest = after;
    }
}

/// Splits `text` (just after an opening quote) at its closing quote: the first one followed by
/// the end, a comma (spaces may come first), or whitespace and `key=`. Returns the value and what follows the quote.
fn quoted_value(text: &str) -> (&str, &str) {
    for (at, _) in text.match_indices('"') {
        let after = &text[at + 1..];
        // Looks only as far as the next non-key character, so a line is read in linear time.
        let next_key = after.starts_with(char::is_whitespace) && {
            let key = after.trim_start();
            let len = key
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                .unwrap_or(key.len());
            len > 0 && key[len..].starts_with('=')
        };
        let next = after.trim_start();
        if next.is_empty() || next.starts_with(',') || next_key {
            return (&text[..at], after);
        }
    }
    (text, "")
}

/// Reads an M3U playlist. Entries without a URL are skipped; a file with no entry at all is
/// refused.
pub fn parse_m3u(text: &str) -> std::result::Result<Vec<PlaylistEntry>, ParseError> {
    let mut entries = Vec::new();
    let mut pending: Option<PlaylistEntry> = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(info) = line.strip_prefix("#EXTINF:") {
            let (attributes, name) = extinf(info);
            let attr = |key: &str| {
                attributes
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map_or("", |(_, v)| v)
                    .trim()
                    .to_string()
            };
            let group = attr("group-title");
            pending = Some(PlaylistEntry {
                name: name.trim().to_string(),
                url: String::new(),
                logo: attr("tvg-logo"),
                epg_id: attr("tvg-id"),
                group: if group.is_empty() {
                    "Uncategorized".into()
                } else {
                    group
                },
            });
        } else if !line.starts_with('#')
            && let Some(mut e) = pending.take()
        {
            e.url = line.to_string();
            if e.name.is_empty() {
                e.name = line.to_string();
            }
            entries.push(e);
        }
    }
    if entries.is_empty() {
        return Err(ParseError(
            "That playlist has no channels: expected #EXTINF lines, each followed by a stream URL."
                .into(),
        ));
    }
    Ok(entries)
}

#[derive(Debug, Clone)]
pub struct Category {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Channel {
    pub id: i64,
    pub name: String,
    pub logo: String,
    pub epg_id: String,
    pub category_id: i64,
    pub num: i64,
    /// When the channel was first imported (Unix seconds); a re-import keeps it.
    pub added_at: i64,
}

/// What an import changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// Distinct live channels (by source URL) in the playlist.
    pub channels: usize,
    /// Movies and episodes (by source URL), and the series the episodes make up.
    pub movies: usize,
    pub episodes: usize,
    pub series: usize,
    /// Categories of live channels, movies and series together.
    pub categories: usize,
    pub removed: u64,
    /// Bouquets that lost categories because those are no longer in the playlist.
    pub narrowed: Vec<Narrowed>,
}

/// A bouquet that lost categories in an import. It stays a restriction: with nothing left, its
/// owner gets no channels until someone chooses again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Narrowed {
    pub owner: BouquetOwner,
    /// The names of the categories it lost.
    pub lost: Vec<String>,
    /// How many of its categories are still in the playlist.
    pub left: usize,
}

/// Whose bouquet: a reseller's (what they may sell) or a subscriber's (what they get).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BouquetOwner {
    Reseller(String),
    Subscriber(String),
}

/// Rows per multi-row `INSERT`: few round trips, far below either database's bind limit.
pub(crate) const ROWS_PER_INSERT: usize = 500;

/// A playlist made ready before the write transaction opens, in linear time: entries
/// de-duplicated by source URL (the first one counts) and sorted into live channels, movies
/// and episodes, groups in order of first appearance.
struct Plan<'a> {
    groups: Vec<&'a str>,
    /// Each channel with the index of its group in `groups`; movies and episodes alike.
    channels: Vec<(&'a PlaylistEntry, usize)>,
    movies: Vec<(&'a PlaylistEntry, usize)>,
    episodes: Vec<(&'a PlaylistEntry, usize)>,
}

impl<'a> Plan<'a> {
    fn of(entries: &'a [PlaylistEntry], prefixes: &Prefixes) -> Plan<'a> {
        let mut group_index: HashMap<&str, usize> = HashMap::new();
        let mut urls: HashSet<&str> = HashSet::with_capacity(entries.len());
        let mut plan = Plan {
            groups: Vec::new(),
            channels: Vec::with_capacity(entries.len()),
            movies: Vec::new(),
            episodes: Vec::new(),
        };
        for e in entries {
            if !urls.insert(&e.url) {
                continue;
            }
            let group = *group_index.entry(&e.group).or_insert_with(|| {
                plan.groups.push(&e.group);
                plan.groups.len() - 1
            });
            match prefixes.kind(e) {
                Kind::Live => plan.channels.push((e, group)),
                Kind::Movie => plan.movies.push((e, group)),
                Kind::Episode => plan.episodes.push((e, group)),
            }
        }
        plan
    }
}

/// `($1, $2), ($3, $4), ...`: `rows` tuples of `width` placeholders.
pub(crate) fn placeholders(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|r| {
            let cols: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", cols.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Upserts the playlist's categories in order; returns their ids, index for index. Categories
/// not in the playlist are left with `sort_order = -1`.
async fn upsert_categories(tx: &mut Tx, groups: &[&str]) -> Result<Vec<i64>> {
    sqlx::query("UPDATE channel_categories SET sort_order = -1")
        .execute(&mut **tx)
        .await?;
    let mut ids: HashMap<String, i64> = HashMap::with_capacity(groups.len());
    for (n, chunk) in groups.chunks(ROWS_PER_INSERT).enumerate() {
        let sql = format!(
            "INSERT INTO channel_categories (name, sort_order) VALUES {} \
             ON CONFLICT (name) DO UPDATE SET sort_order = excluded.sort_order RETURNING id, name",
            placeholders(chunk.len(), 2)
        );
        let mut query = sqlx::query_as::<_, (i64, String)>(&sql);
        for (i, g) in chunk.iter().enumerate() {
            query = query.bind(*g).bind((n * ROWS_PER_INSERT + i) as i64);
        }
        ids.extend(
            query
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(|(id, name)| (name, id)),
        );
    }
    groups
        .iter()
        .map(|g| {
            ids.get(*g).copied().ok_or_else(|| {
                CoreError::Internal(format!("category {g:?} was not returned by its upsert").into())
            })
        })
        .collect()
}

/// Upserts the channels by source URL, numbered from 1 in playlist order; channels not in the
/// playlist are left with `sort_order = -1`. New ones are stamped `now`; others keep their stamp.
async fn upsert_channels(
    tx: &mut Tx,
    plan: &Plan<'_>,
    category_ids: &[i64],
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE channels SET sort_order = -1")
        .execute(&mut **tx)
        .await?;
    for (n, chunk) in plan.channels.chunks(ROWS_PER_INSERT).enumerate() {
        let sql = format!(
            "INSERT INTO channels (name, source_url, logo, epg_id, category_id, sort_order, added_at) VALUES {} \
             ON CONFLICT (source_url) DO UPDATE SET name = excluded.name, logo = excluded.logo, \
             epg_id = excluded.epg_id, category_id = excluded.category_id, sort_order = excluded.sort_order",
            placeholders(chunk.len(), 7)
        );
        let mut query = sqlx::query(&sql);
        for (i, (e, group)) in chunk.iter().enumerate() {
            query = query
                .bind(&e.name)
                .bind(&e.url)
                .bind(&e.logo)
                .bind(&e.epg_id)
                .bind(category_ids[*group])
                .bind((n * ROWS_PER_INSERT + i) as i64 + 1)
                .bind(now);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// The bouquets using categories about to be dropped (`sort_order = -1`), and what each keeps.
async fn narrowed_bouquets(tx: &mut Tx) -> Result<Vec<Narrowed>> {
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT 'reseller', r.username, c.name, \
           (SELECT COUNT(*) FROM reseller_categories k JOIN channel_categories kc ON kc.id = k.category_id \
            WHERE k.reseller_id = r.id AND kc.sort_order >= 0) \
         FROM reseller_categories rc JOIN resellers r ON r.id = rc.reseller_id \
         JOIN channel_categories c ON c.id = rc.category_id WHERE c.sort_order = -1 \
         UNION ALL \
         SELECT 'subscriber', s.username, c.name, \
           (SELECT COUNT(*) FROM subscriber_categories k JOIN channel_categories kc ON kc.id = k.category_id \
            WHERE k.subscriber_id = s.id AND kc.sort_order >= 0) \
         FROM subscriber_categories sc JOIN subscribers s ON s.id = sc.subscriber_id \
         JOIN channel_categories c ON c.id = sc.category_id WHERE c.sort_order = -1 \
         ORDER BY 1, 2, 3",
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut narrowed: Vec<Narrowed> = Vec::new();
    for (kind, username, category, left) in rows {
        let owner = if kind == "reseller" {
            BouquetOwner::Reseller(username)
        } else {
            BouquetOwner::Subscriber(username)
        };
        match narrowed.last_mut() {
            Some(last) if last.owner == owner => last.lost.push(category),
            _ => narrowed.push(Narrowed {
                owner,
                lost: vec![category],
                left: left as usize,
            }),
        }
    }
    Ok(narrowed)
}

impl Core {
    /// Replaces the channel list and the movie and series catalogues with `entries` (sorted by
    /// [`Prefixes::kind`] under the policy's prefixes), keeping the ids of streams whose source
    /// URL is unchanged (players keep their favourites), in one transaction. Categories no
    /// longer in the playlist are dropped from bouquets, which stay restrictions (see
    /// [`Narrowed`]).
    pub async fn import_channels(
        &self,
        actor: &Actor,
        entries: &[PlaylistEntry],
    ) -> Result<Imported> {
        actor.require_admin()?;
        if entries.is_empty() {
            return Err(CoreError::Invalid(ParseError(
                "The playlist has no channels.".into(),
            )));
        }
        // Everything that does not need the database happens before the writer is taken.
        let plan = Plan::of(entries, &self.policy.catalogue);
        let now = chrono::Utc::now().timestamp();
        let mut tx = self.db.begin_write().await?;
        let category_ids = upsert_categories(&mut tx, &plan.groups).await?;
        upsert_channels(&mut tx, &plan, &category_ids, now).await?;
        catalogue::replace_movies(&mut tx, &plan.movies, &category_ids, now).await?;
        let series = catalogue::replace_series(&mut tx, &plan.episodes, &category_ids, now).await?;
        let removed = sqlx::query("DELETE FROM channels WHERE sort_order = -1")
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let narrowed = narrowed_bouquets(&mut tx).await?;
        for table in ["reseller_categories", "subscriber_categories"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE category_id IN \
                 (SELECT id FROM channel_categories WHERE sort_order = -1)"
            ))
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM channel_categories WHERE sort_order = -1")
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            actor,
            audit::Entry {
                action: "channels.import",
                reseller: None,
                target: None,
                details: serde_json::json!({
                    "channels": plan.channels.len(),
                    "movies": plan.movies.len(),
                    "episodes": plan.episodes.len(),
                    "series": series,
                    "categories": plan.groups.len(),
                    "removed": removed,
                    "narrowed_bouquets": narrowed.len(),
                }),
            },
        )
        .await?;
        self.publish(&mut tx, &crate::bus::Event::Channels).await?;
        tx.commit().await?;
        // Stream ids and their categories changed, here and on every instance (the event).
        // Cached bouquets need no reload: they can only hold ids of dropped categories, which
        // are never reused.
        self.channel_index.forget();
        Ok(Imported {
            channels: plan.channels.len(),
            movies: plan.movies.len(),
            episodes: plan.episodes.len(),
            series,
            categories: plan.groups.len(),
            removed,
            narrowed,
        })
    }

    /// The category of a stream, from memory (this is on the stream authorization path);
    /// `None` for a stream that is not in the channel list or the catalogue.
    pub async fn stream_category(&self, stream: Stream) -> Result<Option<i64>> {
        if let Some(map) = self.channel_index.current() {
            return Ok(map.get(&stream).copied());
        }
        let generation = self.channel_index.generation();
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT CAST(0 AS BIGINT), id, category_id FROM channels UNION ALL \
             SELECT CAST(1 AS BIGINT), id, category_id FROM movies UNION ALL \
             SELECT CAST(2 AS BIGINT), e.id, s.category_id FROM episodes e JOIN series s ON s.id = e.series_id",
        )
        .fetch_all(self.db.read())
        .await?;
        let map: Arc<HashMap<Stream, i64>> = Arc::new(
            rows.into_iter()
                .map(|(kind, id, category)| {
                    let stream = match kind {
                        0 => Stream::Live(id),
                        1 => Stream::Movie(id),
                        _ => Stream::Episode(id),
                    };
                    (stream, category)
                })
                .collect(),
        );
        self.channel_index.store(generation, map.clone());
        Ok(map.get(&stream).copied())
    }

    pub async fn channel_categories(&self) -> Result<Vec<Category>> {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, name FROM channel_categories ORDER BY sort_order, id")
                .fetch_all(self.db.read())
                .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name)| Category { id, name })
            .collect())
    }

    /// Channels in playlist order, of one category or all.
    pub async fn channels(&self, category: Option<i64>) -> Result<Vec<Channel>> {
        let rows: Vec<(i64, String, String, String, i64, i64, i64)> = sqlx::query_as(
            "SELECT id, name, logo, epg_id, category_id, sort_order, added_at FROM channels \
             WHERE ($1 = 0 OR category_id = $1) ORDER BY sort_order, id",
        )
        .bind(category.unwrap_or(0))
        .fetch_all(self.db.read())
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, name, logo, epg_id, category_id, num, added_at)| Channel {
                    id,
                    name,
                    logo,
                    epg_id,
                    category_id,
                    num,
                    added_at,
                },
            )
            .collect())
    }
}

/// Stream (channel, movie or episode) → category id, loaded on first use and dropped by every
/// import.
#[derive(Debug, Default)]
pub(crate) struct ChannelIndex {
    map: RwLock<Option<Arc<HashMap<Stream, i64>>>>,
    /// Bumped by every import, so a load that read the table before an import cannot store
    /// its stale result after it.
    generation: AtomicU64,
}

impl ChannelIndex {
    fn current(&self) -> Option<Arc<HashMap<Stream, i64>>> {
        self.map.read().ok().and_then(|m| m.clone())
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn store(&self, generation: u64, map: Arc<HashMap<Stream, i64>>) {
        if let Ok(mut current) = self.map.write()
            && self.generation() == generation
        {
            *current = Some(map);
        }
    }

    pub(crate) fn forget(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut current) = self.map.write() {
            *current = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_inside_attribute_values_stay_in_the_value() {
        let m3u = "#EXTINF:-1 tvg-id=\"q1\" tvg-logo=\"http://l/\"q\".png\" group-title=\"A \"B\"\",He said \"hi\"\nhttp://s/q.ts\n#EXTINF:0 tvg-id=x group-title=\"G\" ,Plain, with comma\nhttp://s/p.ts\n";
        let e = parse_m3u(m3u).unwrap();
        assert_eq!(
            (
                e[0].name.as_str(),
                e[0].group.as_str(),
                e[0].logo.as_str(),
                e[0].epg_id.as_str()
            ),
            ("He said \"hi\"", "A \"B\"", "http://l/\"q\".png", "q1")
        );
        assert_eq!(
            (
                e[1].name.as_str(),
                e[1].group.as_str(),
                e[1].epg_id.as_str()
            ),
            ("Plain, with comma", "G", "x")
        );
    }

    #[test]
    fn playlists_parse_names_groups_logos_and_urls() {
        let m3u = "#EXTM3U\n#EXTINF:-1 tvg-id=\"bbc1\" tvg-name=\"BBC One\" tvg-logo=\"http://l/bbc.png\" group-title=\"UK, News\",BBC One HD\nhttp://src/1.ts\n\n#EXTINF:-1,No Group\nhttp://src/2.ts\n#EXTINF:-1 group-title=\"Orphan\",Missing URL\n";
        let e = parse_m3u(m3u).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(
            e[0],
            PlaylistEntry {
                name: "BBC One HD".into(),
                url: "http://src/1.ts".into(),
                logo: "http://l/bbc.png".into(),
                epg_id: "bbc1".into(),
                group: "UK, News".into()
            }
        );
        assert_eq!(
            (e[1].name.as_str(), e[1].group.as_str()),
            ("No Group", "Uncategorized")
        );
        assert!(
            parse_m3u("#EXTM3U\n")
                .unwrap_err()
                .0
                .contains("no channels")
        );
    }
}
