//! Wiring: the dispatcher, where its updates come from (polling or the webhook), and the shared
//! state handlers receive.

use crate::handlers;
use crate::ratelimit::ActionLimiter;
use crate::updates::Intake;
use crate::webhook::WebhookSettings;
use reseller_core::Core;
use reseller_core::ratelimit::ActionBudget;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use teloxide::error_handlers::LoggingErrorHandler;
use teloxide::prelude::*;

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
    /// How updates arrive.
    pub mode: BotMode,
    /// How the programme guide is fetched.
    pub guide: crate::guide::GuideSettings,
    /// The public streaming URL, for the playlist and player API links on credentials.
    pub stream_url: url::Url,
}

/// How updates arrive (`BOT_MODE`).
#[derive(Clone, Debug)]
pub enum BotMode {
    /// Long polling by one instance at a time. A webhook set for the bot is deleted first only
    /// when `delete_webhook`; otherwise the bot refuses to start, as it may be another
    /// deployment's.
    Polling { delete_webhook: bool },
    /// Telegram POSTs updates to the HTTP server (see [`webhook_routes`]).
    Webhook(WebhookSettings),
}

impl std::fmt::Debug for BotSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotSettings")
            .field("token", &"<redacted>")
            .field("api_url", &self.api_url.as_str())
            .field("actions_per_minute", &self.actions_per_minute)
            .field("action_burst", &self.action_burst)
            .field("mode", &self.mode)
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
    pub guide: crate::guide::GuideSettings,
    pub stream_url: url::Url,
}

/// The HTTP route Telegram delivers updates to in webhook mode; none in polling mode. The
/// binary serves it with the others.
pub fn webhook_routes(settings: &BotSettings, intake: &Intake) -> axum::Router {
    match &settings.mode {
        BotMode::Webhook(webhook) => crate::webhook::routes(webhook, intake),
        BotMode::Polling { .. } => axum::Router::new(),
    }
}

/// Checks the token with Telegram, then answers the updates that come into `intake` (by long
/// polling, or through [`webhook_routes`]) until `stop` completes.
pub async fn run(
    core: Core,
    settings: BotSettings,
    intake: Intake,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let bot = Bot::new(settings.token).set_api_url(settings.api_url);
    let me = crate::reply::retrying(|| bot.get_me().into_future())
        .await
        .map_err(|e| format!("Telegram refused the bot token or could not be reached: {e}"))?;
    tracing::info!(username = %me.username(), "bot is up");

    match &settings.mode {
        BotMode::Polling { delete_webhook } => {
            crate::polling::refuse_webhook(&bot, *delete_webhook).await?
        }
        BotMode::Webhook(webhook) => crate::webhook::register(&bot, webhook).await?,
    }

    // One signal stops the poller and the notification sender with the bot, so the poller lock
    // is released and the sender gives back what it claimed.
    let (stopping, _) = tokio::sync::watch::channel(false);
    let stopped = || {
        let mut rx = stopping.subscribe();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let outbox = tokio::spawn(crate::notifications::deliver_until(
        bot.clone(),
        core.clone(),
        stopped(),
    ));
    let schedule = tokio::spawn(crate::notifications::schedule_until(
        core.clone(),
        stopped(),
    ));
    let broadcasts = tokio::spawn(crate::broadcast::send_until(
        bot.clone(),
        core.clone(),
        stopping.subscribe(),
    ));
    let prune = tokio::spawn(prune_updates(core.clone()));
    let app = Arc::new(App {
        core,
        limiter: ActionLimiter::new(ActionBudget {
            per_minute: settings.actions_per_minute,
            burst: settings.action_burst,
        }),
        stars_enabled: settings.stars_enabled,
        manual_instructions: settings.manual_instructions,
        checkout: settings.checkout,
        return_url: me.tme_url().to_string(),
        import: settings.import,
        guide: settings.guide,
        stream_url: settings.stream_url,
    });
    // The default distribution function keys updates by chat: one chat's updates are handled
    // in order, different chats' concurrently.
    let mut dispatcher = Dispatcher::builder(bot.clone(), handlers::schema())
        .dependencies(dptree::deps![app])
        .default_handler(|_| async {})
        .error_handler(LoggingErrorHandler::with_custom_text(
            "An update handler failed",
        ))
        .build();

    let poller = match settings.mode {
        BotMode::Polling { .. } => Some(tokio::spawn(crate::polling::run(
            bot.clone(),
            intake.feed.clone(),
            i64::try_from(me.id.0).unwrap_or(i64::MAX),
            stopped(),
        ))),
        BotMode::Webhook(_) => None,
    };

    let token = dispatcher.shutdown_token();
    let stop_workers = stopping.clone();
    tokio::spawn(async move {
        stop.await;
        stop_workers.send_replace(true);
        // The dispatcher refuses to stop before it has started; try until it has.
        for _ in 0..200 {
            match token.shutdown() {
                Ok(done) => return done.await,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });

    let result = dispatcher
        .try_dispatch_with_listener(
            intake.inbox,
            LoggingErrorHandler::with_custom_text("Receiving updates failed"),
        )
        .await
        .map_err(|e| format!("the bot could not start: {e}"));
    // However the dispatcher ended, the poller releases its lock and the sender finishes the
    // message in hand, then both stop.
    stopping.send_replace(true);
    if let Some(poller) = poller {
        let _ = poller.await;
    }
    prune.abort();
    if let Err(e) = outbox.await {
        tracing::error!(error = %e, "the notification sender panicked");
    }
    if let Err(e) = broadcasts.await {
        tracing::error!(error = %e, "the broadcast sender panicked");
    }
    let _ = schedule.await;
    result
}

/// Forgets recorded update ids after a day, once an hour: redeliveries come within minutes.
async fn prune_updates(core: Core) {
    const KEEP: Duration = Duration::from_secs(24 * 60 * 60);
    let mut every = tokio::time::interval(Duration::from_secs(60 * 60));
    loop {
        every.tick().await;
        match core.prune_updates(KEEP).await {
            Ok(pruned) => tracing::debug!(pruned, "pruned recorded Telegram update ids"),
            Err(e) => tracing::warn!(error = %e, "could not prune recorded Telegram update ids"),
        }
    }
}
