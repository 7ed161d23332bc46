//! The per-reseller budget of changing actions, kept in the database so that it is the
//! configured number however many instances share it (issue 8: with an in-process limiter,
//! two instances allowed twice the limit).
//!
//! The budget is a token bucket in its GCRA form: one number per reseller, the time at which
//! the bucket would be full again if nothing more were spent (`next_at_ms`). An action is
//! allowed when that time is at most `burst - 1` intervals ahead of now, and moves it one
//! interval on. Checking and spending are one conditional upsert, so two instances (or two
//! callers in one) cannot both spend the last token; never a read followed by a write.
//!
//! The cost is one database write (on SQLite one fsync) per changing action a reseller
//! proposes or confirms; reads and admins cost nothing. Time is each instance's clock in
//! milliseconds: hosts sharing a database should keep their clocks synchronised (NTP), and a
//! skew of `d` lets at most `d / interval` extra actions through.

use crate::core::Core;
use crate::domain::ResellerId;
use crate::{CoreError, Result};
use std::num::NonZeroU32;

/// How many changing actions a reseller may make: `per_minute` on average, up to `burst` in a
/// row after a pause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActionBudget {
    pub per_minute: NonZeroU32,
    pub burst: NonZeroU32,
}

impl ActionBudget {
    /// Milliseconds between two tokens (at least one).
    fn interval_ms(&self) -> i64 {
        (60_000 / i64::from(self.per_minute.get())).max(1)
    }

    /// How far ahead of now `next_at_ms` may be for an action to be allowed.
    fn slack_ms(&self) -> i64 {
        self.interval_ms() * (i64::from(self.burst.get()) - 1)
    }
}

impl Core {
    /// Spends one of `reseller`'s changing actions, or refuses with
    /// [`CoreError::TooFast`], which says how long to wait.
    pub async fn spend_action(&self, reseller: ResellerId, budget: ActionBudget) -> Result<()> {
        let now = chrono::Utc::now().timestamp_millis();
        let mut tx = self.db.begin_write().await?;
        let spent: Option<i64> = sqlx::query_scalar(
            "INSERT INTO action_budgets (reseller_id, next_at_ms) VALUES ($1, $2 + $3) \
             ON CONFLICT (reseller_id) DO UPDATE SET next_at_ms = \
               CASE WHEN action_budgets.next_at_ms > $2 THEN action_budgets.next_at_ms ELSE $2 END + $3 \
             WHERE action_budgets.next_at_ms <= $2 + $4 \
             RETURNING next_at_ms",
        )
        .bind(reseller.0)
        .bind(now)
        .bind(budget.interval_ms())
        .bind(budget.slack_ms())
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        if spent.is_some() {
            return Ok(());
        }
        // Refused: read the budget only to say when the next token comes; a concurrent spend
        // can only make the true wait longer, by at most this read's age.
        let next_at: Option<i64> =
            sqlx::query_scalar("SELECT next_at_ms FROM action_budgets WHERE reseller_id = $1")
                .bind(reseller.0)
                .fetch_optional(self.db.read())
                .await?;
        // From the time of this answer: `now` was taken before waiting for the write lock, and
        // a spend that won the race meanwhile may have come later than it.
        let answered = chrono::Utc::now().timestamp_millis();
        let wait_ms = next_at.unwrap_or(answered) - answered - budget.slack_ms();
        Err(CoreError::TooFast {
            wait_secs: (wait_ms.max(1) + 999) / 1000,
            per_minute: budget.per_minute.get(),
            burst: budget.burst.get(),
        })
    }
}
