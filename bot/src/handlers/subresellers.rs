//! A parent's commands about their sub-resellers that admins have no counterpart of: moving
//! credits between them, and reading a sub-reseller's subscribers. Core decides who may.

use super::{Ctx, HandlerResult};
use crate::render;
use reseller_core::domain::{Days, OperationId, Username};

/// `/transfer <sub> <days>` (or `-<days>`): one operation, keyed by the message, so a
/// redelivered update moves the credits once.
pub(crate) async fn transfer(
    ctx: &Ctx,
    op: &OperationId,
    sub: &Username,
    days: Days,
    back: bool,
) -> HandlerResult {
    if !ctx.within_rate_limit().await? {
        return Ok(());
    }
    match ctx.app.core.transfer(&ctx.actor, op, sub, days, back).await {
        Ok(done) => ctx.say(&render::transferred(&done.value)).await,
        Err(e) => ctx.refuse(&e).await,
    }
}

/// `/subs <sub> [page]`: their subscribers, read-only.
pub(crate) async fn subscribers(ctx: &Ctx, sub: &Username, page: i64) -> HandlerResult {
    match ctx
        .app
        .core
        .subreseller_subscribers(&ctx.actor, sub, page)
        .await
    {
        Ok(p) => ctx.say(&render::subreseller_users(&p, sub.as_str())).await,
        Err(e) => ctx.refuse(&e).await,
    }
}
