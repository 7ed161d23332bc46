//! The outbox of messages to people: written in the same transaction as the change they report,
//! delivered by the bot, so a crash between the two loses nothing and a slow Telegram holds up
//! no payment provider.

use crate::db::Tx;
use crate::{Core, Result};

/// A message waiting to be sent.
#[derive(Debug, Clone)]
pub struct Notification {
    pub id: i64,
    pub telegram_id: i64,
    /// Plain text, no markup.
    pub text: String,
}

pub(crate) async fn to_admins(tx: &mut Tx, text: &str) -> Result<()> {
    sqlx::query("INSERT INTO notifications (telegram_id, text, created_at) SELECT telegram_id, $1, $2 FROM admins")
        .bind(text)
        .bind(crate::core::now())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// To the reseller, if their Telegram account is linked.
pub(crate) async fn to_reseller(tx: &mut Tx, reseller_id: i64, text: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO notifications (telegram_id, text, created_at) \
         SELECT telegram_id, $1, $2 FROM resellers WHERE id = $3 AND telegram_id IS NOT NULL",
    )
    .bind(text)
    .bind(crate::core::now())
    .bind(reseller_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Core {
    /// The oldest notifications neither sent nor refused for good.
    pub async fn unsent_notifications(&self, limit: i64) -> Result<Vec<Notification>> {
        let rows: Vec<(i64, i64, String)> = sqlx::query_as(
            "SELECT id, telegram_id, text FROM notifications \
             WHERE sent_at IS NULL AND failed_at IS NULL ORDER BY id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.db.read())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, telegram_id, text)| Notification {
                id,
                telegram_id,
                text,
            })
            .collect())
    }

    pub async fn mark_notified(&self, id: i64) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query("UPDATE notifications SET sent_at = $1 WHERE id = $2")
            .bind(crate::core::now())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records that Telegram refused a notification for good (`reason` is Telegram's own
    /// description, which holds no secret), so it is never tried again.
    pub async fn mark_notification_failed(&self, id: i64, reason: &str) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query("UPDATE notifications SET failed_at = $1, error = $2 WHERE id = $3")
            .bind(crate::core::now())
            .bind(reason)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Notifications Telegram refused for good, oldest first: (recipient, text, reason).
    pub async fn failed_notifications(&self) -> Result<Vec<(i64, String, String)>> {
        Ok(sqlx::query_as(
            "SELECT telegram_id, text, COALESCE(error, '') FROM notifications \
             WHERE failed_at IS NOT NULL ORDER BY id",
        )
        .fetch_all(self.db.read())
        .await?)
    }
}
