//! Live TV: `get_live_streams`, and the categories of each kind of stream, filtered by the
//! subscriber's bouquets.

use reseller_core::access::Access;
use reseller_core::catalogue::Kind;
use reseller_core::{Core, Result};
use serde_json::{Value, json};

/// `get_live_categories`, `get_vod_categories` and `get_series_categories`: the categories
/// holding streams of `kind`.
pub(super) async fn categories(core: &Core, access: &Access, kind: Kind) -> Result<Value> {
    let categories = core.categories_of(kind).await?;
    Ok(categories
        .iter()
        .filter(|c| access.may_watch(c.id))
        .map(
            |c| json!({ "category_id": c.id.to_string(), "category_name": c.name, "parent_id": 0 }),
        )
        .collect())
}

/// Streams of one category or all. `category_ids` is XUI.one's field (one category per channel
/// here), which @iptv/xtream-api's standardized output reads; `added` is the first import.
pub(super) async fn streams(core: &Core, access: &Access, category: Option<i64>) -> Result<Value> {
    let channels = core.channels(category).await?;
    Ok(channels
        .iter()
        .filter(|c| access.may_watch(c.category_id))
        .map(|c| {
            json!({
                "num": c.num, "name": c.name, "stream_type": "live", "stream_id": c.id,
                "stream_icon": c.logo, "epg_channel_id": c.epg_id, "added": c.added_at.to_string(),
                "category_id": c.category_id.to_string(), "category_ids": [c.category_id],
                "custom_sid": "", "tv_archive": 0, "direct_source": "", "tv_archive_duration": 0,
            })
        })
        .collect())
}
