//! Sends admin broadcasts within Telegram's limits: at most 25 messages a second from this
//! process (one message per recipient, so one a second per chat holds by itself), and on any
//! 429 every send waits out its `retry_after`. Core hands out a broadcast whole under one
//! lease, so one instance sends it and this pace is the only one in force. Each recipient's
//! outcome is recorded as soon as Telegram answers: a restart resumes with those still pending.
//! The admin gets a progress message, edited as it goes, ending with the tally.

use crate::reply::{self, is_permanent};
use reseller_core::Core;
use reseller_core::broadcast::{Claimed, Delivery, Tally};
use reseller_core::lease::{Outbox, Step};
use std::time::Duration;
use teloxide::prelude::*;
use teloxide::types::MessageId;
use teloxide::{ApiError, RequestError};
use tokio::sync::watch;
use tokio::time::{Interval, MissedTickBehavior};

/// The gap between the starts of two sends: 40 ms would allow exactly 25 a second; 45 ms
/// leaves room for a request that reaches Telegram later than the one before it.
const PACE: Duration = Duration::from_millis(45);
/// How often an idle worker looks for a broadcast to send.
const IDLE: Duration = Duration::from_secs(1);
/// Recipients read from the database at a time.
const BATCH: i64 = 100;
/// The progress message is edited after this many recipients.
const PROGRESS_EVERY: usize = 25;
/// Attempts at one recipient through passing failures (5xx, network) before it is `failed`.
const ATTEMPTS: u32 = 5;

/// Runs until `stopping` turns true; a broadcast in hand stops after the recipient in hand
/// and is given back, for this or another instance to resume.
pub(crate) async fn send_until(bot: Bot, core: Core, stopping: watch::Receiver<bool>) {
    let mut stop = stopping.clone();
    core.work_leased(
        Outbox::Broadcasts,
        IDLE,
        async move {
            let _ = stop.wait_for(|s| *s).await;
        },
        || core.claim_broadcast(),
        |b| {
            let (bot, core, stopping) = (bot.clone(), core.clone(), stopping.clone());
            async move { send_all(&bot, &core, &b, &stopping).await }
        },
    )
    .await;
}

async fn send_all(bot: &Bot, core: &Core, b: &Claimed, stopping: &watch::Receiver<bool>) -> Step {
    let mut pace = tokio::time::interval(PACE);
    pace.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let progress = match progress_message(bot, core, b, &mut pace).await {
        Ok(p) => p,
        Err(wait) => return Step::Pause(wait),
    };
    let mut done = 0;
    loop {
        let pending = match core.broadcast_pending(b, BATCH).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = ?e, "could not read a broadcast's recipients");
                return Step::Pause(IDLE * 5);
            }
        };
        if pending.is_empty() {
            break;
        }
        for chat in pending {
            if *stopping.borrow() {
                return Step::Next;
            }
            let (delivery, error) = deliver(bot, &b.text, chat, &mut pace).await;
            match core
                .record_delivery(b, chat, delivery, error.as_deref())
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(broadcast = b.id, "lease on a broadcast ran out; leaving it");
                    return Step::Pause(IDLE);
                }
                Err(e) => {
                    tracing::error!(error = ?e, "could not record a broadcast delivery");
                    return Step::Pause(IDLE * 5);
                }
            }
            done += 1;
            if done % PROGRESS_EVERY == 0 {
                report(bot, core, b, progress, false, &mut pace).await;
            }
        }
    }
    match core.finish_broadcast(b).await {
        Ok(true) => report(bot, core, b, progress, true, &mut pace).await,
        Ok(false) => tracing::warn!(broadcast = b.id, "broadcast not closed: lease lost"),
        Err(e) => tracing::error!(error = ?e, "could not close a broadcast"),
    }
    Step::Next
}

