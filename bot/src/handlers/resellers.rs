//! Commands about resellers: admins manage all of them, a parent their own sub-resellers
//! (core decides who may).

use super::{Ctx, HandlerResult};
use crate::{keyboards, render};
use reseller_core::domain::{
    Label, Limit, LimitValue, Permission, Setting, TemplateName, Username,
};
use reseller_core::ops::Invite;
use teloxide::types::{Me, MessageId};
use teloxide::utils::html::escape;

fn invite_text(me: &Me, reseller: &str, invite: &Invite) -> String {
    let link = format!("https://t.me/{}?start={}", me.username(), invite.code);
    render::invite(reseller, &link, invite.expires_at)
}

/// `/newreseller <username> [display name] [template]`: the last word is the template when
/// it names one (so a display name ending in a template's name needs the template after it).
/// A reseller creates a sub-reseller of their own, on the Basic template.
pub(crate) async fn create(
    ctx: &Ctx,
    me: &Me,
    username: &Username,
    rest: Option<&str>,
) -> HandlerResult {
    if !ctx.actor.is_admin() {
        return create_sub(ctx, me, username, rest).await;
    }
    let templates = match ctx.app.core.templates(&ctx.actor).await {
        Ok(t) => t,
        Err(e) => return ctx.refuse(&e).await,
    };
    let words: Vec<&str> = rest.unwrap_or("").split_whitespace().collect();
    let named = words
        .last()
        .and_then(|w| TemplateName::parse(w).ok())
        .filter(|n| templates.iter().any(|t| t.name == n.as_str()));
    let (display, template) = match named {
        Some(n) => (words[..words.len() - 1].join(" "), n),
        None => (words.join(" "), TemplateName::parse("basic")?),
    };
    let display = Some(display.as_str()).filter(|d| !d.is_empty());
    match ctx
        .app
        .core
        .create_reseller_on(&ctx.actor, username, display, &template)
        .await
    {
        Ok(r) => {
            ctx.say(&format!(
                "✅ Reseller <b>{}</b> created on the <code>{}</code> template.\n\n{}",
                escape(&r.username),
                escape(template.as_str()),
                invite_text(me, &r.username, &r.invite)
            ))
            .await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}

async fn create_sub(
    ctx: &Ctx,
    me: &Me,
    username: &Username,
    display: Option<&str>,
) -> HandlerResult {
    match ctx
        .app
        .core
        .create_reseller(&ctx.actor, username, display)
        .await
    {
        Ok(r) => {
            ctx.say(&format!(
                "✅ Sub-reseller <b>{}</b> created. Send them their invite link, then give them credits with /transfer {} &lt;days&gt;.\n\n{}",
                escape(&r.username),
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

/// A page of the reseller tree (an admin's: everyone; a reseller's: their sub-resellers), sent
/// new or edited into `message` when paging.
pub(crate) async fn list(ctx: &Ctx, page: i64, message: Option<MessageId>) -> HandlerResult {
    let admin = ctx.actor.is_admin();
    let listed = if admin {
        ctx.app.core.resellers(&ctx.actor, page).await
    } else {
        ctx.app.core.subresellers(&ctx.actor, page).await
    };
    match listed {
        Ok(p) => {
            let text = render::resellers(&p, admin);
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

/// A reseller's card with its buttons, sent new or edited into `message` after a press.
pub(crate) async fn detail(
    ctx: &Ctx,
    reseller: &Username,
    message: Option<MessageId>,
) -> HandlerResult {
    let core = &ctx.app.core;
    let card = match core.reseller(&ctx.actor, reseller).await {
        Ok(card) => card,
        Err(e) => return ctx.refuse(&e).await,
    };
    // Templates and prices are the admins'; a parent's card of their sub-reseller has neither.
    let (templates, pricing) = if ctx.actor.is_admin() {
        match (
            core.templates(&ctx.actor).await,
            core.pricing(&ctx.actor, reseller).await,
        ) {
            (Ok(t), Ok(p)) => (t, Some(p)),
            (Err(e), _) | (_, Err(e)) => return ctx.refuse(&e).await,
        }
    } else {
        (Vec::new(), None)
    };
    let mut text = render::reseller_detail(&card);
    if let Some(pricing) = &pricing {
        text = format!("{text}\n\n{}", render::pricing_line(pricing));
    }
    let kb = keyboards::reseller_card(&card, &templates);
    match message {
        Some(m) => ctx.edit(m, &text, Some(kb)).await,
        None => ctx.say_with(&text, kb).await,
    }
}

/// A permission button on a reseller's card: core checks the presser is an admin or the
/// reseller's parent, and that a sub-reseller gets nothing beyond their parent.
pub(crate) async fn press_permission(
    ctx: &Ctx,
    card: MessageId,
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
        Ok(_) => detail(ctx, reseller, Some(card)).await,
        Err(e) => ctx.refuse(&e).await,
    }
}

/// A template button on a reseller's card; the id is looked up among the templates (which
/// only admins may list), so a forged id names no template.
pub(crate) async fn press_template(
    ctx: &Ctx,
    card: MessageId,
    reseller: &Username,
    id: i64,
    reset: bool,
) -> HandlerResult {
    let templates = match ctx.app.core.templates(&ctx.actor).await {
        Ok(t) => t,
        Err(e) => return ctx.refuse(&e).await,
    };
    let Some(name) = templates
        .iter()
        .find(|t| t.id == id)
        .and_then(|t| TemplateName::parse(&t.name).ok())
    else {
        return ctx
            .say("⚠️ That template no longer exists. Send /templates for the list.")
            .await;
    };
    match ctx
        .app
        .core
        .apply_template(&ctx.actor, reseller, &name, reset)
        .await
    {
        Ok(_) => detail(ctx, reseller, Some(card)).await,
        Err(e) => ctx.refuse(&e).await,
    }
}

pub(crate) async fn templates(ctx: &Ctx) -> HandlerResult {
    match ctx.app.core.templates(&ctx.actor).await {
        Ok(list) => ctx.say(&render::templates(&list)).await,
        Err(e) => ctx.refuse(&e).await,
    }
}

pub(crate) async fn save_template(
    ctx: &Ctx,
    add: bool,
    name: &TemplateName,
    title: Option<&Label>,
    settings: &[Setting],
) -> HandlerResult {
    let core = &ctx.app.core;
    let saved = if add {
        core.add_template(&ctx.actor, name, title, settings).await
    } else {
        core.edit_template(&ctx.actor, name, title, settings).await
    };
    match saved {
        Ok(t) => {
            ctx.say(&format!(
                "✅ Template {}.\n\n{}",
                if add {
                    "added"
                } else {
                    "saved; resellers on it follow it except where they have an override"
                },
                render::template(&t)
            ))
            .await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}

pub(crate) async fn apply_template(
    ctx: &Ctx,
    name: &TemplateName,
    reseller: &Username,
    reset: bool,
) -> HandlerResult {
    let applied = ctx
        .app
        .core
        .apply_template(&ctx.actor, reseller, name, reset)
        .await;
    ctx.say_or_refuse(applied, |r| {
        format!(
            "✅ <b>{}</b> is on the <code>{}</code> template{}.",
            escape(&r.username),
            escape(&r.template),
            if reset {
                ", with no overrides"
            } else {
                "; their overrides are kept"
            }
        )
    })
    .await
}

pub(crate) async fn set_active(ctx: &Ctx, reseller: &Username, active: bool) -> HandlerResult {
    let set = ctx
        .app
        .core
        .set_reseller_active(&ctx.actor, reseller, active)
        .await;
    ctx.say_or_refuse(set, |r| {
        let state = if r.active {
            "active again"
        } else {
            "suspended: they can neither view nor change anything"
        };
        format!("✅ Reseller <b>{}</b> is {state}.", escape(&r.username))
    })
    .await
}

pub(crate) async fn set_permission(
    ctx: &Ctx,
    reseller: &Username,
    permission: Permission,
    on: bool,
) -> HandlerResult {
    let set = ctx
        .app
        .core
        .set_permission(&ctx.actor, reseller, permission, on)
        .await;
    ctx.say_or_refuse(set, |r| {
        let state = if r.permissions.allows(permission) {
            "on"
        } else {
            "off"
        };
        format!(
            "✅ {} for <b>{}</b> is {state} (an override of their template).",
            permission.column(),
            escape(&r.username)
        )
    })
    .await
}

pub(crate) async fn set_limit(
    ctx: &Ctx,
    reseller: &Username,
    limit: Limit,
    value: LimitValue,
) -> HandlerResult {
    let set = ctx
        .app
        .core
        .set_limit(&ctx.actor, reseller, limit, value)
        .await;
    ctx.say_or_refuse(set, |r| {
        format!(
            "✅ {limit} for <b>{}</b> is {}.",
            escape(&r.username),
            value.get()
        )
    })
    .await
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

/// `/template delete <name>`: core refuses while resellers are on it.
pub(crate) async fn delete_template(ctx: &Ctx, name: &TemplateName) -> HandlerResult {
    match ctx.app.core.delete_template(&ctx.actor, name).await {
        Ok(()) => {
            ctx.say(&format!(
                "🗑 Template <code>{}</code> deleted.",
                escape(name.as_str())
            ))
            .await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}

/// A setting a reseller may override.
pub(crate) enum Overridable {
    Permission(Permission),
    Limit(Limit),
}

/// `/perm <reseller> <permission> default`, `/limit <reseller> <limit> default`: the
/// reseller's override goes, and their template's value applies again.
pub(crate) async fn clear_override(
    ctx: &Ctx,
    reseller: &Username,
    setting: Overridable,
) -> HandlerResult {
    let core = &ctx.app.core;
    let (cleared, name, value) = match setting {
        Overridable::Permission(p) => match core.clear_permission(&ctx.actor, reseller, p).await {
            Ok(r) => {
                let on = if r.permissions.allows(p) { "on" } else { "off" };
                (r, p.column(), on.to_string())
            }
            Err(e) => return ctx.refuse(&e).await,
        },
        Overridable::Limit(l) => match core.clear_limit(&ctx.actor, reseller, l).await {
            Ok(r) => {
                let v = r.limit(l).to_string();
                (r, l.column(), v)
            }
            Err(e) => return ctx.refuse(&e).await,
        },
    };
    ctx.say(&format!(
        "✅ {name} for <b>{}</b> follows their template <code>{}</code> again: {value}.",
        escape(&cleared.username),
        escape(&cleared.template)
    ))
    .await
}
