//! What the admin sets and sees: the source, the name-to-guide mappings, and the status.

use crate::actor::Actor;
use crate::audit;
use crate::domain::ParseError;
use crate::{Core, CoreError, Result};
use chrono::{DateTime, Utc};

/// Where the guide comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// Fetched on the schedule.
    Url(String),
    /// Uploaded once, under this file name; never fetched.
    File(String),
}

/// The guide as `/epg` shows it.
#[derive(Debug, Clone)]
pub struct GuideStatus {
    /// The source, redacted; `None` when none is set.
    pub source: Option<String>,
    pub fetched_at: Option<DateTime<Utc>>,
    pub outcome: String,
    pub programmes: i64,
    /// Channels that have no guide: the first few, and how many in all.
    pub unmatched: Vec<String>,
    pub unmatched_count: i64,
}

/// A channel name now matched to a guide channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// The channel name as in the channel list.
    pub channel: String,
    /// Programmes the guide holds for it now.
    pub programmes: i64,
}

/// Channels with no guide: those whose mapped id, or else `tvg-id`, the guide does not name.
const UNMATCHED: &str = "FROM channels c LEFT JOIN epg_map m ON m.channel_name = c.name \
     WHERE NOT EXISTS (SELECT 1 FROM epg_channels g, epg_source s WHERE s.id = 1 \
       AND g.generation = s.generation AND g.xmltv_id = COALESCE(m.xmltv_id, c.epg_id))";

impl Core {
    /// Sets the guide's source; a URL is fetched at once by whoever claims it next.
    pub async fn set_epg_source(&self, actor: &Actor, source: &SourceKind) -> Result<()> {
        actor.require_admin()?;
        let (url, label) = match source {
            SourceKind::Url(url) => (url.as_str(), super::redact_url(url)),
            SourceKind::File(name) => ("", format!("uploaded file {name}")),
        };
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "UPDATE epg_source SET url = $1, label = $2, etag = '', last_modified = '', fetched_at = 0 WHERE id = 1",
        )
        .bind(url)
        .bind(&label)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            actor,
            audit::Entry {
                action: "epg.source",
                reseller: None,
                target: None,
                details: serde_json::json!({ "source": label }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Matches every channel named `channel` (any case) to guide channel `xmltv_id`, whatever
    /// its `tvg-id`; kept across playlist imports.
    pub async fn map_epg_channel(
        &self,
        actor: &Actor,
        channel: &str,
        xmltv_id: &str,
    ) -> Result<Mapped> {
        actor.require_admin()?;
        let xmltv_id = xmltv_id.trim();
        if xmltv_id.is_empty()
            || xmltv_id.chars().count() > 200
            || xmltv_id.contains(char::is_whitespace)
        {
            return Err(CoreError::Invalid(ParseError(format!(
                "“{}” is not a guide channel id: it must be 1 to 200 characters without spaces.",
                xmltv_id.chars().take(40).collect::<String>()
            ))));
        }
        let mut tx = self.db.begin_write().await?;
        let name: Option<String> = sqlx::query_scalar(
            "SELECT name FROM channels WHERE LOWER(name) = LOWER($1) ORDER BY id LIMIT 1",
        )
        .bind(channel.trim())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(name) = name else {
            return Err(CoreError::NotFound {
                kind: "channel",
                name: channel.trim().to_string(),
            });
        };
        let (generation, in_guide): (i64, i64) = sqlx::query_as(
            "SELECT s.generation, (SELECT COUNT(*) FROM epg_channels g WHERE g.generation = s.generation AND g.xmltv_id = $1) \
             FROM epg_source s WHERE s.id = 1",
        )
        .bind(xmltv_id)
        .fetch_one(&mut *tx)
        .await?;
        if generation > 0 && in_guide == 0 {
            return Err(CoreError::Invalid(ParseError(format!(
                "The guide has no channel with the id “{xmltv_id}”; ids are case-sensitive."
            ))));
        }
        sqlx::query(
            "INSERT INTO epg_map (channel_name, xmltv_id) VALUES ($1, $2) \
             ON CONFLICT (channel_name) DO UPDATE SET xmltv_id = excluded.xmltv_id",
        )
        .bind(&name)
        .bind(xmltv_id)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            actor,
            audit::Entry {
                action: "epg.map",
                reseller: None,
                target: Some(&name),
                details: serde_json::json!({ "xmltv_id": xmltv_id }),
            },
        )
        .await?;
        let programmes: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM epg_programmes p, epg_source s WHERE s.id = 1 AND p.generation = s.generation AND p.xmltv_id = $1",
        )
        .bind(xmltv_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Mapped {
            channel: name,
            programmes,
        })
    }

    /// The source, the last fetch, what is held, and the first `shown` unmatched channels.
    pub async fn epg_status(&self, actor: &Actor, shown: usize) -> Result<GuideStatus> {
        actor.require_admin()?;
        let (url, label, fetched_at, outcome, generation): (String, String, i64, String, i64) =
            sqlx::query_as(
                "SELECT url, label, fetched_at, outcome, generation FROM epg_source WHERE id = 1",
            )
            .fetch_one(self.db.read())
            .await?;
        let programmes: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM epg_programmes WHERE generation = $1")
                .bind(generation)
                .fetch_one(self.db.read())
                .await?;
        let unmatched: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT c.name {UNMATCHED} ORDER BY c.sort_order, c.id LIMIT $1"
        ))
        .bind(shown as i64)
        .fetch_all(self.db.read())
        .await?;
        let unmatched_count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {UNMATCHED}"))
            .fetch_one(self.db.read())
            .await?;
        Ok(GuideStatus {
            source: (!url.is_empty() || !label.is_empty()).then_some(label),
            fetched_at: (fetched_at > 0)
                .then(|| DateTime::from_timestamp(fetched_at, 0))
                .flatten(),
            outcome,
            programmes,
            unmatched,
            unmatched_count,
        })
    }
}
