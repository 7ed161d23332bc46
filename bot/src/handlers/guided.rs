//! The guided `/new` flow: days (buttons or typed), then the username, then the usual
//! confirmation card.

use super::{Ctx, HandlerResult, confirm};
use crate::conversation::{self, State};
use crate::keyboards;
use reseller_core::domain::{Days, Username};
use reseller_core::ops::Command;

pub(crate) async fn start_new(ctx: &Ctx) -> HandlerResult {
    conversation::save(&ctx.app.core, ctx.chat.0, &State::NewAwaitingDays).await?;
    ctx.say_with(
        "🆕 <b>New subscriber</b>\nFor how many days? Pick one or type a number. /cancel to stop.",
        keyboards::new_days(),
    )
    .await
}

pub(crate) async fn days_chosen(ctx: &Ctx, days: Days) -> HandlerResult {
    conversation::save(
        &ctx.app.core,
        ctx.chat.0,
        &State::NewAwaitingUsername { days },
    )
    .await?;
    ctx.say(&format!(
        "{days} days. Now send the username for the new subscriber ({} to {} letters, digits, dots, dashes or underscores).",
        Username::MIN,
        Username::MAX
    ))
    .await
}

/// Plain text: the next answer in a flow, or a hint.
pub(crate) async fn on_text(ctx: &Ctx, text: &str) -> HandlerResult {
    match conversation::load(&ctx.app.core, ctx.chat.0).await? {
        Some(State::NewAwaitingDays) => match Days::parse(text) {
            Ok(days) => days_chosen(ctx, days).await,
            Err(e) => {
                ctx.say(&format!("⚠️ {}", teloxide::utils::html::escape(&e.0)))
                    .await
            }
        },
        Some(State::NewAwaitingUsername { days }) => match Username::parse(text) {
            Ok(username) => {
                conversation::clear(&ctx.app.core, ctx.chat.0).await?;
                confirm::propose(ctx, Command::CreateSubscriber { username, days }).await
            }
            Err(e) => {
                ctx.say(&format!("⚠️ {}", teloxide::utils::html::escape(&e.0)))
                    .await
            }
        },
        Some(State::AwaitingBulkList) => super::bulk::create_from_text(ctx, text).await,
        Some(State::AwaitingReceipt { .. }) => {
            ctx.say("Please send a photo of the payment receipt, or /cancel.")
                .await
        }
        None => {
            ctx.say("I did not understand that. Send /help for the menu.")
                .await
        }
    }
}
