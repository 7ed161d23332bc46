use crate::audit::{self, Entry};
use crate::core::{now, to_time};
use crate::db::Tx;
use crate::domain::{Days, OperationId, Permission, ResellerId, SubscriberId, Username};
use crate::idempotency::Claim;
use crate::ledger::{self, Kind, Posting};
use crate::queries::resellers::{self, Reseller};
use crate::sync::JobKind;
use crate::{Actor, Core, CoreError, Done, Result};
use serde::{Deserialize, Serialize};

/// A new subscriber and what it cost. Holds no secrets, because outcomes are stored for replay:
/// front ends fetch the credentials with [`Core::credentials`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Created {
    pub username: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub charged: i64,
    /// The reseller's balance afterwards; `None` for admin-owned subscribers.
    pub balance: Option<i64>,
    /// A trial (`/trial`), not a paid subscriber.
    #[serde(default)]
    pub trial: bool,
}

impl Core {
    /// Creates a subscriber for `days`, debiting a reseller `days` credits. Admins create
    /// subscribers they own, free of charge.
    pub async fn create_subscriber(
        &self,
        actor: &Actor,
        op: &OperationId,
        username: &Username,
        days: Days,
    ) -> Result<Done<Created>> {
        let result = self.create_subscriber_once(actor, op, username, days).await;
        match &result {
            Ok(done) if done.replayed => {}
            outcome => crate::metrics::subscriber_creation(outcome.is_ok()),
        }
        result
    }

    /// The creation itself, in one transaction; `create_subscriber` counts its outcome.
    async fn create_subscriber_once(
        &self,
        actor: &Actor,
        op: &OperationId,
        username: &Username,
        days: Days,
    ) -> Result<Done<Created>> {
        let mut claimed = match self.claim(op, actor).await? {
            Claim::Fresh(tx) => tx,
            Claim::Replayed(done) => return Ok(done),
        };
        let tx = &mut claimed;
        let now = now();
        let owner = match actor {
            Actor::Reseller(id) => {
                let r = resellers::by_id(&mut **tx, *id).await?;
                r.require(Permission::CanCreateUsers)?;
                Some(r)
            }
            Actor::Admin(_) => None,
        };
        let expires_at = now + days.seconds();
        let id = self
            .insert_line(tx, actor, username, owner.as_ref(), expires_at, false)
            .await?;
        let mut balance = None;
        if let Some(r) = &owner {
            let posting = Posting {
                reseller: r.id,
                amount: -days.get(),
                kind: Kind::Debit,
                actor: actor.label(),
                subscriber: Some((SubscriberId(id), username.as_str())),
                note: Some("new subscriber"),
                key: format!("{op}:debit"),
            };
            let Some(moved) = ledger::post(tx, posting, false).await? else {
                return Err(CoreError::InsufficientCredits {
                    action: format!("create this subscriber for {days} days"),
                    needed: days.get(),
                    balance: ledger::balance(tx, r.id).await?,
                });
            };
            balance = Some(moved.after);
        }
        let charged = if owner.is_some() { days.get() } else { 0 };
        let value = Created {
            username: username.to_string(),
            expires_at: to_time(expires_at),
            charged,
            balance,
            trial: false,
        };
        let details = serde_json::json!({ "days": days.get(), "expires_at": expires_at });
        self.finish_line(
            claimed,
            op,
            actor,
            owner.map(|r| r.id),
            "subscriber.create",
            details,
            value,
        )
        .await
    }

    /// Inserts a subscriber with fresh credentials (encrypted) for `owner` (`None`: the admin),
    /// then refuses it past the owner's `max_users`. The insert's trigger counted it on the
    /// owner's row (locking it), so that check is O(1) and cannot race another creation.
    pub(super) async fn insert_line(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        username: &Username,
        owner: Option<&Reseller>,
        expires_at: i64,
        trial: bool,
    ) -> Result<i64> {
        let max_connections = owner.map_or(self.policy.default_max_connections, |r| {
            r.max_connections_per_user
        });
        let (password, token) = super::new_credentials(self.policy.password_length);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO subscribers (username, password_enc, token_enc, token_hash, expires_at, max_connections, \
             reseller_id, created_by_admin, created_at, is_trial) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(username.as_str())
        .bind(self.cipher.encrypt(username.as_str(), &password))
        .bind(self.cipher.encrypt(username.as_str(), &token))
        .bind(crate::secrets::sha256_hex(&token))
        .bind(expires_at)
        .bind(max_connections)
        .bind(owner.map(|r| r.id.0))
        .bind(i64::from(actor.is_admin()))
        .bind(now())
        .bind(i64::from(trial))
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| super::unique_or(e, CoreError::UsernameTaken(username.to_string())))?;
        if let Some(r) = owner {
            let count: i64 =
                sqlx::query_scalar("SELECT subscriber_count FROM resellers WHERE id = $1")
                    .bind(r.id.0)
                    .fetch_one(&mut **tx)
                    .await?;
            if count > r.max_users {
                return Err(CoreError::MaxUsersReached {
                    max: r.max_users,
                    current: count - 1,
                });
            }
        }
        Ok(id)
    }

    /// The end every creation shares: its line's records, then the outcome stored with the commit.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn finish_line(
        &self,
        mut claimed: Tx,
        op: &OperationId,
        actor: &Actor,
        reseller: Option<ResellerId>,
        action: &'static str,
        details: serde_json::Value,
        value: Created,
    ) -> Result<Done<Created>> {
        self.record_line(
            &mut claimed,
            actor,
            reseller,
            action,
            details,
            &value.username,
            value.charged,
        )
        .await?;
        let username = value.username.clone();
        let done = self.finish(claimed, op, value).await?;
        self.access.forget(&username);
        Ok(done)
    }

    /// What every created line writes besides itself: its sync job, its audit row, and the news
    /// for other instances (which may hold the name as unknown).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn record_line(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        reseller: Option<ResellerId>,
        action: &'static str,
        details: serde_json::Value,
        username: &str,
        charged: i64,
    ) -> Result<()> {
        crate::sync::enqueue(
            tx,
            self.policy.sync_enabled,
            username,
            reseller,
            JobKind::Create,
            charged,
        )
        .await?;
        audit::record(
            tx,
            actor,
            Entry {
                action,
                reseller,
                target: Some(username),
                details,
            },
        )
        .await?;
        self.publish(tx, &crate::bus::Event::Access(username.to_string()))
            .await
    }
}
