//! Admin broadcasts to resellers. A draft counts its audience for the preview; confirming it
//! writes one `broadcast_recipients` row per recipient in the same transaction that starts it,
//! so the list is fixed and every recipient's status persists: a restart resumes with the
//! pending ones. A sending broadcast is claimed whole under one lease (`Outbox::Broadcasts`),
//! so one instance sends it and its pace limit is the only one in force.

use crate::core::now;
use crate::domain::{ParseError, TemplateName};
use crate::lease::{Lease, Outbox, held};
use crate::{Actor, Core, CoreError, Result};

/// Telegram's limit on a message's length, in characters.
pub const TEXT_MAX: usize = 4096;

/// Who a broadcast goes to: resellers with a linked Telegram account, and of them…
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// …all.
    All,
    /// …those not suspended.
    Active,
    /// …those below their low-credit threshold.
    LowCredit,
    /// …those on this permission template.
    Template(TemplateName),
}

impl Audience {
    pub fn parse(s: &str) -> Result<Audience, ParseError> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "all" => Audience::All,
            "active" => Audience::Active,
            "low" => Audience::LowCredit,
            other => match other.strip_prefix("template:") {
                Some(name) => Audience::Template(TemplateName::parse(name)?),
                None => {
                    return Err(ParseError(format!(
                        "“{}” is not an audience: use all, active, low or template:<name>.",
                        crate::domain::shorten(s)
                    )));
                }
            },
        })
    }

    pub fn name(&self) -> String {
        match self {
            Audience::All => "all".into(),
            Audience::Active => "active".into(),
            Audience::LowCredit => "low".into(),
            Audience::Template(t) => format!("template:{t}"),
        }
    }

    /// The resellers it selects: a condition on `resellers r` with the template name at `$1`.
    fn condition(&self) -> &'static str {
        match self {
            Audience::All => "1 = 1",
            Audience::Active => "r.active = 1",
            Audience::LowCredit => "r.balance < r.low_credit_threshold",
            Audience::Template(_) => {
                "r.template_id = (SELECT id FROM permission_templates WHERE name = $1)"
            }
        }
    }

    fn template(&self) -> &str {
        match self {
            Audience::Template(t) => t.as_str(),
            _ => "",
        }
    }
}

/// A broadcast drafted, for the preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub id: i64,
    pub recipients: i64,
}

/// A sending broadcast claimed by this instance.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    /// Who gets the progress message and the tally.
    pub admin: i64,
    pub text: String,
    pub progress_message: Option<i64>,
    pub lease: Lease,
}

/// Where a broadcast stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub sent: i64,
    pub blocked: i64,
    pub failed: i64,
    pub pending: i64,
}

/// How one recipient ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// The reseller blocked the bot or never started it.
    Blocked,
    /// Telegram refused it for another reason.
    Failed,
}

impl Delivery {
    fn name(self) -> &'static str {
        match self {
            Delivery::Sent => "sent",
            Delivery::Blocked => "blocked",
            Delivery::Failed => "failed",
        }
    }
}

fn invalid(sentence: String) -> CoreError {
    CoreError::Invalid(ParseError(sentence))
}

