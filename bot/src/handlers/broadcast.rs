//! `/broadcast`: a preview with the number of recipients, sent only on the admin's Send.
//! Sending is the broadcast worker's ([`crate::broadcast`]).

use super::{Ctx, HandlerResult};
use crate::callback::Press;
use reseller_core::broadcast::Audience;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, MessageId};
use teloxide::utils::html::escape;

pub(crate) async fn preview(ctx: &Ctx, audience: &Audience, text: &str) -> HandlerResult {
    let draft = match ctx
        .app
        .core
        .draft_broadcast(&ctx.actor, audience, text)
        .await
    {
        Ok(d) => d,
        Err(e) => return ctx.refuse(&e).await,
    };
    if draft.recipients == 0 {
        return ctx
            .say(&format!(
                "No reseller matches “{}”; nothing to send.",
                escape(&audience.name())
            ))
            .await;
    }
    let keyboard = InlineKeyboardMarkup::new([[
        InlineKeyboardButton::callback(
            format!("📣 Send to {}", draft.recipients),
            Press::Broadcast(draft.id, true).encode(),
        ),
        InlineKeyboardButton::callback("✖️ Cancel", Press::Broadcast(draft.id, false).encode()),
    ]]);
    ctx.say_with(
        &format!(
            "📣 This goes to <b>{}</b> resellers ({}):\n\n{}",
            draft.recipients,
            escape(&audience.name()),
            escape(text)
        ),
        keyboard,
    )
    .await
}

/// Send or Cancel pressed under a preview. A second press finds it started (or cancelled)
/// and changes nothing.
pub(crate) async fn decide(ctx: &Ctx, card: MessageId, id: i64, send: bool) -> HandlerResult {
    let core = &ctx.app.core;
    let text = if send {
        match core.start_broadcast(&ctx.actor, id).await {
            Ok(Some(n)) => format!("📣 Sending to {n} resellers; progress follows."),
            Ok(None) => "This broadcast was already sent or cancelled.".to_string(),
            Err(e) => crate::reply::error_text(&e),
        }
    } else {
        match core.cancel_broadcast(&ctx.actor, id).await {
            Ok(true) => "Cancelled; nothing was sent.".to_string(),
            Ok(false) => "This broadcast was already sent or cancelled.".to_string(),
            Err(e) => crate::reply::error_text(&e),
        }
    };
    ctx.edit(card, &text, None).await
}
