//! Button presses. The data is decoded into a [`Press`] and everything it asks for is checked
//! by core against the presser's own rights, so forged data changes and reveals nothing.

use super::{
    Ctx, HandlerResult, broadcast, confirm, credits, guided, payments, resellers, settings,
    subscribers,
};
use crate::app::App;
use crate::callback::{CardAction, Press};
use crate::reply;
use reseller_core::domain::{OperationId, TelegramId};
use reseller_core::ops::Command;
use std::sync::Arc;
use teloxide::prelude::*;

pub(crate) async fn on_press(bot: Bot, q: CallbackQuery, app: Arc<App>) -> HandlerResult {
    let telegram_id = TelegramId(q.from.id.0 as i64);
    let Some(message) = q.message.as_ref() else {
        reply::answer(&bot, &q.id, None).await?;
        return Ok(());
    };
    let actor = match app.core.identify(telegram_id).await {
        Ok(Some(actor)) => actor,
        Ok(None) => {
            reply::answer(&bot, &q.id, Some("You are not registered.")).await?;
            return Ok(());
        }
        Err(e) => {
            reply::answer(&bot, &q.id, Some(&e.to_string())).await?;
            return Ok(());
        }
    };
    let Some(press) = q.data.as_deref().and_then(Press::decode) else {
        reply::answer(&bot, &q.id, Some("This button is no longer valid.")).await?;
        return Ok(());
    };
    let ctx = Ctx {
        bot,
        app,
        chat: message.chat().id,
        actor,
    };
    let card = message.id();
    let notice = match press {
        Press::Confirm(id) => confirm::confirm(&ctx, card, &id).await?,
        Press::Cancel(id) => confirm::cancel(&ctx, card, &id).await?,
        other => {
            reply::answer(&ctx.bot, &q.id, None).await?;
            // A retried callback carries the same id, so the same operation id.
            let op = OperationId::parse(&format!("callback_{}", q.id.0))
                .unwrap_or_else(|_| OperationId::random());
            return act(&ctx, card, other, op).await;
        }
    };
    reply::answer(&ctx.bot, &q.id, notice).await?;
    Ok(())
}

async fn act(
    ctx: &Ctx,
    card: teloxide::types::MessageId,
    press: Press,
    op: OperationId,
) -> HandlerResult {
    match press {
        Press::Users {
            filter,
            page,
            search,
        } => subscribers::list(ctx, filter, search.as_deref(), page, Some(card)).await,
        Press::History { page, reseller } => {
            credits::history(ctx, reseller.as_ref(), page, Some(card)).await
        }
        Press::Resellers { page } => resellers::list(ctx, page, Some(card)).await,
        Press::Open(u) => subscribers::card(ctx, &u).await,
        Press::NewDays(days) => guided::days_chosen(ctx, days).await,
        Press::Act(action, username) => match action {
            CardAction::Extend(days) => {
                confirm::propose(ctx, Command::Extend { username, days }).await
            }
            CardAction::Reset => confirm::propose(ctx, Command::Reset { username }).await,
            CardAction::Delete => confirm::propose(ctx, Command::Delete { username }).await,
            CardAction::Disable => subscribers::set_active(ctx, &op, &username, false).await,
            CardAction::Enable => subscribers::set_active(ctx, &op, &username, true).await,
            CardAction::Show => subscribers::show_credentials(ctx, &username).await,
        },
        Press::Buy(package) => payments::methods(ctx, package).await,
        Press::Pay(package, method) => payments::pay(ctx, package, method).await,
        Press::Receipt(approve, order) => payments::decide(ctx, approve, &order).await,
        Press::Permission(p, on, reseller) => {
            resellers::press_permission(ctx, card, &reseller, p, on).await
        }
        Press::Template(id, reset, reseller) => {
            resellers::press_template(ctx, card, &reseller, id, reset).await
        }
        Press::Notify(kind, on) => settings::switch(ctx, card, kind, on).await,
        Press::Broadcast(id, send) => broadcast::decide(ctx, card, id, send).await,
        Press::Confirm(_) | Press::Cancel(_) => Ok(()),
    }
}
