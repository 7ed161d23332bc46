//! Long polling, by one instance at a time: several instances polling one bot make Telegram
//! answer all but one with 409 Conflict. On PostgreSQL the poller holds an advisory lock (see
//! `reseller_core::telegram_updates`); the others try again every [`RETRY`] and take over within
//! seconds of the poller dying. A poller that loses its lock's connection stops at once, since
//! another may have the lock by then.

use crate::reply::retrying;
use crate::updates::{ALLOWED_UPDATES, Feed, Refused};
use reseller_core::telegram_updates::PollerLock;
use std::future::Future;
use std::time::Duration;
use teloxide::prelude::*;
use teloxide::types::Update;

/// How often an instance that does not poll tries to take the lock.
const RETRY: Duration = Duration::from_secs(2);
/// How long one getUpdates waits for updates, in seconds.
const LONG_POLL_SECS: u32 = 10;
/// The wait after a failed getUpdates.
const BACKOFF: Duration = Duration::from_secs(1);

/// Refuses to poll while a webhook is set (Telegram would answer getUpdates with 409), unless
/// the operator asked for it to be deleted: it may be another deployment's.
pub(crate) async fn refuse_webhook(bot: &Bot, delete: bool) -> Result<(), String> {
    let info = retrying(|| bot.get_webhook_info().into_future())
        .await
        .map_err(|e| format!("could not ask Telegram whether a webhook is set: {e}"))?;
    if info.url.is_none() {
        return Ok(());
    }
    if !delete {
        return Err(
            "a webhook is set for this bot, so it cannot poll for updates: set \
                    BOT_MODE=webhook to receive them there, or TELEGRAM_DELETE_WEBHOOK=true to \
                    remove the webhook and poll"
                .into(),
        );
    }
    retrying(|| bot.delete_webhook().into_future())
        .await
        .map_err(|e| format!("could not delete the webhook: {e}"))?;
    tracing::warn!("deleted the bot's webhook, as TELEGRAM_DELETE_WEBHOOK asks, to poll instead");
    Ok(())
}

/// How a spell of polling ended.
enum Ended {
    Stopped,
    LockLost,
}

/// Polls for updates whenever this instance holds the poller lock of bot `bot_id`, until
/// `stop` completes.
pub(crate) async fn run(bot: Bot, feed: Feed, bot_id: i64, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        let lock = tokio::select! {
            _ = &mut stop => return,
            lock = feed.core.try_poller_lock(bot_id) => lock,
        };
        match lock {
            Ok(Some(mut lock)) => {
                tracing::info!("this instance polls Telegram for updates");
                let ended = poll(&bot, &feed, &mut lock, &mut stop).await;
                lock.release().await;
                match ended {
                    Ended::Stopped => return,
                    Ended::LockLost => tracing::warn!(
                        "the poller lock's database connection failed; stopped polling"
                    ),
                }
            }
            Ok(None) => tracing::debug!("another instance polls Telegram"),
            Err(e) => tracing::warn!(error = %e, "could not take the poller lock"),
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(RETRY) => {}
        }
    }
}

/// Polls while `lock` holds. Updates are taken in before they are confirmed (by the next
/// call's offset), so an update fetched again after a crash or a takeover is only dropped.
async fn poll(
    bot: &Bot,
    feed: &Feed,
    lock: &mut PollerLock,
    stop: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Ended {
    let lost = lock.lost();
    tokio::pin!(lost);
    let mut offset: Option<i32> = None;
    loop {
        let mut request = bot
            .get_updates()
            .timeout(LONG_POLL_SECS)
            .allowed_updates(ALLOWED_UPDATES);
        if let Some(offset) = offset {
            request = request.offset(offset);
        }
        let fetched = tokio::select! {
            _ = stop.as_mut() => return Ended::Stopped,
            _ = &mut lost => return Ended::LockLost,
            fetched = request.send() => fetched,
        };
        let outcome = match fetched {
            Ok(updates) => take_in(feed, updates, &mut offset).await,
            Err(e) => {
                tracing::warn!(error = %e, "getUpdates failed");
                Err(())
            }
        };
        if outcome.is_err() {
            tokio::select! {
                _ = stop.as_mut() => return Ended::Stopped,
                _ = &mut lost => return Ended::LockLost,
                _ = tokio::time::sleep(BACKOFF) => {}
            }
        }
    }
}

/// Hands `updates` to the feed in order, moving `offset` past each one taken in; stops at the
/// first it cannot take (it is fetched again).
async fn take_in(feed: &Feed, updates: Vec<Update>, offset: &mut Option<i32>) -> Result<(), ()> {
    for update in updates {
        let next = i32::try_from(update.id.0).map_or(i32::MAX, |id| id.saturating_add(1));
        match feed.accept(update).await {
            Ok(_) => *offset = Some(next),
            Err(Refused::Stopping) => return Err(()),
            Err(e) => {
                tracing::warn!(error = %e, "could not take an update in; it will be fetched again");
                return Err(());
            }
        }
    }
    Ok(())
}
