//! Wiring: the dispatcher, its long-polling listener, and the shared state handlers receive.

use crate::handlers;
use crate::ratelimit::ActionLimiter;
use reseller_core::Core;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use teloxide::error_handlers::LoggingErrorHandler;
use teloxide::prelude::*;
use teloxide::update_listeners::Polling;

/// What the bot needs from configuration.
pub struct BotSettings {
    pub token: String,
    /// The Bot API server: Telegram's, or a fake in tests.
    pub api_url: url::Url,
    /// Changing actions a reseller may make per minute, and in a burst.
    pub actions_per_minute: NonZeroU32,
    pub action_burst: NonZeroU32,
    /// Whether resellers may pay in Telegram Stars.
    pub stars_enabled: bool,
    /// What a reseller paying by hand is told to do.
    pub manual_instructions: String,
    /// Online payment providers that can create checkouts (wired in by the binary).
    pub checkout: reseller_core::payments::Checkouts,
    /// How `/channels import` reads playlists.
    pub import: crate::playlist::ImportSettings,
}

impl std::fmt::Debug for BotSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotSettings")
            .field("token", &"<redacted>")
            .field("api_url", &self.api_url.as_str())
            .field("actions_per_minute", &self.actions_per_minute)
            .field("action_burst", &self.action_burst)
            .finish()
    }
}

/// State shared by all handlers.
pub(crate) struct App {
    pub core: Core,
    pub limiter: ActionLimiter,
    pub stars_enabled: bool,
    pub manual_instructions: String,
    pub checkout: reseller_core::payments::Checkouts,
    /// Where a buyer lands after paying: the bot's t.me link.
    pub return_url: String,
    pub import: crate::playlist::ImportSettings,
}

/// Checks the token with Telegram, then answers updates by long polling until `stop` completes.
pub async fn run(
    core: Core,
    settings: BotSettings,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let bot = Bot::new(settings.token).set_api_url(settings.api_url);
    let me = crate::reply::retrying(|| bot.get_me().into_future())
        .await
        .map_err(|e| format!("Telegram refused the bot token or could not be reached: {e}"))?;
    tracing::info!(username = %me.username(), "bot is up");

    let outbox = tokio::spawn(crate::notifications::deliver_forever(
        bot.clone(),
        core.clone(),
    ));
    let app = Arc::new(App {
        core,
        limiter: ActionLimiter::new(settings.actions_per_minute, settings.action_burst),
        stars_enabled: settings.stars_enabled,
        manual_instructions: settings.manual_instructions,
        checkout: settings.checkout,
        return_url: me.tme_url().to_string(),
        import: settings.import,
    });
    let mut dispatcher = Dispatcher::builder(bot.clone(), handlers::schema())
        .dependencies(dptree::deps![app])
        .default_handler(|_| async {})
        .error_handler(LoggingErrorHandler::with_custom_text(
            "An update handler failed",
        ))
        .build();

    let token = dispatcher.shutdown_token();
    tokio::spawn(async move {
        stop.await;
        // The dispatcher refuses to stop before it has started; try until it has.
        for _ in 0..200 {
            match token.shutdown() {
                Ok(done) => return done.await,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });

    let listener = Polling::builder(bot)
        .timeout(Duration::from_secs(10))
        .delete_webhook()
        .await
        .build();
    let result = dispatcher
        .try_dispatch_with_listener(
            listener,
            LoggingErrorHandler::with_custom_text("Polling Telegram failed"),
        )
        .await
        .map_err(|e| format!("the bot could not start: {e}"));
    outbox.abort();
    result
}
