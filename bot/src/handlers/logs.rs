//! `/logs`: the activity log as sentences, a page at a time, or as a CSV file.

use super::{Ctx, HandlerResult};
use crate::{render, reply};
use reseller_core::activity::{LogEntry, LogFilter};
use teloxide::prelude::*;
use teloxide::types::InputFile;

/// A page of the log; `words` are the filters as typed, for the next page's command.
pub(crate) async fn show(ctx: &Ctx, filter: &LogFilter, page: i64, words: &str) -> HandlerResult {
    match ctx.app.core.activity(&ctx.actor, filter, page).await {
        Ok(p) => {
            let next = p.has_next().then(|| {
                format!("/logs {words} {}", p.page + 2)
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            });
            ctx.say(&render::log_page(&p, next)).await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}

/// The filtered log as `activity.csv`: one row per entry, newest first, the sentence beside
/// the stored action and details.
pub(crate) async fn csv(ctx: &Ctx, filter: &LogFilter) -> HandlerResult {
    let entries = match ctx.app.core.activity_export(&ctx.actor, filter).await {
        Ok(e) => e,
        Err(e) => return ctx.refuse(&e).await,
    };
    let bytes = to_csv(&entries)?;
    let caption = format!(
        "📜 Activity log: {} entries{}.",
        entries.len(),
        if entries.len() as i64 >= reseller_core::activity::CSV_MAX {
            " (the newest; narrow the filters for older ones)"
        } else {
            ""
        }
    );
    let file = InputFile::memory(bytes).file_name("activity.csv");
    reply::retrying(|| {
        ctx.bot
            .send_document(ctx.chat, file.clone())
            .caption(&caption)
            .into_future()
    })
    .await?;
    Ok(())
}

fn to_csv(entries: &[LogEntry]) -> Result<Vec<u8>, super::HandlerError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "time", "actor", "action", "reseller", "target", "sentence", "details",
    ])?;
    for e in entries {
        w.write_record([
            e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
            render::log_actor(&e.who),
            e.action.clone(),
            e.reseller.clone().unwrap_or_default(),
            e.target.clone().unwrap_or_default(),
            render::log_sentence(e),
            e.details.clone(),
        ])?;
    }
    Ok(w.into_inner().map_err(|e| e.into_error())?)
}