/// Sends to one recipient at the pace, waiting out every 429 (which pauses all sending: this
/// loop is the process's only broadcast sender).
async fn deliver(
    bot: &Bot,
    text: &str,
    chat: i64,
    pace: &mut Interval,
) -> (Delivery, Option<String>) {
    let mut attempt = 0;
    loop {
        pace.tick().await;
        match bot.send_message(ChatId(chat), text).await {
            Ok(_) => return (Delivery::Sent, None),
            Err(RequestError::RetryAfter(wait)) => {
                tracing::warn!(
                    seconds = wait.seconds(),
                    "Telegram asked the broadcast to slow down"
                );
                tokio::time::sleep(wait.duration()).await;
            }
            Err(e) if is_permanent(&e) => {
                let delivery = if blocked(&e) {
                    Delivery::Blocked
                } else {
                    Delivery::Failed
                };
                return (delivery, Some(e.to_string()));
            }
            Err(e) => {
                attempt += 1;
                if attempt >= ATTEMPTS {
                    return (Delivery::Failed, Some(e.to_string()));
                }
                tracing::warn!(error = %e, attempt, "broadcast send failed; retrying");
                tokio::time::sleep(Duration::from_millis(500 * 2u64.pow(attempt))).await;
            }
        }
    }
}

/// Whether the recipient cannot be reached at all: they blocked the bot, never started it, or
/// deleted their account (Telegram's "Forbidden" answers, some of which teloxide names).
fn blocked(e: &RequestError) -> bool {
    match e {
        RequestError::Api(
            ApiError::BotBlocked | ApiError::CantInitiateConversation | ApiError::UserDeactivated,
        ) => true,
        RequestError::Api(ApiError::Unknown(description)) => description.starts_with("Forbidden"),
        _ => false,
    }
}

/// The admin's progress message: the one sent before a restart, or a new one.
async fn progress_message(
    bot: &Bot,
    core: &Core,
    b: &Claimed,
    pace: &mut Interval,
) -> Result<Option<MessageId>, Duration> {
    if let Some(id) = b.progress_message {
        return Ok(i32::try_from(id).ok().map(MessageId));
    }
    let tally = core.broadcast_tally(b.id).await.map_err(|e| {
        tracing::error!(error = ?e, "could not count a broadcast");
        IDLE * 5
    })?;
    pace.tick().await;
    let sent = reply::retrying(|| {
        bot.send_message(ChatId(b.admin), progress_text(b.id, &tally, false))
            .into_future()
    })
    .await;
    match sent {
        Ok(m) => {
            if let Err(e) = core.set_broadcast_progress(b, m.id.0.into()).await {
                tracing::error!(error = ?e, "could not remember a broadcast's progress message");
            }
            Ok(Some(m.id))
        }
        // The admin is unreachable: send the broadcast anyway, without progress.
        Err(e) => {
            tracing::warn!(error = %e, "could not send a broadcast's progress message");
            Ok(None)
        }
    }
}

/// Edits the progress message (best effort: the broadcast matters more than its progress).
async fn report(
    bot: &Bot,
    core: &Core,
    b: &Claimed,
    progress: Option<MessageId>,
    finished: bool,
    pace: &mut Interval,
) {
    let Some(message) = progress else { return };
    let tally = match core.broadcast_tally(b.id).await {
        Ok(t) => t,
        Err(e) => return tracing::error!(error = ?e, "could not count a broadcast"),
    };
    pace.tick().await;
    let text = progress_text(b.id, &tally, finished);
    if let Err(e) = reply::edit(bot, ChatId(b.admin), message, &text, None).await {
        tracing::warn!(error = %e, "could not update a broadcast's progress");
    }
}

fn progress_text(id: i64, t: &Tally, finished: bool) -> String {
    let total = t.sent + t.blocked + t.failed + t.pending;
    if finished {
        format!(
            "📣 Broadcast {id} finished: {} sent, {} blocked, {} failed (of {total}).",
            t.sent, t.blocked, t.failed
        )
    } else {
        format!(
            "📣 Broadcast {id}: {} of {total} done ({} sent, {} blocked, {} failed)…",
            total - t.pending,
            t.sent,
            t.blocked,
            t.failed
        )
    }
}
