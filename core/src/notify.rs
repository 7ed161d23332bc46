//! The outbox of messages to people: written in the same transaction as the change they report,
//! delivered by the bot, so a crash between the two loses nothing and a slow Telegram holds up
//! no payment provider. Senders claim batches under a lease (see [`crate::lease`]), so two
//! instances never send the same message.
//!
//! Each message has a [`Kind`] its recipient can switch off in their settings. A switched-off
//! kind is not queued at all (rather than queued and skipped): the preference is read in the
//! same `INSERT ... SELECT`, so it costs nothing, the outbox holds only what will be sent, and
//! switching a kind back on never releases a backlog of stale alerts.

mod low_credit;
mod settings;

pub(crate) use low_credit::check_low_credit;
pub use settings::NotificationSettings;

use crate::core::now;
use crate::db::Tx;
use crate::lease::{Lease, Outbox, held};
use crate::{Core, Result};
use serde::{Deserialize, Serialize};

/// What a message is about; each can be switched off by whoever receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Messages nobody switches off (account and payment-order outcomes).
    General,
    /// Resellers: the balance went below their threshold.
    LowCredit,
    /// Resellers: the daily list of subscribers about to expire.
    ExpiryDigest,
    /// Resellers: credits someone else moved (grants, deductions, purchases, refunds, transfers).
    CreditMovement,
    /// Admins: payments, receipts waiting, payment alerts.
    Payments,
    /// Admins: the panel refused a change.
    SyncFailure,
    /// Admins: the day's figures.
    DailySummary,
}

impl Kind {
    pub const FOR_RESELLERS: [Kind; 3] =
        [Kind::LowCredit, Kind::ExpiryDigest, Kind::CreditMovement];
    pub const FOR_ADMINS: [Kind; 3] = [Kind::Payments, Kind::SyncFailure, Kind::DailySummary];

    pub fn name(self) -> &'static str {
        match self {
            Kind::General => "general",
            Kind::LowCredit => "low_credit",
            Kind::ExpiryDigest => "expiry_digest",
            Kind::CreditMovement => "credit_movement",
            Kind::Payments => "payments",
            Kind::SyncFailure => "sync_failure",
            Kind::DailySummary => "daily_summary",
        }
    }

    /// How the settings screen names it.
    pub fn title(self) -> &'static str {
        match self {
            Kind::General => "Account messages",
            Kind::LowCredit => "Low credits",
            Kind::ExpiryDigest => "Daily expiry digest",
            Kind::CreditMovement => "Credit movements",
            Kind::Payments => "Payments and receipts",
            Kind::SyncFailure => "Sync failures",
            Kind::DailySummary => "Daily summary",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::FOR_RESELLERS
            .into_iter()
            .chain(Kind::FOR_ADMINS)
            .find(|k| k.name() == s)
    }
}

/// A button under a notification: a label and what it asks for. Neutral (no Telegram type):
/// the bot turns it into its own callback data, and core re-checks the presser's rights.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub label: String,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum Action {
    /// Propose extending a subscriber (the usual confirm flow).
    Extend { username: String, days: i64 },
}

/// A message claimed for sending, with the lease its outcome is recorded under.
#[derive(Debug, Clone)]
pub struct Notification {
    pub id: i64,
    pub telegram_id: i64,
    /// Plain text, no markup.
    pub text: String,
    pub buttons: Vec<Button>,
    pub lease: Lease,
}

/// The condition "the recipient `$who` has not switched kind `$kind` off".
fn wanted(who: &str, kind: usize) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM notification_prefs p WHERE p.telegram_id = {who} \
         AND p.kind = ${kind} AND p.enabled = 0)"
    )
}

/// To every admin: payments and payment alerts.
pub(crate) async fn to_admins(tx: &mut Tx, text: &str) -> Result<()> {
    to_admins_as(tx, Kind::Payments, text).await
}

/// To every admin who has not switched `kind` off.
pub(crate) async fn to_admins_as(tx: &mut Tx, kind: Kind, text: &str) -> Result<()> {
    let sql = format!(
        "INSERT INTO notifications (telegram_id, text, created_at, kind) \
         SELECT telegram_id, $1, $2, $3 FROM admins a WHERE {}",
        wanted("a.telegram_id", 3)
    );
    sqlx::query(&sql)
        .bind(text)
        .bind(now())
        .bind(kind.name())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// To the reseller, if their Telegram account is linked: credits someone else moved (the
/// simple entry point for every credit movement; see [`to_reseller_as`] for other kinds).
pub(crate) async fn to_reseller(tx: &mut Tx, reseller_id: i64, text: &str) -> Result<()> {
    to_reseller_as(tx, reseller_id, Kind::CreditMovement, text, &[]).await
}

/// To the reseller, if linked and they have not switched `kind` off, with `buttons` under it.
pub(crate) async fn to_reseller_as(
    tx: &mut Tx,
    reseller_id: i64,
    kind: Kind,
    text: &str,
    buttons: &[Button],
) -> Result<()> {
    let buttons = (!buttons.is_empty())
        .then(|| serde_json::to_string(buttons))
        .transpose()
        .map_err(|e| crate::CoreError::Internal(Box::new(e)))?;
    let sql = format!(
        "INSERT INTO notifications (telegram_id, text, created_at, kind, buttons) \
         SELECT telegram_id, $1, $2, $4, $5 FROM resellers r \
         WHERE id = $3 AND telegram_id IS NOT NULL AND {}",
        wanted("r.telegram_id", 4)
    );
    sqlx::query(&sql)
        .bind(text)
        .bind(now())
        .bind(reseller_id)
        .bind(kind.name())
        .bind(buttons)
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
             RETURNING id, telegram_id, text, buttons",
            self.skip_locked()
        );
        let mut tx = self.db.begin_write().await?;
        let mut rows: Vec<(i64, i64, String, Option<String>)> = sqlx::query_as(&claim)
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
            .map(|(id, telegram_id, text, buttons)| Notification {
                id,
                telegram_id,
                text,
                // Written by `to_reseller_as` from the same type; unreadable means none.
                buttons: buttons
                    .and_then(|b| serde_json::from_str(&b).ok())
                    .unwrap_or_default(),
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
