//! The outbox of messages to people: written in the same transaction as the change they report,
//! delivered by the bot, so a crash between the two loses nothing and a slow Telegram holds up
//! no payment provider. Senders claim batches under a lease (see [`crate::lease`]), so two
//! instances never send the same message.

use crate::core::now;
use crate::db::Tx;
use crate::lease::{Lease, Outbox, held};
use crate::{Core, Result};

/// A message claimed for sending, with the lease its outcome is recorded under.
#[derive(Debug, Clone)]
pub struct Notification {
    pub id: i64,
    pub telegram_id: i64,
    /// Plain text, no markup.
    pub text: String,
    pub lease: Lease,
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
    /// Claims the oldest notifications neither sent nor refused for good, and held by no other
    /// instance, for this one. A batch whose lease ran out (its sender died) is claimed again.
    pub async fn claim_notifications(&self, limit: i64) -> Result<Vec<Notification>> {
        let lease = self.lease();
        let claim = format!(
            "UPDATE notifications SET lease_owner = $1, lease_until = $2 WHERE id IN (\
             SELECT id FROM notifications WHERE sent_at IS NULL AND failed_at IS NULL \
             AND (lease_until IS NULL OR lease_until < $3) ORDER BY id LIMIT $4{}) \
             RETURNING id, telegram_id, text",
            self.skip_locked()
        );
        let mut tx = self.db.begin_write().await?;
        let mut rows: Vec<(i64, i64, String)> = sqlx::query_as(&claim)
            .bind(&*lease.owner)
            .bind(self.lease_until(Outbox::Notifications))
            .bind(now())
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.sort_by_key(|(id, ..)| *id);
        Ok(rows
            .into_iter()
            .map(|(id, telegram_id, text)| Notification {
                id,
                telegram_id,
                text,
                lease: lease.clone(),
            })
            .collect())
    }

    /// Telegram accepted the message. `false` if our lease had run out: another instance may
    /// be sending it too, and its outcome is theirs to record.
    pub async fn mark_notified(&self, n: &Notification) -> Result<bool> {
        self.close_notification(n, "sent_at = $1", None).await
    }

    /// Records that Telegram refused a notification for good (`reason` is Telegram's own
    /// description, which holds no secret), so it is never tried again. `false` if our lease
    /// had run out.
    pub async fn mark_notification_failed(&self, n: &Notification, reason: &str) -> Result<bool> {
        self.close_notification(n, "failed_at = $1, error = $4", Some(reason))
            .await
    }

    /// Sets `outcome` (with the time at `$1`, the reason at `$4`) on a notification we still
    /// hold, and gives its lease back.
    async fn close_notification(
        &self,
        n: &Notification,
        outcome: &str,
        reason: Option<&str>,
    ) -> Result<bool> {
        let sql = format!(
            "UPDATE notifications SET {outcome}, lease_owner = NULL, lease_until = NULL \
             WHERE id = $2 AND sent_at IS NULL AND failed_at IS NULL AND {}",
            held(3, 1)
        );
        let mut tx = self.db.begin_write().await?;
        let mut query = sqlx::query(&sql)
            .bind(now())
            .bind(n.id)
            .bind(&*n.lease.owner);
        if let Some(reason) = reason {
            query = query.bind(reason);
        }
        let closed = query.execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(closed == 1)
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
