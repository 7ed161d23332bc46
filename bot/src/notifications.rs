//! Delivers core's outbox of notifications (payments received, refunds, alerts for admins) to
//! Telegram, oldest first, marking each sent once Telegram accepted it.

use crate::reply::retrying;
use reseller_core::Core;
use std::time::Duration;
use teloxide::prelude::*;
use teloxide::{ApiError, RequestError};

/// How often an empty outbox is looked at again: "credits arrive within seconds".
const IDLE: Duration = Duration::from_millis(500);

pub(crate) async fn deliver_forever(bot: Bot, core: Core) {
    loop {
        match core.unsent_notifications(50).await {
            Ok(batch) if !batch.is_empty() => {
                for n in batch {
                    let sent = retrying(|| {
                        bot.send_message(ChatId(n.telegram_id), &n.text)
                            .into_future()
                    })
                    .await;
                    match sent {
                        Ok(_) => {}
                        // The user blocked the bot or never started it: retrying will not help.
                        Err(RequestError::Api(
                            ApiError::BotBlocked
                            | ApiError::ChatNotFound
                            | ApiError::UserDeactivated,
                        )) => {
                            tracing::warn!(
                                telegram_id = n.telegram_id,
                                "notification undeliverable, dropped"
                            );
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "could not deliver a notification; will retry");
                            tokio::time::sleep(IDLE * 4).await;
                            break;
                        }
                    }
                    if let Err(e) = core.mark_notified(n.id).await {
                        tracing::error!(error = ?e, "could not mark a notification sent");
                    }
                }
            }
            Ok(_) => tokio::time::sleep(IDLE).await,
            Err(e) => {
                tracing::error!(error = ?e, "could not read the notification outbox");
                tokio::time::sleep(IDLE * 4).await;
            }
        }
    }
}
