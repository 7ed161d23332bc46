//! `/apikey new|list|revoke <prefix>`: a reseller's keys for the reseller API. A new key is
//! shown once; only its hash is kept.

use super::{Ctx, HandlerResult};
use crate::command::ApiKeyRequest;
use teloxide::utils::html::escape;

pub(crate) async fn handle(ctx: &Ctx, request: &ApiKeyRequest) -> HandlerResult {
    let core = &ctx.app.core;
    match request {
        ApiKeyRequest::New => match core.new_api_key(&ctx.actor).await {
            Ok(issued) => {
                ctx.say(&format!(
                    "🔑 Your new API key (shown only this once; keep it safe):\n<code>{}</code>\n\n\
                     Send it as <code>Authorization: Bearer &lt;key&gt;</code> to /api/v1, or as \
                     <code>api_key</code> to the XUI-compatible /api/xui/. Revoke it with \
                     /apikey revoke {}.",
                    escape(issued.key()),
                    escape(&issued.prefix)
                ))
                .await
            }
            Err(e) => ctx.refuse(&e).await,
        },
        ApiKeyRequest::List => match core.api_keys(&ctx.actor).await {
            Ok(keys) if keys.is_empty() => ctx.say("You have no API keys. Make one with /apikey new.").await,
            Ok(keys) => {
                let lines: Vec<String> = keys
                    .iter()
                    .map(|k| {
                        let state = match k.revoked_at {
                            Some(at) => format!("revoked {}", at.format("%Y-%m-%d %H:%M UTC")),
                            None => "active".to_string(),
                        };
                        format!(
                            "<code>{}</code> — made {}, {state}",
                            escape(&k.prefix),
                            k.created_at.format("%Y-%m-%d %H:%M UTC")
                        )
                    })
                    .collect();
                ctx.say(&format!("🔑 <b>Your API keys</b>\n{}", lines.join("\n"))).await
            }
            Err(e) => ctx.refuse(&e).await,
        },
        ApiKeyRequest::Revoke(prefix) => match core.revoke_api_key(&ctx.actor, prefix).await {
            Ok(()) => {
                ctx.say(&format!(
                    "🔒 API key <code>{}</code> is revoked: requests with it are refused from now on.",
                    escape(prefix)
                ))
                .await
            }
            Err(e) => ctx.refuse(&e).await,
        },
    }
}
