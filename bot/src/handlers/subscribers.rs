//! Subscriber listings, cards, credentials, and disable/enable.

use super::{Ctx, HandlerResult};
use crate::{keyboards, render};
use reseller_core::domain::{Label, OperationId, Username};
use reseller_core::queries::subscribers::Filter;
use teloxide::types::MessageId;

/// A page of subscribers, sent new or edited into `message` when paging.
pub(crate) async fn list(
    ctx: &Ctx,
    filter: Filter,
    search: Option<&str>,
    page: i64,
    message: Option<MessageId>,
) -> HandlerResult {
    match ctx
        .app
        .core
        .subscribers(&ctx.actor, filter, search, page)
        .await
    {
        Ok(p) => {
            let text = render::users_page(&p, filter, search);
            let kb = keyboards::users_page(&p, filter, search);
            match message {
                Some(m) => ctx.edit(m, &text, Some(kb)).await,
                None => ctx.say_with(&text, kb).await,
            }
        }
        Err(e) => ctx.refuse(&e).await,
    }
}

pub(crate) async fn card(ctx: &Ctx, username: &Username) -> HandlerResult {
    match ctx.app.core.subscriber(&ctx.actor, username).await {
        Ok(s) => {
            ctx.say_with(
                &render::subscriber_card(&s, ctx.actor.is_admin()),
                keyboards::subscriber_card(&s),
            )
            .await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}

pub(crate) async fn show_credentials(ctx: &Ctx, username: &Username) -> HandlerResult {
    match ctx.app.core.credentials(&ctx.actor, username).await {
        Ok(c) => super::branding::send_credentials(ctx, &c).await,
        Err(e) => ctx.refuse(&e).await,
    }
}

pub(crate) async fn set_active(
    ctx: &Ctx,
    op: &OperationId,
    username: &Username,
    active: bool,
) -> HandlerResult {
    if !ctx.within_rate_limit().await? {
        return Ok(());
    }
    match ctx
        .app
        .core
        .set_subscriber_active(&ctx.actor, op, username, active)
        .await
    {
        Ok(done) => {
            let verb = if active { "enabled" } else { "disabled" };
            let text = if done.value {
                format!("✅ <b>{username}</b> is now {verb}.")
            } else {
                format!("<b>{username}</b> was already {verb}.")
            };
            ctx.say(&text).await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}

pub(crate) async fn set_notes(
    ctx: &Ctx,
    op: &OperationId,
    username: &Username,
    notes: &Label,
) -> HandlerResult {
    if !ctx.within_rate_limit().await? {
        return Ok(());
    }
    match ctx
        .app
        .core
        .set_notes(&ctx.actor, op, username, notes)
        .await
    {
        Ok(done) => {
            ctx.say(&format!(
                "✅ Notes of <b>{}</b> saved.",
                teloxide::utils::html::escape(&done.value)
            ))
            .await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}

pub(crate) async fn kick(ctx: &Ctx, username: &Username) -> HandlerResult {
    if !ctx.within_rate_limit().await? {
        return Ok(());
    }
    match ctx.app.core.kick(&ctx.actor, username).await {
        Ok(n) => {
            ctx.say(&format!("✅ Ended {n} connection(s) of <b>{username}</b>."))
                .await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}
