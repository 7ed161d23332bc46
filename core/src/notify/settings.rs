//! Each person's notification settings: which kinds they get and, for resellers, the
//! low-credit threshold and the time zone their digest hour is read in.

use super::Kind;
use crate::domain::ParseError;
use crate::{Actor, Core, CoreError, Result};

/// The largest low-credit threshold one can set: far above any real balance alert.
const THRESHOLD_MAX: i64 = 1_000_000;

/// What the settings screen shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationSettings {
    /// Every kind this person can receive, and whether it is on.
    pub kinds: Vec<(Kind, bool)>,
    /// Resellers only: (threshold, IANA time zone in effect).
    pub reseller: Option<(i64, String)>,
}

impl Core {
    pub async fn notification_settings(&self, actor: &Actor) -> Result<NotificationSettings> {
        let telegram_id = self.telegram_id_of(actor).await?;
        let off: Vec<String> = sqlx::query_scalar(
            "SELECT kind FROM notification_prefs WHERE telegram_id = $1 AND enabled = 0",
        )
        .bind(telegram_id)
        .fetch_all(self.db.read())
        .await?;
        let kinds = kinds_of(actor)
            .iter()
            .map(|k| (*k, !off.iter().any(|o| o == k.name())))
            .collect();
        let reseller = match actor {
            Actor::Admin(_) => None,
            Actor::Reseller(id) => {
                let (threshold, zone): (i64, Option<String>) = sqlx::query_as(
                    "SELECT low_credit_threshold, time_zone FROM resellers WHERE id = $1",
                )
                .bind(id.0)
                .fetch_one(self.db.read())
                .await?;
                let zone = zone.unwrap_or_else(|| self.policy.notifications.time_zone.to_string());
                Some((threshold, zone))
            }
        };
        Ok(NotificationSettings { kinds, reseller })
    }

    /// Switches one kind on or off for the asker (the state wanted, so a double tap sets it
    /// once). A kind that is not theirs (forged button data) is refused.
    pub async fn set_notification(
        &self,
        actor: &Actor,
        kind: Kind,
        on: bool,
    ) -> Result<NotificationSettings> {
        if !kinds_of(actor).contains(&kind) {
            return Err(invalid(format!(
                "“{}” is not one of your notifications.",
                kind.title()
            )));
        }
        let telegram_id = self.telegram_id_of(actor).await?;
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "INSERT INTO notification_prefs (telegram_id, kind, enabled) VALUES ($1, $2, $3) \
             ON CONFLICT (telegram_id, kind) DO UPDATE SET enabled = excluded.enabled",
        )
        .bind(telegram_id)
        .bind(kind.name())
        .bind(i64::from(on))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.notification_settings(actor).await
    }

    /// A reseller's low-credit alert level, 0 to 1,000,000 credits. A balance already below a
    /// new level is reported at once, as a crossing would be.
    pub async fn set_low_credit_threshold(
        &self,
        actor: &Actor,
        credits: i64,
    ) -> Result<NotificationSettings> {
        let Actor::Reseller(id) = actor else {
            return Err(CoreError::ResellersOnly);
        };
        if !(0..=THRESHOLD_MAX).contains(&credits) {
            return Err(invalid(format!(
                "The low-credit level must be from 0 to {THRESHOLD_MAX} credits; you gave {credits}."
            )));
        }
        let mut tx = self.db.begin_write().await?;
        sqlx::query("UPDATE resellers SET low_credit_threshold = $1 WHERE id = $2")
            .bind(credits)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        super::check_low_credit(&mut tx, id.0, true).await?;
        tx.commit().await?;
        self.notification_settings(actor).await
    }

    /// A reseller's time zone, an IANA name such as `Europe/Berlin`.
    pub async fn set_time_zone(&self, actor: &Actor, zone: &str) -> Result<NotificationSettings> {
        let Actor::Reseller(id) = actor else {
            return Err(CoreError::ResellersOnly);
        };
        let Ok(tz) = zone.parse::<chrono_tz::Tz>() else {
            return Err(invalid(format!(
                "“{}” is not a time zone. Use a name such as Europe/Berlin or America/New_York.",
                crate::domain::shorten(zone)
            )));
        };
        let mut tx = self.db.begin_write().await?;
        sqlx::query("UPDATE resellers SET time_zone = $1 WHERE id = $2")
            .bind(tz.name())
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.notification_settings(actor).await
    }

    /// The Telegram account settings belong to (a reseller must have linked one).
    async fn telegram_id_of(&self, actor: &Actor) -> Result<i64> {
        match actor {
            Actor::Admin(t) => Ok(t.0),
            Actor::Reseller(id) => self
                .reseller_telegram_id(id.0)
                .await?
                .ok_or(CoreError::ResellersOnly),
        }
    }
}

fn kinds_of(actor: &Actor) -> &'static [Kind] {
    match actor {
        Actor::Admin(_) => &Kind::FOR_ADMINS,
        Actor::Reseller(_) => &Kind::FOR_RESELLERS,
    }
}

fn invalid(sentence: String) -> CoreError {
    CoreError::Invalid(ParseError(sentence))
}
