//! `/start <code>`: linking a Telegram account to the reseller an admin invited.

use super::HandlerResult;
use crate::app::App;
use crate::{render, reply};
use reseller_core::Actor;
use reseller_core::domain::TelegramId;
use teloxide::prelude::*;
use teloxide::utils::html::escape;

pub(crate) async fn redeem(
    bot: &Bot,
    app: &App,
    chat: ChatId,
    telegram_id: TelegramId,
    code: &str,
) -> HandlerResult {
    match app.core.redeem_invite(telegram_id, code).await {
        Ok(reseller) => {
            tracing::info!(reseller = %reseller.username, telegram_id = telegram_id.0, "reseller linked");
            let text = format!(
                "👋 Welcome, <b>{}</b>! Your Telegram account is now linked to reseller <code>{}</code>.\nBalance: {} credits.\n\n{}",
                escape(&reseller.display_name),
                escape(&reseller.username),
                render::credits(reseller.balance),
                render::help(&Actor::Reseller(reseller.id))
            );
            reply::send(bot, chat, &text, None).await?;
        }
        Err(e) => reply::send(bot, chat, &reply::error_text(&e), None).await?,
    }
    Ok(())
}
