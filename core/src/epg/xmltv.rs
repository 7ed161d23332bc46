//! The guide as XMLTV for one subscriber (`xmltv.php`): their channels only, written page by
//! page from keyset queries as the player reads, so no response is built whole in memory.

use crate::access::Access;
use crate::{Core, Result};
use futures::Stream;
use quick_xml::escape::escape;
use std::collections::HashMap;
use std::sync::Arc;

/// Guide channels per programme query, and programmes per page.
const CHANNELS_PER_QUERY: usize = 50;
const PAGE: i64 = 1_000;

/// Where the writer is.
enum Step {
    Start,
    /// Guide channel ids still to write (each with the ids players know it by), and the last
    /// programme written of the current group: (channel, start, id).
    Programmes {
        groups: std::vec::IntoIter<Vec<(String, Vec<String>)>>,
        group: Option<Vec<(String, Vec<String>)>>,
        after: (String, i64, i64),
        generation: i64,
    },
    Done,
}

impl Core {
    /// The XMLTV document for `access`, as a stream of text pieces.
    pub fn xmltv_for(
        &self,
        access: Arc<Access>,
    ) -> impl Stream<Item = Result<String>> + Send + 'static {
        let core = self.clone();
        futures::stream::try_unfold(Step::Start, move |step| {
            let (core, access) = (core.clone(), access.clone());
            async move { core.xmltv_step(&access, step).await }
        })
    }

    async fn xmltv_step(&self, access: &Access, step: Step) -> Result<Option<(String, Step)>> {
        match step {
            Step::Start => {
                let (text, groups, generation) = self.xmltv_channels(access).await?;
                let mut groups = groups.into_iter();
                let group = groups.next();
                Ok(Some((
                    text,
                    Step::Programmes {
                        groups,
                        group,
                        after: (String::new(), i64::MIN, 0),
                        generation,
                    },
                )))
            }
            Step::Programmes {
                mut groups,
                group: None,
                generation,
                ..
            } => Ok(Some(match groups.next() {
                None => ("</tv>\n".to_string(), Step::Done),
                Some(group) => (
                    String::new(),
                    Step::Programmes {
                        groups,
                        group: Some(group),
                        after: (String::new(), i64::MIN, 0),
                        generation,
                    },
                ),
            })),
            Step::Programmes {
                groups,
                group: Some(group),
                after,
                generation,
            } => {
                let (text, last) = self.xmltv_page(&group, &after, generation).await?;
                let next = match last {
                    Some(after) => Step::Programmes {
                        groups,
                        group: Some(group),
                        after,
                        generation,
                    },
                    None => Step::Programmes {
                        groups,
                        group: None,
                        after,
                        generation,
                    },
                };
                Ok(Some((text, next)))
            }
            Step::Done => Ok(None),
        }
    }

    /// The header and the subscriber's channels; the guide channel ids grouped for the
    /// programme queries, each with the ids players know it by.
    async fn xmltv_channels(
        &self,
        access: &Access,
    ) -> Result<(String, Vec<Vec<(String, Vec<String>)>>, i64)> {
        let generation: i64 = sqlx::query_scalar("SELECT generation FROM epg_source WHERE id = 1")
            .fetch_one(self.db.read())
            .await?;
        let map: HashMap<String, String> =
            sqlx::query_as("SELECT channel_name, xmltv_id FROM epg_map")
                .fetch_all(self.db.read())
                .await?
                .into_iter()
                .collect();
        let mut text = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE tv SYSTEM \"xmltv.dtd\">\n<tv generator-info-name=\"resellerbot\">\n",
        );
        // Guide id → the ids players know it by (the channel's tvg-id, or the guide id itself).
        let mut players_ids: Vec<(String, Vec<String>)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for c in self
            .channels(None)
            .await?
            .iter()
            .filter(|c| access.may_watch(c.category_id))
        {
            let guide = map
                .get(&c.name)
                .cloned()
                .unwrap_or_else(|| c.epg_id.clone());
            if guide.is_empty() {
                continue;
            }
            let shown = if c.epg_id.is_empty() {
                guide.clone()
            } else {
                c.epg_id.clone()
            };
            if !seen.insert(shown.clone()) {
                continue;
            }
            text.push_str(&format!(
                "  <channel id=\"{}\"><display-name>{}</display-name>{}</channel>\n",
                xml(&shown),
                xml(&c.name),
                if c.logo.is_empty() {
                    String::new()
                } else {
                    format!("<icon src=\"{}\"/>", xml(&c.logo))
                }
            ));
            match players_ids.iter_mut().find(|(g, _)| *g == guide) {
                Some((_, ids)) => ids.push(shown),
                None => players_ids.push((guide, vec![shown])),
            }
        }
        players_ids.sort();
        let groups = players_ids
            .chunks(CHANNELS_PER_QUERY)
            .map(<[_]>::to_vec)
            .collect();
        Ok((text, groups, generation))
    }

    /// One page of programmes of `group` after `after`; the last one written, if the page was full.
    async fn xmltv_page(
        &self,
        group: &[(String, Vec<String>)],
        after: &(String, i64, i64),
        generation: i64,
    ) -> Result<(String, Option<(String, i64, i64)>)> {
        let ids: Vec<String> = (0..group.len()).map(|i| format!("${}", i + 5)).collect();
        let sql = format!(
            "SELECT id, xmltv_id, start_at, stop_at, title, description, lang FROM epg_programmes \
             WHERE generation = $1 AND (xmltv_id > $2 OR (xmltv_id = $2 AND (start_at > $3 OR (start_at = $3 AND id > $4)))) \
             AND xmltv_id IN ({}) ORDER BY xmltv_id, start_at, id LIMIT {PAGE}",
            ids.join(", ")
        );
        let mut q = sqlx::query_as::<_, (i64, String, i64, i64, String, String, String)>(&sql)
            .bind(generation)
            .bind(&after.0)
            .bind(after.1)
            .bind(after.2);
        for (guide, _) in group {
            q = q.bind(guide);
        }
        let rows = q.fetch_all(self.db.read()).await?;
        let mut text = String::new();
        for (_, guide, start, stop, title, description, lang) in &rows {
            let Some((_, shown)) = group.iter().find(|(g, _)| g == guide) else {
                continue;
            };
            for channel in shown {
                text.push_str(&format!(
                    "  <programme start=\"{}\" stop=\"{}\" channel=\"{}\"><title{}>{}</title>{}</programme>\n",
                    stamp(*start),
                    stamp(*stop),
                    xml(channel),
                    if lang.is_empty() { String::new() } else { format!(" lang=\"{}\"", xml(lang)) },
                    xml(title),
                    if description.is_empty() { String::new() } else { format!("<desc>{}</desc>", xml(description)) }
                ));
            }
        }
        let last = (rows.len() as i64 == PAGE)
            .then(|| {
                rows.last()
                    .map(|(id, g, start, ..)| (g.clone(), *start, *id))
            })
            .flatten();
        Ok((text, last))
    }
}

/// Text for an XML attribute or element, without the control characters XML 1.0 forbids.
fn xml(s: &str) -> String {
    let clean: String = s
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
        .collect();
    escape(clean.as_str()).into_owned()
}

/// Unix seconds as an XMLTV time in UTC.
fn stamp(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y%m%d%H%M%S +0000").to_string())
        .unwrap_or_default()
}
