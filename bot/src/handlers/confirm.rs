//! The confirmation card: every action that moves credits or destroys data is proposed first
//! (what, the cost, the balance after) and only carried out on Confirm.

use super::{Ctx, HandlerResult};
use crate::{keyboards, render};
use reseller_core::domain::OperationId;
use reseller_core::ops::{Command, Outcome};
use teloxide::types::MessageId;

pub(crate) async fn propose(ctx: &Ctx, command: Command) -> HandlerResult {
    if !ctx.within_rate_limit().await? {
        return Ok(());
    }
    match ctx.app.core.propose(&ctx.actor, command).await {
        Ok((id, quote)) => {
            ctx.say_with(&render::quote(&quote), keyboards::confirm(&id))
                .await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}

/// Confirm pressed on `card`. Replays (double taps, retried callbacks) show the first result.
pub(crate) async fn confirm(
    ctx: &Ctx,
    card: MessageId,
    id: &OperationId,
) -> Result<Option<&'static str>, super::HandlerError> {
    if !ctx.within_rate_limit().await? {
        return Ok(None);
    }
    match ctx.app.core.confirm(&ctx.actor, id).await {
        Ok(done) => {
            let creds = match &done.value {
                Outcome::Created(_) | Outcome::Reset(_) => {
                    match ctx.app.core.issued_credentials(&ctx.actor, id).await {
                        Ok(c) => c,
                        Err(e) => {
                            // Deleted again since, or a failure: the outcome still stands.
                            if e.is_internal() {
                                tracing::error!(error = ?e, "issued credentials unreadable");
                                reseller_core::metrics::error("issued_credentials");
                            }
                            None
                        }
                    }
                }
                _ => None,
            };
            // Credentials with a logo go out as a photo of their own after the card.
            let (inline, apart) = match creds {
                Some(c) if super::branding::has_logo(&c) => (None, Some(c)),
                Some(c) => (Some(render::credentials(&c, &ctx.app.stream_url)), None),
                None => (None, None),
            };
            ctx.edit(card, &render::outcome(&done.value, inline.as_deref()), None)
                .await?;
            if let Some(c) = apart {
                super::branding::send_credentials(ctx, &c).await?;
            }
            if let Outcome::Bulk(b) = &done.value
                && b.created
                && !done.replayed
            {
                super::bulk::send_credentials(ctx, id).await?;
            }
            Ok(done.replayed.then_some("Already done."))
        }
        Err(e) => {
            ctx.edit(card, &crate::reply::error_text(&e), None).await?;
            Ok(None)
        }
    }
}

pub(crate) async fn cancel(
    ctx: &Ctx,
    card: MessageId,
    id: &OperationId,
) -> Result<Option<&'static str>, super::HandlerError> {
    match ctx.app.core.cancel(&ctx.actor, id).await {
        Ok(true) => {
            ctx.edit(card, "Cancelled; nothing was changed.", None)
                .await?;
            Ok(None)
        }
        Ok(false) => Ok(Some("Nothing to cancel.")),
        Err(e) => {
            ctx.refuse(&e).await?;
            Ok(None)
        }
    }
}
