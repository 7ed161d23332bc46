//! `/brand`: a reseller's logo, support line and credentials template, the preview, and the
//! credentials message itself (logo and text) wherever credentials are handed over.

use super::{Ctx, HandlerResult};
use crate::{html, render, reply};
use reseller_core::domain::{CredentialsTemplate, Username};
use reseller_core::ops::BrandChange;
use reseller_core::queries::subscribers::Credentials;
use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::types::{InputFile, ParseMode, PhotoSize};
use teloxide::utils::html::escape;

/// Telegram's limit on a photo caption, in the same units as a message's.
const MAX_CAPTION: usize = 1024;

/// Sends the credentials a subscriber gets. With a logo, one photo captioned with the
/// credentials when they fit a caption (one message to forward, logo and all); otherwise the
/// logo and then the text, since Telegram refuses a caption over 1,024 characters. A logo
/// Telegram no longer accepts costs the logo, never the credentials.
pub(crate) async fn send_credentials(ctx: &Ctx, c: &Credentials) -> HandlerResult {
    let text = render::credentials(c, &ctx.app.stream_url);
    let Some(logo) = &c.branding.logo else {
        return ctx.say(&text).await;
    };
    let photo = InputFile::file_id(logo.clone().into());
    let fits = html::check(&text).is_ok_and(|n| n <= MAX_CAPTION);
    let sent = reply::retrying(|| {
        let req = ctx.bot.send_photo(ctx.chat, photo.clone());
        if fits {
            req.caption(&text).parse_mode(ParseMode::Html).into_future()
        } else {
            req.into_future()
        }
    })
    .await;
    match sent {
        Ok(_) if fits => Ok(()),
        Ok(_) => ctx.say(&text).await,
        Err(RequestError::Api(e)) => {
            tracing::warn!(error = %e, "logo refused by Telegram; credentials sent as text");
            ctx.say(&text).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether `c` goes out with a logo, so not as text in a confirmation card.
pub(crate) fn has_logo(c: &Credentials) -> bool {
    c.branding.logo.is_some()
}

pub(crate) async fn preview(ctx: &Ctx) -> HandlerResult {
    match ctx.app.core.brand_preview(&ctx.actor).await {
        Ok(c) => {
            ctx.say("👀 Your subscribers get this (with their own values):")
                .await?;
            send_credentials(ctx, &c).await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}

/// `/brand logo` as a photo's caption: keeps Telegram's file id of the largest size.
pub(crate) async fn set_logo(ctx: &Ctx, photo: Option<&[PhotoSize]>) -> HandlerResult {
    let Some(largest) = photo.and_then(|p| p.iter().max_by_key(|p| p.width * p.height)) else {
        return ctx
            .say("Send the logo as a photo with the caption /brand logo.")
            .await;
    };
    set(ctx, BrandChange::Logo(largest.file.id.to_string())).await
}

/// Saves a template once it renders, with the longest values, into valid Telegram HTML that
/// fits one message.
pub(crate) async fn set_template(ctx: &Ctx, template: CredentialsTemplate) -> HandlerResult {
    let mut sample = match ctx.app.core.brand_preview(&ctx.actor).await {
        Ok(c) => c,
        Err(e) => return ctx.refuse(&e).await,
    };
    sample.username = "u".repeat(Username::MAX);
    sample.branding.template = Some(template.clone());
    let text = render::credentials(&sample, &ctx.app.stream_url);
    match html::check(&text) {
        Err(why) => {
            ctx.say(&format!(
                "⚠️ Your template is not valid Telegram HTML ({}). Use only the tags b, i, u, s, code, pre, a, blockquote, tg-spoiler, each closed, and write &amp;amp; &amp;lt; &amp;gt; for &amp; &lt; &gt;. Nothing was changed.",
                escape(&why)
            ))
            .await
        }
        Ok(n) if n > html::MAX_TEXT => {
            ctx.say(&format!(
                "⚠️ With the longest values your credentials message would have {} characters; Telegram allows {}. Shorten the template. Nothing was changed.",
                render::credits(n as i64),
                render::credits(html::MAX_TEXT as i64)
            ))
            .await
        }
        Ok(_) => set(ctx, BrandChange::Template(template)).await,
    }
}

/// Saves one part of the caller's own branding.
pub(crate) async fn set(ctx: &Ctx, change: BrandChange) -> HandlerResult {
    if ctx.actor.is_admin() {
        return ctx
            .say("Logo, support line and template are each reseller's own (/brand, as the reseller). Admins name a reseller's panel with /panelname &lt;reseller&gt; &lt;panel name&gt;.")
            .await;
    }
    let done = match &change {
        BrandChange::Logo(_) => "Logo saved",
        BrandChange::Support(_) => "Support line saved",
        BrandChange::Template(_) => "Credentials template saved",
        BrandChange::PanelName(_) => "Panel name saved",
    };
    match ctx.app.core.set_branding(&ctx.actor, None, &change).await {
        Ok(_) => {
            ctx.say(&format!(
                "✅ {done}. /brand preview shows what subscribers get."
            ))
            .await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}
