//! `/price`: a reseller's own prices, shown and changed by admins. Core computes and checks them.

use super::{Ctx, HandlerResult};
use crate::render;
use reseller_core::domain::Username;
use reseller_core::payments::PriceChange;

/// With no change, shows the reseller's prices; otherwise changes them and shows the result.
pub(crate) async fn price(
    ctx: &Ctx,
    reseller: &Username,
    package: Option<&str>,
    change: Option<PriceChange>,
) -> HandlerResult {
    let core = &ctx.app.core;
    let Some(change) = change else {
        return match core.pricing(&ctx.actor, reseller).await {
            Ok(p) => ctx.say(&render::reseller_pricing(&p)).await,
            Err(e) => ctx.refuse(&e).await,
        };
    };
    match core.set_price(&ctx.actor, reseller, package, change).await {
        Ok(p) => {
            ctx.say(&format!("✅ Saved.\n\n{}", render::reseller_pricing(&p)))
                .await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}
