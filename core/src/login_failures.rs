//! Failed player logins counted in the database, so that the configured allowance
//! ([`Policy::failed_login_burst`](crate::Policy) failures, then one per
//! `failed_login_interval`) holds however many instances a guesser spreads its tries over.
//!
//! Only wrong credentials come here: one upsert per failure, on a token bucket kept as the time
//! its allowance is full again (GCRA), so that logins that succeed, however many, cost no query.
//! Whoever is refused is refused from memory: the failure that uses up an address's allowance
//! is published on the [bus](crate::bus), and every instance then refuses that address before
//! checking any password, until it may try again. The cost of the design: one database write
//! per wrong password (a guesser's tries are bounded by the allowance, so this is bounded too),
//! and an address spreading its first `burst` failures over several instances may get a few
//! more tries in flight before the news arrives; those are counted when they fail, so the debt
//! they leave makes it wait that much longer.

use crate::bus::Event;
use crate::{Core, Result};

impl Core {
    /// Spends one failure of `client`'s allowance (an address, or an IPv6 network) and returns
    /// when the allowance is full again, in Unix milliseconds. When no failure is left for the
    /// next login, every instance is told in the same transaction.
    pub async fn spend_login_failure(&self, client: &str) -> Result<i64> {
        let interval = self.policy.failed_login_interval.as_millis() as i64;
        let allowed = interval * i64::from(self.policy.failed_login_burst.max(1));
        let now = chrono::Utc::now().timestamp_millis();
        let mut tx = self.db.begin_write().await?;
        let full_at: i64 = sqlx::query_scalar(
            "INSERT INTO failed_logins (client, full_at) VALUES ($1, $2 + $3) \
             ON CONFLICT (client) DO UPDATE SET full_at = \
             CASE WHEN failed_logins.full_at > $2 THEN failed_logins.full_at ELSE $2 END + $3 \
             RETURNING full_at",
        )
        .bind(client)
        .bind(now)
        .bind(interval)
        .fetch_one(&mut *tx)
        .await?;
        // The same test as the limiter's: one more failure would go past the allowance.
        if full_at - now + interval > allowed {
            let event = Event::LoginsExhausted {
                client: client.to_string(),
                full_at_ms: full_at,
            };
            self.publish(&mut tx, &event).await?;
        }
        tx.commit().await?;
        Ok(full_at)
    }
}
