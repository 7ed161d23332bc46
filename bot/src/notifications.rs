//! Delivers core's outbox of notifications (payments received, refunds, alerts for admins) to
//! Telegram, oldest first, marking each sent once Telegram accepted it, or failed once Telegram
//! refused it for good; passing failures (5xx, 429, network) are retried in order.

use crate::reply::{is_permanent, retrying};
use reseller_core::Core;
use std::time::Duration;
use teloxide::prelude::*;

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
                    let recorded = match sent {
                        Ok(_) => core.mark_notified(n.id).await,
                        // The user never started the bot, blocked it, or the text is refused:
                        // sending it again cannot help, and must not hold up the ones behind it.
                        Err(e) if is_permanent(&e) => {
                            tracing::warn!(
                                telegram_id = n.telegram_id,
                                error = %e,
                                "Telegram refused a notification for good; recorded as failed"
                            );
                            core.mark_notification_failed(n.id, &e.to_string()).await
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "could not deliver a notification; will retry");
                            tokio::time::sleep(IDLE * 4).await;
                            break;
                        }
                    };
                    if let Err(e) = recorded {
                        tracing::error!(error = ?e, "could not record a notification's delivery");
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
