//! Admin commands about resellers.

use super::{Ctx, HandlerResult};
use crate::{keyboards, render};
use reseller_core::domain::{Label, Limit, LimitValue, Permission, Username};
use reseller_core::ops::Invite;
use teloxide::types::{Me, MessageId};
use teloxide::utils::html::escape;

fn invite_text(me: &Me, reseller: &str, invite: &Invite) -> String {
    let link = format!("https://t.me/{}?start={}", me.username(), invite.code);
    render::invite(reseller, &link, invite.expires_at)
}

pub(crate) async fn create(
    ctx: &Ctx,
    me: &Me,
    username: &Username,
    display_name: Option<&str>,
) -> HandlerResult {
    match ctx
        .app
        .core
        .create_reseller(&ctx.actor, username, display_name)
        .await
    {
        Ok(r) => {
            ctx.say(&format!(
                "✅ Reseller <b>{}</b> created.\n\n{}",
                escape(&r.username),
                invite_text(me, &r.username, &r.invite)
            ))
            .await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}

pub(crate) async fn invite(ctx: &Ctx, me: &Me, reseller: &Username) -> HandlerResult {
    match ctx.app.core.new_invite(&ctx.actor, reseller).await {
        Ok(invite) => ctx.say(&invite_text(me, reseller.as_str(), &invite)).await,
        Err(e) => ctx.refuse(&e).await,
    }
}

/// A page of the reseller overview, sent new or edited into `message` when paging.
pub(crate) async fn list(ctx: &Ctx, page: i64, message: Option<MessageId>) -> HandlerResult {
    match ctx.app.core.resellers(&ctx.actor, page).await {
        Ok(p) => {
            let text = render::resellers(&p);
            let kb = keyboards::resellers_page(&p);
            match (message, kb) {
                (Some(m), kb) => ctx.edit(m, &text, kb).await,
                (None, Some(kb)) => ctx.say_with(&text, kb).await,
                (None, None) => ctx.say(&text).await,
            }
        }
        Err(e) => ctx.refuse(&e).await,
    }
}

pub(crate) async fn detail(ctx: &Ctx, reseller: &Username) -> HandlerResult {
    match ctx.app.core.reseller(&ctx.actor, reseller).await {
        Ok(s) => ctx.say(&render::reseller_detail(&s)).await,
        Err(e) => ctx.refuse(&e).await,
    }
}

pub(crate) async fn set_active(ctx: &Ctx, reseller: &Username, active: bool) -> HandlerResult {
    match ctx
        .app
        .core
        .set_reseller_active(&ctx.actor, reseller, active)
        .await
    {
        Ok(r) => {
            let state = if r.active {
                "active again"
            } else {
                "suspended: they can neither view nor change anything"
            };
            ctx.say(&format!(
                "✅ Reseller <b>{}</b> is {state}.",
                escape(&r.username)
            ))
            .await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}

pub(crate) async fn set_permission(
    ctx: &Ctx,
    reseller: &Username,
    permission: Permission,
    on: bool,
) -> HandlerResult {
    match ctx
        .app
        .core
        .set_permission(&ctx.actor, reseller, permission, on)
        .await
    {
        Ok(r) => {
            let state = if r.permissions.allows(permission) {
                "on"
            } else {
                "off"
            };
            ctx.say(&format!(
                "✅ {} for <b>{}</b> is {state}.",
                permission.column(),
                escape(&r.username)
            ))
            .await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}

pub(crate) async fn set_limit(
    ctx: &Ctx,
    reseller: &Username,
    limit: Limit,
    value: LimitValue,
) -> HandlerResult {
    match ctx
        .app
        .core
        .set_limit(&ctx.actor, reseller, limit, value)
        .await
    {
        Ok(r) => {
            ctx.say(&format!(
                "✅ {limit} for <b>{}</b> is {}.",
                escape(&r.username),
                value.get()
            ))
            .await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}

pub(crate) async fn set_panel_name(
    ctx: &Ctx,
    reseller: Option<&Username>,
    name: &Label,
) -> HandlerResult {
    if ctx.actor.is_admin() && reseller.is_none() {
        return ctx
            .say("Whose panel? Usage: /panelname &lt;reseller&gt; &lt;panel name&gt;")
            .await;
    }
    let reseller = if ctx.actor.is_admin() { reseller } else { None };
    match ctx
        .app
        .core
        .set_panel_name(&ctx.actor, reseller, name)
        .await
    {
        Ok(r) => {
            let text = format!(
                "✅ Panel name of <b>{}</b> is now “{}”.",
                escape(&r),
                escape(name.as_str())
            );
            ctx.say(&text).await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}
