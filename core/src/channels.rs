//! The channel list: imported by admins from the streaming server's M3U playlist, grouped into
//! categories by `group-title`, and served to players by the subscriber API.

use crate::{Actor, Core, CoreError, Result, audit, domain::ParseError};

/// One `#EXTINF` entry of a playlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaylistEntry {
    pub name: String,
    pub url: String,
    pub logo: String,
    pub epg_id: String,
    pub group: String,
}

/// Reads an M3U playlist. Entries without a URL are skipped; a file with no entry at all is
/// refused.
pub fn parse_m3u(text: &str) -> std::result::Result<Vec<PlaylistEntry>, ParseError> {
    let mut entries = Vec::new();
    let mut pending: Option<PlaylistEntry> = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(info) = line.strip_prefix("#EXTINF:") {
            let attr = |key: &str| {
                info.split(&format!("{key}=\""))
                    .nth(1)
                    .and_then(|v| v.split('"').next())
                    .unwrap_or("")
                    .trim()
                    .to_string()
            };
            // The display name follows the last comma outside the quoted attributes.
            let name = info
                .rsplit_once("\",")
                .map(|(_, n)| n)
                .or_else(|| info.split_once(',').map(|(_, n)| n))
                .unwrap_or("");
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
}

/// What an import changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub channels: usize,
    pub categories: usize,
    pub removed: u64,
}

impl Core {
    /// Replaces the channel list with `entries`, keeping the ids of channels whose source URL
    /// is unchanged (players keep their favourites), in one transaction.
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
        let mut tx = self.db.begin_write().await?;
        let mut groups: Vec<&str> = Vec::new();
        for e in entries {
            if !groups.contains(&e.group.as_str()) {
                groups.push(&e.group);
            }
        }
        for (i, g) in groups.iter().enumerate() {
            sqlx::query(
                "INSERT INTO channel_categories (name, sort_order) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET sort_order = excluded.sort_order",
            )
            .bind(*g)
            .bind(i as i64)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE channels SET sort_order = -1")
            .execute(&mut *tx)
            .await?;
        for (i, e) in entries.iter().enumerate() {
            sqlx::query(
                "INSERT INTO channels (name, source_url, logo, epg_id, category_id, sort_order) \
                 VALUES ($1, $2, $3, $4, (SELECT id FROM channel_categories WHERE name = $5), $6) \
                 ON CONFLICT (source_url) DO UPDATE SET name = excluded.name, logo = excluded.logo, \
                 epg_id = excluded.epg_id, category_id = excluded.category_id, sort_order = excluded.sort_order",
            )
            .bind(&e.name)
            .bind(&e.url)
            .bind(&e.logo)
            .bind(&e.epg_id)
            .bind(&e.group)
            .bind(i as i64 + 1)
            .execute(&mut *tx)
            .await?;
        }
        let removed = sqlx::query("DELETE FROM channels WHERE sort_order = -1")
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query(
            "DELETE FROM channel_categories WHERE id NOT IN (SELECT category_id FROM channels)",
        )
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            actor,
            audit::Entry {
                action: "channels.import",
                reseller: None,
                target: None,
                details: serde_json::json!({ "channels": entries.len(), "categories": groups.len(), "removed": removed }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Imported {
            channels: entries.len(),
            categories: groups.len(),
            removed,
        })
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
        let rows: Vec<(i64, String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT id, name, logo, epg_id, category_id, sort_order FROM channels \
             WHERE ($1 = 0 OR category_id = $1) ORDER BY sort_order, id",
        )
        .bind(category.unwrap_or(0))
        .fetch_all(self.db.read())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, logo, epg_id, category_id, num)| Channel {
                id,
                name,
                logo,
                epg_id,
                category_id,
                num,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
