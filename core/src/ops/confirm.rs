//! Two-step execution: an action is proposed (checked and priced, nothing changes), then
//! confirmed by the same person (carried out once, whatever the number of presses).

use super::bulk::{BulkDone, BulkRow, Refused, Selection};
use super::{Created, Deleted, Extended, Moved};
use crate::core::now;
use crate::domain::{Days, OperationId, Permission, Username};
use crate::queries::{resellers, subscribers};
use crate::{Actor, Core, CoreError, Done, Result};
use serde::{Deserialize, Serialize};

/// An action that moves credits or destroys data, and so needs a confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    CreateSubscriber {
        username: Username,
        days: Days,
    },
    /// `hours: None` is the configured default; the quote fills it in.
    CreateTrial {
        username: Username,
        hours: Option<i64>,
    },
    Extend {
        username: Username,
        days: Days,
    },
    Reset {
        username: Username,
    },
    Delete {
        username: Username,
    },
    Grant {
        reseller: Username,
        days: Days,
        note: Option<String>,
    },
    Deduct {
        reseller: Username,
        days: Days,
        note: String,
    },
    /// The quote keeps the rows it accepts in `rows` and adds those it refuses to `refused`.
    BulkCreate {
        rows: Vec<BulkRow>,
        refused: Vec<Refused>,
    },
    /// The quote resolves the selection to the names it accepts.
    BulkExtend {
        days: Days,
        selection: Selection,
        refused: Vec<Refused>,
    },
}

/// What confirming would do to a balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub command: Command,
    /// Credits that leave (positive) or reach (negative) the balance shown.
    pub cost: i64,
    /// The balance concerned: the reseller's own, or for grants and deductions the target's.
    pub balance: Option<i64>,
    pub balance_after: Option<i64>,
    /// For deletions: paid days that will be lost.
    pub days_lost: Option<i64>,
}

/// What a confirmed command did.
#[derive(Debug, Clone)]
pub enum Outcome {
    Created(Created),
    Extended(Extended),
    Reset(String),
    Deleted(Deleted),
    Moved(Moved),
    Bulk(BulkDone),
}

/// Confirmations older than this are refused, so a week-old card cannot be pressed by accident.
const PENDING_TTL_SECS: i64 = 24 * 3600;

