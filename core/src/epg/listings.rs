//! A stream's programmes for players, checked against the subscriber's bouquets.

use crate::access::Access;
use crate::bouquets::StreamRight;
use crate::{Core, Result};

/// One programme of a stream's guide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub id: i64,
    /// The guide's channel id.
    pub channel_id: String,
    pub title: String,
    pub description: String,
    pub lang: String,
    pub start: i64,
    pub stop: i64,
}

impl Core {
    /// Programmes of stream `stream` ending after `from` (Unix seconds), at most `limit`, in
    /// order; nothing for a stream the subscriber may not watch or that has no guide.
    pub async fn epg_listings(
        &self,
        access: &Access,
        stream: i64,
        from: i64,
        limit: usize,
    ) -> Result<Vec<Listing>> {
        if self
            .stream_right(access, crate::catalogue::Stream::Live(stream))
            .await?
            != StreamRight::Allowed
        {
            return Ok(Vec::new());
        }
        let rows: Vec<(i64, String, String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT p.id, p.xmltv_id, p.title, p.description, p.lang, p.start_at, p.stop_at \
             FROM channels c LEFT JOIN epg_map m ON m.channel_name = c.name \
             JOIN epg_source s ON s.id = 1 \
             JOIN epg_programmes p ON p.generation = s.generation AND p.xmltv_id = COALESCE(m.xmltv_id, c.epg_id) \
             WHERE c.id = $1 AND p.stop_at > $2 ORDER BY p.start_at LIMIT $3",
        )
        .bind(stream)
        .bind(from)
        .bind(limit as i64)
        .fetch_all(self.db.read())
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, channel_id, title, description, lang, start, stop)| Listing {
                    id,
                    channel_id,
                    title,
                    description,
                    lang,
                    start,
                    stop,
                },
            )
            .collect())
    }
}
