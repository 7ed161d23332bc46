//! `/epg` for admins: the programme guide's source (a URL or an uploaded file), a fetch on
//! demand, channel-name mappings, and what is held.

use super::{Ctx, HandlerResult};
use crate::guide::{self, Fetched};
use reseller_core::CoreError;
use reseller_core::epg::SourceKind;
use teloxide::utils::html::escape;

/// Unmatched channels named in `/epg`.
const UNMATCHED_SHOWN: usize = 20;

pub(crate) async fn show(ctx: &Ctx) -> HandlerResult {
    let status = match ctx.app.core.epg_status(&ctx.actor, UNMATCHED_SHOWN).await {
        Ok(s) => s,
        Err(e) => return ctx.refuse(&e).await,
    };
    let mut text = String::from("📅 <b>Programme guide</b>\n");
    match &status.source {
        Some(source) => text.push_str(&format!("Source: {}\n", escape(source))),
        None => text.push_str("Source: none. Set one with /epg source &lt;XMLTV URL&gt;, or send the file with the caption /epg source.\n"),
    }
    match status.fetched_at {
        Some(at) => text.push_str(&format!(
            "Last fetch: {} UTC — {}\n",
            at.format("%Y-%m-%d %H:%M"),
            escape(&status.outcome)
        )),
        None => text.push_str("Last fetch: never\n"),
    }
    text.push_str(&format!("Programmes held: {}\n", status.programmes));
    if status.unmatched_count == 0 {
        text.push_str("Every channel has a guide.");
    } else {
        text.push_str(&format!(
            "Channels without a guide: {}",
            status.unmatched_count
        ));
        for name in &status.unmatched {
            text.push_str(&format!("\n• {}", escape(name)));
        }
        if status.unmatched_count > status.unmatched.len() as i64 {
            text.push_str(&format!(
                "\n…and {} more.",
                status.unmatched_count - status.unmatched.len() as i64
            ));
        }
        text.push_str("\nMatch one with /epg map &lt;channel name&gt; &lt;guide channel id&gt;.");
    }
    ctx.say(&text).await
}

pub(crate) async fn set_source(ctx: &Ctx, url: &str) -> HandlerResult {
    if let Err(e) = ctx
        .app
        .core
        .set_epg_source(&ctx.actor, &SourceKind::Url(url.to_string()))
        .await
    {
        return ctx.refuse(&e).await;
    }
    refresh(ctx).await
}

pub(crate) async fn refresh(ctx: &Ctx) -> HandlerResult {
    if !ctx.actor.is_admin() {
        return ctx.refuse(&CoreError::AdminOnly).await;
    }
    match guide::fetch_now(&ctx.app.core, &ctx.app.guide).await {
        Ok(Some(fetched)) => ctx.say(&report(&fetched)).await,
        Ok(None) => {
            ctx.say("⏳ A guide fetch is already running; see /epg in a while.")
                .await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}

/// `/epg source` as the caption of an uploaded XMLTV file (gzip accepted).
pub(crate) async fn upload(
    ctx: &Ctx,
    document: Option<&teloxide::types::Document>,
) -> HandlerResult {
    if !ctx.actor.is_admin() {
        return ctx.refuse(&CoreError::AdminOnly).await;
    }
    let Some(document) = document else {
        return ctx
            .say("Send the XMLTV file with the caption /epg source, or give its URL: /epg source &lt;URL&gt;.")
            .await;
    };
    let name = document
        .file_name
        .clone()
        .unwrap_or_else(|| "guide.xml".into());
    if let Err(e) = ctx
        .app
        .core
        .set_epg_source(&ctx.actor, &SourceKind::File(name))
        .await
    {
        return ctx.refuse(&e).await;
    }
    match ctx.app.core.claim_epg_fetch(None).await {
        Ok(Some(claim)) => {
            let fetched =
                guide::import_upload(&ctx.app.core, &ctx.bot, claim, document, &ctx.app.guide)
                    .await;
            ctx.say(&report(&fetched)).await
        }
        Ok(None) => {
            ctx.say("⏳ A guide fetch is already running; send the file again in a while.")
                .await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}

pub(crate) async fn map(ctx: &Ctx, channel: &str, xmltv_id: &str) -> HandlerResult {
    match ctx
        .app
        .core
        .map_epg_channel(&ctx.actor, channel, xmltv_id)
        .await
    {
        Ok(m) => {
            ctx.say(&format!(
                "✅ {} now shows the guide of {} ({} programmes held).",
                escape(&m.channel),
                escape(xmltv_id),
                m.programmes
            ))
            .await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}

fn report(fetched: &Fetched) -> String {
    match fetched {
        Fetched::Imported(done) => format!(
            "✅ Guide imported: {} programmes of {} channels; {} outside the window were dropped, {} unreadable skipped. See /epg.",
            done.programmes, done.channels, done.outside_window, done.unreadable
        ),
        Fetched::Unchanged => "✅ The guide has not changed since the last fetch.".to_string(),
        Fetched::Failed(why) => format!("⚠️ Could not read the guide: {}", escape(why)),
    }
}
