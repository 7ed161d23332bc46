use crate::audit::{self, Entry};
use crate::core::{now, to_time};
use crate::db::Tx;
use crate::domain::{ResellerId, TelegramId, Username};
use crate::queries::resellers::{self, Reseller};
use crate::secrets::{ALNUM, random_string, sha256_hex};
use crate::{Actor, Core, CoreError, Result};
use chrono::{DateTime, Utc};

/// A one-time code that links a Telegram account to a reseller. Only its hash is stored.
#[derive(Debug, Clone)]
pub struct Invite {
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

impl Core {
    pub(crate) async fn issue_invite(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        reseller: ResellerId,
    ) -> Result<Invite> {
        // 24 alphanumerics ≈ 143 bits: unguessable, and fits Telegram's 64-character start parameter.
        let code = random_string(ALNUM, 24);
        let expires_at = now() + self.policy.invite_ttl.num_seconds();
        sqlx::query(
            "INSERT INTO invites (code_hash, reseller_id, expires_at, created_by, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(sha256_hex(&code))
        .bind(reseller.0)
        .bind(expires_at)
        .bind(actor.label())
        .bind(now())
        .execute(&mut **tx)
        .await?;
        Ok(Invite {
            code,
            expires_at: to_time(expires_at),
        })
    }

    /// A fresh invite for an existing reseller, e.g. when they change phones. Earlier unused
    /// invites stop working.
    pub async fn new_invite(&self, actor: &Actor, reseller: &Username) -> Result<Invite> {
        actor.require_admin()?;
        let mut tx = self.db.begin_write().await?;
        let r = resellers::by_username(&mut *tx, reseller).await?;
        sqlx::query("UPDATE invites SET expires_at = $1 WHERE reseller_id = $2 AND used_at IS NULL AND expires_at > $1")
            .bind(now())
            .bind(r.id.0)
            .execute(&mut *tx)
            .await?;
        let invite = self.issue_invite(&mut tx, actor, r.id).await?;
        audit::record(
            &mut tx,
            actor,
            Entry {
                action: "reseller.invite",
                reseller: Some(r.id),
                target: Some(&r.username),
                details: serde_json::json!({}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(invite)
    }

    /// Links `telegram_id` to the reseller the invite was made for. The code is spent even when
    /// used by the reseller's second phone: one invite, one link.
    pub async fn redeem_invite(&self, telegram_id: TelegramId, code: &str) -> Result<Reseller> {
        if code.is_empty() || code.len() > 64 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(CoreError::InviteInvalid);
        }
        let mut tx = self.db.begin_write().await?;
        let is_admin: Option<i64> =
            sqlx::query_scalar("SELECT telegram_id FROM admins WHERE telegram_id = $1")
                .bind(telegram_id.0)
                .fetch_optional(&mut *tx)
                .await?;
        if is_admin.is_some() {
            return Err(CoreError::AdminCannotLink);
        }
        let now = now();
        let reseller: Option<i64> = sqlx::query_scalar(
            "UPDATE invites SET used_at = $1, used_by = $2 WHERE code_hash = $3 AND used_at IS NULL AND expires_at > $1 \
             RETURNING reseller_id",
        )
        .bind(now)
        .bind(telegram_id.0)
        .bind(sha256_hex(code))
        .fetch_optional(&mut *tx)
        .await?;
        let reseller = ResellerId(reseller.ok_or(CoreError::InviteInvalid)?);
        let linked: Option<String> = sqlx::query_scalar(
            "SELECT username FROM resellers WHERE telegram_id = $1 AND id <> $2",
        )
        .bind(telegram_id.0)
        .bind(reseller.0)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(other) = linked {
            return Err(CoreError::AlreadyLinked(other));
        }
        let linking =
            sqlx::query("UPDATE resellers SET telegram_id = $1, last_seen_at = $2 WHERE id = $3")
                .bind(telegram_id.0)
                .bind(now)
                .bind(reseller.0)
                .execute(&mut *tx)
                .await;
        if let Err(e) = linking {
            // Two invites redeemed at once by one account: on PostgreSQL both pass the check
            // above, and the later one meets the unique index once the first has committed.
            drop(tx);
            let linked: Option<String> =
                sqlx::query_scalar("SELECT username FROM resellers WHERE telegram_id = $1")
                    .bind(telegram_id.0)
                    .fetch_optional(self.db.read())
                    .await?;
            return Err(match linked {
                Some(other) => super::unique_or(e, CoreError::AlreadyLinked(other)),
                None => e.into(),
            });
        }
        audit::record(
            &mut tx,
            &Actor::Reseller(reseller),
            Entry {
                action: "reseller.link",
                reseller: Some(reseller),
                target: None,
                details: serde_json::json!({ "telegram_id": telegram_id.0 }),
            },
        )
        .await?;
        let r = resellers::by_id(&mut *tx, reseller).await?;
        tx.commit().await?;
        Ok(r)
    }
}
