//! Delivers core's outbox of notifications (payments received, refunds, alerts for admins) to
//! Telegram, oldest first, marking each sent once Telegram accepted it, or failed once Telegram
//! refused it for good; passing failures (5xx, 429, network) give the batch back and are retried
//! in order. Batches are claimed under a lease, so a second instance never sends them too.
//! Also runs the scheduler that queues the daily digests and summaries (core decides, once per
//! day across instances, what is due).

use crate::callback::{CardAction, Press};
use crate::reply::{is_permanent, retrying};
use reseller_core::Core;
use reseller_core::domain::{Days, Username};
use reseller_core::lease::{Outbox, Step};
use reseller_core::notify::{Action, Button, Notification};
use std::future::Future;
use std::time::Duration;
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

/// How often an empty outbox is looked at again: "credits arrive within seconds".
const IDLE: Duration = Duration::from_millis(500);

/// Runs until `stop` completes, then gives back the notifications it claimed but did not send.
pub(crate) async fn deliver_until(bot: Bot, core: Core, stop: impl Future<Output = ()>) {
    core.work_leased(
        Outbox::Notifications,
        IDLE,
        stop,
        || core.claim_notifications(50),
        |n| {
            let (bot, core) = (bot.clone(), core.clone());
            async move { send(&bot, &core, n).await }
        },
    )
    .await;
}

/// How often the scheduler looks for digests due: within the configured hour, a minute late
/// at most.
const SCHEDULE_EVERY: Duration = Duration::from_secs(60);

/// Queues each day's digests and summaries in their hour, until `stop` completes.
pub(crate) async fn schedule_until(core: Core, stop: impl Future<Output = ()>) {
    let mut stop = std::pin::pin!(stop);
    let mut every = tokio::time::interval(SCHEDULE_EVERY);
    loop {
        tokio::select! {
            _ = stop.as_mut() => return,
            _ = every.tick() => {}
        }
        match core.queue_scheduled(chrono::Utc::now()).await {
            Ok(q) if q.digests + q.summaries > 0 => {
                tracing::info!(
                    digests = q.digests,
                    summaries = q.summaries,
                    "queued scheduled notifications"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = ?e, "could not queue scheduled notifications"),
        }
    }
}

async fn send(bot: &Bot, core: &Core, n: Notification) -> Step {
    let keyboard = keyboard(&n.buttons);
    let sent = retrying(|| {
        let mut req = bot.send_message(ChatId(n.telegram_id), &n.text);
        if let Some(k) = keyboard.clone() {
            req = req.reply_markup(k);
        }
        req.into_future()
    })
    .await;
    let recorded = match sent {
        Ok(_) => core.mark_notified(&n).await,
        // The user never started the bot, blocked it, or the text is refused: sending it again
        // cannot help, and must not hold up the ones behind it.
        Err(e) if is_permanent(&e) => {
            tracing::warn!(
                telegram_id = n.telegram_id,
                error = %e,
                "Telegram refused a notification for good; recorded as failed"
            );
            core.mark_notification_failed(&n, &e.to_string()).await
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not deliver a notification; will retry");
            return Step::Pause(IDLE * 4);
        }
    };
    match recorded {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            notification = n.id,
            "sent after this instance's lease on it ran out; another instance may send it too"
        ),
        Err(e) => tracing::error!(error = ?e, "could not record a notification's delivery"),
    }
    Step::Next
}

/// Core's neutral buttons as an inline keyboard, one per row; a button that no longer parses
/// (it cannot, unless stored by hand) is left out.
fn keyboard(buttons: &[Button]) -> Option<InlineKeyboardMarkup> {
    let rows: Vec<_> = buttons
        .iter()
        .filter_map(|b| {
            let press = match &b.action {
                Action::Extend { username, days } => Press::Act(
                    CardAction::Extend(Days::new(*days).ok()?),
                    Username::parse(username).ok()?,
                ),
            };
            Some([InlineKeyboardButton::callback(
                b.label.clone(),
                press.encode(),
            )])
        })
        .collect();
    (!rows.is_empty()).then(|| InlineKeyboardMarkup::new(rows))
}
