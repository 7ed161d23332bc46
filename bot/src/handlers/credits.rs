//! Balance and credit history.

use super::{Ctx, HandlerResult};
use crate::{keyboards, render};
use reseller_core::Actor;
use reseller_core::domain::Username;
use teloxide::types::MessageId;

pub(crate) async fn balance(ctx: &Ctx) -> HandlerResult {
    let Actor::Reseller(id) = ctx.actor else {
        return ctx
            .say("Admins have no balance. See /resellers for theirs.")
            .await;
    };
    match ctx.app.core.me(id).await {
        Ok(me) if !me.active => ctx.refuse(&reseller_core::CoreError::Suspended).await,
        Ok(me) => {
            ctx.say(&format!(
                "💰 Balance: <b>{}</b> credits (1 credit = 1 day).",
                render::credits(me.balance)
            ))
            .await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}

/// A page of history, sent new or edited into `message` when paging.
pub(crate) async fn history(
    ctx: &Ctx,
    of: Option<&Username>,
    page: i64,
    message: Option<MessageId>,
) -> HandlerResult {
    if ctx.actor.is_admin() && of.is_none() {
        return ctx
            .say("Whose history? Usage: /history &lt;reseller&gt;")
            .await;
    }
    let of = if ctx.actor.is_admin() { of } else { None };
    match ctx.app.core.history(&ctx.actor, of, page).await {
        Ok(p) => {
            let text = render::history_page(&p, of.map(Username::as_str));
            let kb = keyboards::history_page(&p, of);
            match message {
                Some(m) => ctx.edit(m, &text, kb).await,
                None => match kb {
                    Some(kb) => ctx.say_with(&text, kb).await,
                    None => ctx.say(&text).await,
                },
            }
        }
        Err(e) => ctx.refuse(&e).await,
    }
}