impl Core {
    /// Checks that `actor` may run `command` and what it would cost, changing nothing. Refuses
    /// early what confirming would refuse (no rights, not enough credits, taken username).
    pub async fn quote(&self, actor: &Actor, command: &Command) -> Result<Quote> {
        let mut conn = self.db.read().acquire().await?;
        let conn = &mut *conn;
        let own_balance = match actor {
            Actor::Reseller(id) => Some(resellers::by_id(&mut *conn, *id).await?.balance),
            Actor::Admin(_) => None,
        };
        let spend = |days: Days, balance: Option<i64>, action: String| -> Result<Quote> {
            let cost = if balance.is_some() { days.get() } else { 0 };
            if let Some(b) = balance
                && b < cost
            {
                return Err(CoreError::InsufficientCredits {
                    action,
                    needed: cost,
                    balance: b,
                });
            }
            Ok(Quote {
                command: command.clone(),
                cost,
                balance,
                balance_after: balance.map(|b| b - cost),
                days_lost: None,
            })
        };
        match command {
            Command::BulkCreate { rows, refused } => {
                self.quote_bulk_create(conn, actor, rows, refused).await
            }
            Command::BulkExtend {
                days,
                selection,
                refused,
            } => {
                self.quote_bulk_extend(conn, actor, *days, selection, refused)
                    .await
            }
            Command::CreateSubscriber { username, days } => {
                if let Actor::Reseller(id) = actor {
                    let r = resellers::by_id(&mut *conn, *id).await?;
                    r.require(Permission::CanCreateUsers)?;
                    let count: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM subscribers WHERE reseller_id = $1",
                    )
                    .bind(id.0)
                    .fetch_one(&mut *conn)
                    .await?;
                    if count >= r.max_users {
                        return Err(CoreError::MaxUsersReached {
                            max: r.max_users,
                            current: count,
                        });
                    }
                }
                let taken: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM subscribers WHERE username = $1")
                        .bind(username.as_str())
                        .fetch_optional(&mut *conn)
                        .await?;
                if taken.is_some() {
                    return Err(CoreError::UsernameTaken(username.to_string()));
                }
                spend(
                    *days,
                    own_balance,
                    format!("create this subscriber for {days} days"),
                )
            }
            Command::CreateTrial { username, hours } => {
                let hours = self.trial_hours(*hours)?;
                let mut cost = 0;
                if let Actor::Reseller(id) = actor {
                    let r = resellers::by_id(&mut *conn, *id).await?;
                    super::trial::check_quota(&mut *conn, &r, now()).await?;
                    cost = super::trial::trial_cost(&mut *conn, *id).await?;
                    if r.balance < cost {
                        return Err(CoreError::InsufficientCredits {
                            action: format!("create this trial for {hours} hours"),
                            needed: cost,
                            balance: r.balance,
                        });
                    }
                }
                let taken: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM subscribers WHERE username = $1")
                        .bind(username.as_str())
                        .fetch_optional(&mut *conn)
                        .await?;
                if taken.is_some() {
                    return Err(CoreError::UsernameTaken(username.to_string()));
                }
                Ok(Quote {
                    command: Command::CreateTrial {
                        username: username.clone(),
                        hours: Some(hours),
                    },
                    cost,
                    balance: own_balance,
                    balance_after: own_balance.map(|b| b - cost),
                    days_lost: None,
                })
            }
            Command::Extend { username, days } => {
                let (sub, _) =
                    subscribers::for_actor(conn, actor, username, Permission::CanExtendUsers, true)
                        .await?;
                spend(
                    *days,
                    own_balance,
                    format!("extend {} by {days} days", sub.username),
                )
            }
            Command::Reset { username } | Command::Delete { username } => {
                let permission = if matches!(command, Command::Reset { .. }) {
                    Permission::CanResetTokens
                } else {
                    Permission::CanDeleteUsers
                };
                let (sub, _) =
                    subscribers::for_actor(conn, actor, username, permission, true).await?;
                let lost = matches!(command, Command::Delete { .. })
                    .then(|| sub.days_left(chrono::Utc::now()));
                Ok(Quote {
                    command: command.clone(),
                    cost: 0,
                    balance: None,
                    balance_after: None,
                    days_lost: lost,
                })
            }
            Command::Grant { reseller, days, .. } | Command::Deduct { reseller, days, .. } => {
                actor.require_admin()?;
                match command {
                    Command::Grant { note: Some(n), .. } => {
                        super::credits::check_note(n, "A note")?
                    }
                    Command::Deduct { note, .. } => super::credits::check_note(note, "A reason")?,
                    _ => {}
                }
                let r = resellers::by_username(&mut *conn, reseller).await?;
                let delta = if matches!(command, Command::Grant { .. }) {
                    days.get()
                } else {
                    -days.get()
                };
                // Only a deduction is bounded: a grant always moves the balance up, even one
                // still below zero after it (a reseller paying off a debt).
                if delta < 0 && r.balance + delta < 0 {
                    return Err(CoreError::DeductBelowZero {
                        reseller: r.username,
                        amount: days.get(),
                        balance: r.balance,
                    });
                }
                Ok(Quote {
                    command: command.clone(),
                    cost: -delta,
                    balance: Some(r.balance),
                    balance_after: Some(r.balance + delta),
                    days_lost: None,
                })
            }
        }
    }

    /// Quotes `command` and stores it for `actor` to confirm; the returned id is the operation id.
    /// The stored command is the quoted one, defaults filled in, so the card shows what runs.
    pub async fn propose(&self, actor: &Actor, command: Command) -> Result<(OperationId, Quote)> {
        let quote = self.quote(actor, &command).await?;
        let id = OperationId::random();
        let now = now();
        let mut tx = self.db.begin_write().await?;
        sqlx::query("DELETE FROM pending_actions WHERE created_at < $1")
            .bind(now - PENDING_TTL_SECS)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO pending_actions (id, actor, payload, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id.as_str())
        .bind(actor.label())
        .bind(serde_json::to_string(&quote.command)?)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((id, quote))
    }

    /// Carries out a proposed command, once. Only its proposer can confirm it; to anyone else, and
    /// after a cancel or expiry, it does not exist.
    pub async fn confirm(&self, actor: &Actor, id: &OperationId) -> Result<Done<Outcome>> {
        let payload: Option<String> = sqlx::query_scalar(
            "SELECT payload FROM pending_actions WHERE id = $1 AND actor = $2 AND created_at >= $3",
        )
        .bind(id.as_str())
        .bind(actor.label())
        .bind(now() - PENDING_TTL_SECS)
        .fetch_optional(self.db.read())
        .await?;
        let command: Command = serde_json::from_str(&payload.ok_or(CoreError::ConfirmationGone)?)?;
        self.execute(actor, id, command).await
    }

    /// Forgets a proposal that was not confirmed. Returns false if there was none to cancel
    /// (already confirmed, cancelled, or someone else's).
    pub async fn cancel(&self, actor: &Actor, id: &OperationId) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let done: Option<String> = sqlx::query_scalar("SELECT id FROM operations WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if done.is_some() {
            return Ok(false);
        }
        let removed = sqlx::query("DELETE FROM pending_actions WHERE id = $1 AND actor = $2")
            .bind(id.as_str())
            .bind(actor.label())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(removed == 1)
    }

    /// Runs `command` under operation id `op`, at most once.
    pub async fn execute(
        &self,
        actor: &Actor,
        op: &OperationId,
        command: Command,
    ) -> Result<Done<Outcome>> {
        fn wrap<T>(d: Done<T>, f: impl FnOnce(T) -> Outcome) -> Done<Outcome> {
            Done {
                value: f(d.value),
                replayed: d.replayed,
            }
        }
        Ok(match command {
            Command::CreateSubscriber { username, days } => wrap(
                self.create_subscriber(actor, op, &username, days).await?,
                Outcome::Created,
            ),
            Command::CreateTrial { username, hours } => wrap(
                self.create_trial(actor, op, &username, hours).await?,
                Outcome::Created,
            ),
            Command::Extend { username, days } => wrap(
                self.extend(actor, op, &username, days).await?,
                Outcome::Extended,
            ),
            Command::Reset { username } => {
                wrap(self.reset(actor, op, &username).await?, Outcome::Reset)
            }
            Command::Delete { username } => wrap(
                self.delete_subscriber(actor, op, &username).await?,
                Outcome::Deleted,
            ),
            Command::Grant {
                reseller,
                days,
                note,
            } => wrap(
                self.grant(actor, op, &reseller, days, note.as_deref())
                    .await?,
                Outcome::Moved,
            ),
            Command::Deduct {
                reseller,
                days,
                note,
            } => wrap(
                self.deduct(actor, op, &reseller, days, &note).await?,
                Outcome::Moved,
            ),
            Command::BulkCreate { rows, .. } => {
                wrap(self.bulk_create(actor, op, &rows).await?, Outcome::Bulk)
            }
            Command::BulkExtend {
                days, selection, ..
            } => {
                let names = match selection {
                    Selection::Named(names) => names,
                    // Not through a card: resolved now, as a card would have.
                    Selection::Expiring => {
                        let quoted = Command::BulkExtend {
                            days,
                            selection,
                            refused: Vec::new(),
                        };
                        match self.quote(actor, &quoted).await?.command {
                            Command::BulkExtend {
                                selection: Selection::Named(names),
                                ..
                            } => names,
                            _ => Vec::new(),
                        }
                    }
                };
                wrap(
                    self.bulk_extend(actor, op, days, &names).await?,
                    Outcome::Bulk,
                )
            }
        })
    }
}
