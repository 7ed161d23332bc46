//! Dashboards.

use super::{Ctx, HandlerResult};
use crate::render;
use reseller_core::Actor;

pub(crate) async fn show(ctx: &Ctx) -> HandlerResult {
    let text = match ctx.actor {
        Actor::Reseller(_) => ctx
            .app
            .core
            .reseller_stats(&ctx.actor)
            .await
            .map(|s| render::reseller_stats(&s)),
        Actor::Admin(_) => ctx
            .app
            .core
            .global_stats(&ctx.actor)
            .await
            .map(|s| render::global_stats(&s)),
    };
    match text {
        Ok(t) => ctx.say(&t).await,
        Err(e) => ctx.refuse(&e).await,
    }
}
