//! Update handlers: the dptree schema, and one module per area of the bot.

mod apikeys;
mod branding;
mod broadcast;
mod bulk;
mod channels;
mod confirm;
mod credits;
mod epg;
mod guided;
mod link;
mod logs;
mod message;
mod payments;
mod press;
mod pricing;
mod reports;
mod resellers;
mod settings;
mod stats;
mod subresellers;
mod subscribers;

use crate::app::App;
use crate::reply;
use reseller_core::{Actor, CoreError};
use std::sync::Arc;
use teloxide::dispatching::UpdateHandler;
use teloxide::dptree::HandlerSignature;
use teloxide::dptree::di::DependencyMap;
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardMarkup, MessageId, UpdateKind};

pub(crate) type HandlerError = Box<dyn std::error::Error + Send + Sync>;
pub(crate) type HandlerResult = Result<(), HandlerError>;

pub(crate) fn schema() -> UpdateHandler<HandlerError> {
    timed()
        .branch(Update::filter_message().endpoint(message::on_message))
        .branch(Update::filter_callback_query().endpoint(press::on_press))
        .branch(Update::filter_pre_checkout_query().endpoint(payments::pre_checkout))
}

/// The entry of the tree: times each update from arrival to the handler's last reply (what a
/// user waits for, e.g. a dashboard), labelled by update kind.
fn timed() -> UpdateHandler<HandlerError> {
    dptree::from_fn(
        |deps: DependencyMap, cont| async move {
            let kind = deps.try_get::<Update>().map_or("other", |u| kind_of(&u));
            let started = std::time::Instant::now();
            let flow = cont(deps).await;
            reseller_core::metrics::bot_update(kind, started.elapsed());
            flow
        },
        HandlerSignature::Entry,
    )
}

fn kind_of(update: &Update) -> &'static str {
    match update.kind {
        UpdateKind::Message(_) => "message",
        UpdateKind::EditedMessage(_) => "edited_message",
        UpdateKind::CallbackQuery(_) => "callback_query",
        UpdateKind::PreCheckoutQuery(_) => "pre_checkout_query",
        _ => "other",
    }
}

/// One identified user in one chat: what every handler needs.
pub(crate) struct Ctx {
    pub bot: Bot,
    pub app: Arc<App>,
    pub chat: ChatId,
    pub actor: Actor,
}

impl Ctx {
    pub(crate) async fn say(&self, text: &str) -> HandlerResult {
        Ok(reply::send(&self.bot, self.chat, text, None).await?)
    }

    pub(crate) async fn say_with(
        &self,
        text: &str,
        keyboard: InlineKeyboardMarkup,
    ) -> HandlerResult {
        Ok(reply::send(&self.bot, self.chat, text, Some(keyboard)).await?)
    }

    pub(crate) async fn edit(
        &self,
        message: MessageId,
        text: &str,
        keyboard: Option<InlineKeyboardMarkup>,
    ) -> HandlerResult {
        Ok(reply::edit(&self.bot, self.chat, message, text, keyboard).await?)
    }

    /// Says what `text` makes of a core call's result, or why it was refused.
    pub(crate) async fn say_or_refuse<T>(
        &self,
        result: Result<T, CoreError>,
        text: impl FnOnce(T) -> String,
    ) -> HandlerResult {
        match result {
            Ok(value) => self.say(&text(value)).await,
            Err(e) => self.refuse(&e).await,
        }
    }

    /// Tells the user why their request was refused.
    pub(crate) async fn refuse(&self, e: &CoreError) -> HandlerResult {
        self.say(&reply::error_text(e)).await
    }

    /// Applies the per-reseller rate limit to a changing action; `false` (and a message saying
    /// when to try again) if over it.
    pub(crate) async fn within_rate_limit(&self) -> Result<bool, HandlerError> {
        match self.app.limiter.check(&self.app.core, &self.actor).await {
            Ok(()) => Ok(true),
            Err(e) => {
                self.refuse(&e).await?;
                Ok(false)
            }
        }
    }
}