impl Core {
    /// Drafts a broadcast and counts who it would reach; nothing is sent until it is started.
    pub async fn draft_broadcast(
        &self,
        actor: &Actor,
        audience: &Audience,
        text: &str,
    ) -> Result<Draft> {
        let Actor::Admin(admin) = actor else {
            return Err(CoreError::AdminOnly);
        };
        let text = text.trim();
        let length = text.chars().count();
        if length == 0 {
            return Err(invalid("A broadcast needs a text.".into()));
        }
        if length > TEXT_MAX {
            return Err(invalid(format!(
                "A broadcast can be at most {TEXT_MAX} characters; this one has {length}."
            )));
        }
        if let Audience::Template(name) = audience {
            let known: Option<i64> =
                sqlx::query_scalar("SELECT id FROM permission_templates WHERE name = $1")
                    .bind(name.as_str())
                    .fetch_optional(self.db.read())
                    .await?;
            if known.is_none() {
                return Err(CoreError::NotFound {
                    kind: "template",
                    name: name.to_string(),
                });
            }
        }
        let mut tx = self.db.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO broadcasts (admin_telegram_id, text, audience, status, created_at) \
             VALUES ($1, $2, $3, 'draft', $4) RETURNING id",
        )
        .bind(admin.0)
        .bind(text)
        .bind(audience.name())
        .bind(now())
        .fetch_one(&mut *tx)
        .await?;
        let recipients: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM resellers r WHERE r.telegram_id IS NOT NULL AND ({}) \
             AND $1 = $1",
            audience.condition()
        ))
        .bind(audience.template())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Draft { id, recipients })
    }

    /// Starts a drafted broadcast: fixes its recipients and hands it to the sender. `None` if
    /// it was already started or cancelled (a double tap), so it is never sent twice.
    pub async fn start_broadcast(&self, actor: &Actor, id: i64) -> Result<Option<i64>> {
        actor.require_admin()?;
        let mut tx = self.db.begin_write().await?;
        let audience: Option<String> = sqlx::query_scalar(
            "UPDATE broadcasts SET status = 'sending' WHERE id = $1 AND status = 'draft' \
             RETURNING audience",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(audience) = audience else {
            return Ok(None);
        };
        let audience = Audience::parse(&audience)?;
        let added = sqlx::query(&format!(
            "INSERT INTO broadcast_recipients (broadcast_id, telegram_id) \
             SELECT $2, r.telegram_id FROM resellers r \
             WHERE r.telegram_id IS NOT NULL AND ({}) AND $1 = $1",
            audience.condition()
        ))
        .bind(audience.template())
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(Some(added as i64))
    }

    /// Cancels a draft; `false` if it was no longer one.
    pub async fn cancel_broadcast(&self, actor: &Actor, id: i64) -> Result<bool> {
        actor.require_admin()?;
        let mut tx = self.db.begin_write().await?;
        let cancelled = sqlx::query(
            "UPDATE broadcasts SET status = 'cancelled', finished_at = $2 \
             WHERE id = $1 AND status = 'draft'",
        )
        .bind(id)
        .bind(now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(cancelled == 1)
    }

    /// Claims the oldest sending broadcast no live lease holds (one at a time, whole).
    pub async fn claim_broadcast(&self) -> Result<Vec<Claimed>> {
        let lease = self.lease();
        let sql = format!(
            "UPDATE broadcasts SET lease_owner = $1, lease_until = $2 WHERE id IN (\
             SELECT id FROM broadcasts WHERE status = 'sending' \
             AND (lease_until IS NULL OR lease_until < $3) ORDER BY id LIMIT 1{}) \
             RETURNING id, admin_telegram_id, text, progress_message_id",
            self.skip_locked()
        );
        let mut tx = self.db.begin_write().await?;
        let rows: Vec<(i64, i64, String, Option<i64>)> = sqlx::query_as(&sql)
            .bind(&*lease.owner)
            .bind(self.lease_until(Outbox::Broadcasts))
            .bind(now())
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|(id, admin, text, progress_message)| Claimed {
                id,
                admin,
                text,
                progress_message,
                lease: lease.clone(),
            })
            .collect())
    }

    /// The next recipients not yet sent to, in a stable order.
    pub async fn broadcast_pending(&self, b: &Claimed, limit: i64) -> Result<Vec<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT telegram_id FROM broadcast_recipients \
             WHERE broadcast_id = $1 AND status = 'pending' ORDER BY telegram_id LIMIT $2",
        )
        .bind(b.id)
        .bind(limit)
        .fetch_all(self.db.read())
        .await?)
    }

    /// Records how one recipient ended, while our lease is live; `false` if it ran out.
    pub async fn record_delivery(
        &self,
        b: &Claimed,
        telegram_id: i64,
        delivery: Delivery,
        error: Option<&str>,
    ) -> Result<bool> {
        let sql = format!(
            "UPDATE broadcast_recipients SET status = $1, error = $2 \
             WHERE broadcast_id = $3 AND telegram_id = $4 AND status = 'pending' \
             AND EXISTS (SELECT 1 FROM broadcasts WHERE id = $3 AND {})",
            held(5, 6)
        );
        let mut tx = self.db.begin_write().await?;
        let done = sqlx::query(&sql)
            .bind(delivery.name())
            .bind(error)
            .bind(b.id)
            .bind(telegram_id)
            .bind(&*b.lease.owner)
            .bind(now())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(done == 1)
    }

    /// Remembers the progress message, so a resumed broadcast edits the same one.
    pub async fn set_broadcast_progress(&self, b: &Claimed, message_id: i64) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query("UPDATE broadcasts SET progress_message_id = $1 WHERE id = $2")
            .bind(message_id)
            .bind(b.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn broadcast_tally(&self, id: i64) -> Result<Tally> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, COUNT(*) FROM broadcast_recipients WHERE broadcast_id = $1 \
             GROUP BY status",
        )
        .bind(id)
        .fetch_all(self.db.read())
        .await?;
        let mut tally = Tally::default();
        for (status, n) in rows {
            match status.as_str() {
                "sent" => tally.sent = n,
                "blocked" => tally.blocked = n,
                "failed" => tally.failed = n,
                _ => tally.pending = n,
            }
        }
        Ok(tally)
    }

    /// Closes a broadcast with nothing pending, under our lease; `false` otherwise.
    pub async fn finish_broadcast(&self, b: &Claimed) -> Result<bool> {
        let sql = format!(
            "UPDATE broadcasts SET status = 'done', finished_at = $1, lease_owner = NULL, \
             lease_until = NULL WHERE id = $2 AND status = 'sending' AND {} AND NOT EXISTS \
             (SELECT 1 FROM broadcast_recipients WHERE broadcast_id = $2 AND status = 'pending')",
            held(3, 1)
        );
        let mut tx = self.db.begin_write().await?;
        let done = sqlx::query(&sql)
            .bind(now())
            .bind(b.id)
            .bind(&*b.lease.owner)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(done == 1)
    }
}
