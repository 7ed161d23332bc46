//! `/bulk`: a list of subscribers to create (text after the command, the next message, or a CSV
//! file with the caption `/bulk`), or subscribers to extend, shown as one confirmation card;
//! once confirmed, the created lines' credentials come back as a CSV file.

use super::{Ctx, HandlerResult};
use crate::conversation::{self, State};
use crate::{keyboards, render};
use reseller_core::domain::{Days, OperationId};
use reseller_core::ops::bulk::{self, BULK_MAX_ROWS};
use reseller_core::ops::{BulkPlan, Command, Selection};
use teloxide::prelude::*;
use teloxide::types::{Document, InputFile};
use teloxide::utils::html::escape;

/// The largest list file read: 500 rows with their longest notes fit well under it.
const MAX_FILE_BYTES: usize = 512 * 1024;

/// `/bulk` alone: the next message (text or CSV file) is the list.
pub(crate) async fn start(ctx: &Ctx) -> HandlerResult {
    conversation::save(&ctx.app.core, ctx.chat.0, &State::AwaitingBulkList).await?;
    ctx.say(&format!(
        "📋 <b>Bulk create</b>\nSend up to {BULK_MAX_ROWS} subscribers, one per line as <code>username,days[,note]</code>, or a CSV file in that shape. You will see the cost before anything is created. /cancel to stop."
    ))
    .await
}

/// A list typed or pasted as text.
pub(crate) async fn create_from_text(ctx: &Ctx, text: &str) -> HandlerResult {
    conversation::clear(&ctx.app.core, ctx.chat.0).await?;
    match BulkPlan::parse(text) {
        Ok(plan) => propose_create(ctx, plan).await,
        Err(e) => ctx.say(&format!("⚠️ {}", escape(&e.0))).await,
    }
}

/// A CSV file, with the caption `/bulk` or sent after it.
pub(crate) async fn create_from_file(ctx: &Ctx, document: &Document) -> HandlerResult {
    conversation::clear(&ctx.app.core, ctx.chat.0).await?;
    let limits = crate::playlist::ImportSettings {
        allow_hosts: Vec::new(),
        max_bytes: MAX_FILE_BYTES,
    };
    match crate::playlist::download(&ctx.bot, document, &limits).await {
        Ok(text) => create_from_text(ctx, text.trim_start_matches('\u{feff}')).await,
        Err(why) => {
            ctx.say(&format!("⚠️ Could not read the file: {}", escape(&why)))
                .await
        }
    }
}

/// A file sent without a command: the list, if `/bulk` asked for one.
pub(crate) async fn file_in_flow(ctx: &Ctx, document: &Document) -> HandlerResult {
    match conversation::load(&ctx.app.core, ctx.chat.0).await? {
        Some(State::AwaitingBulkList) => create_from_file(ctx, document).await,
        _ => Ok(()),
    }
}

/// `/bulk extend expiring <days>` (`names: None`) or `/bulk extend <days> <usernames>`.
pub(crate) async fn extend(ctx: &Ctx, days: Days, names: Option<&str>) -> HandlerResult {
    let (selection, refused) = match names {
        None => (Selection::Expiring, Vec::new()),
        Some(text) => match bulk::parse_usernames(text) {
            Ok((names, refused)) => (Selection::Named(names), refused),
            Err(e) => return ctx.say(&format!("⚠️ {}", escape(&e.0))).await,
        },
    };
    propose(
        ctx,
        Command::BulkExtend {
            days,
            selection,
            refused,
        },
    )
    .await
}

async fn propose_create(ctx: &Ctx, plan: BulkPlan) -> HandlerResult {
    propose(
        ctx,
        Command::BulkCreate {
            rows: plan.rows,
            refused: plan.refused,
        },
    )
    .await
}

/// The card; with no row to run it has no Confirm button.
async fn propose(ctx: &Ctx, command: Command) -> HandlerResult {
    if !ctx.within_rate_limit().await? {
        return Ok(());
    }
    match ctx.app.core.propose(&ctx.actor, command).await {
        Ok((id, quote)) => {
            let text = render::quote(&quote);
            if render::bulk_count(&quote.command) == 0 {
                ctx.say(&text).await
            } else {
                ctx.say_with(&text, keyboards::confirm(&id)).await
            }
        }
        Err(e) => ctx.refuse(&e).await,
    }
}

/// After a confirmed bulk creation: its credentials as a CSV file.
pub(crate) async fn send_credentials(ctx: &Ctx, id: &OperationId) -> HandlerResult {
    let file = match ctx.app.core.bulk_credentials(&ctx.actor, id).await {
        Ok(lines) if lines.is_empty() => return Ok(()),
        Ok(lines) => reseller_core::ops::bulk::credentials_csv(&lines).map(|f| (f, lines.len())),
        Err(e) => Err(e),
    };
    let (bytes, count) = match file {
        Ok(f) => f,
        Err(e) => return ctx.refuse(&e).await,
    };
    let name = format!(
        "subscribers-{}.csv",
        chrono::Utc::now().format("%Y%m%d-%H%M")
    );
    let caption = format!(
        "🔐 Credentials of the {count} new subscribers. This file holds their passwords: keep it safe and delete it once handed over."
    );
    crate::reply::retrying(|| {
        ctx.bot
            .send_document(
                ctx.chat,
                InputFile::memory(bytes.clone()).file_name(name.clone()),
            )
            .caption(caption.clone())
            .into_future()
    })
    .await?;
    Ok(())
}
