//! The audit trail: one row per change, written in the change's own transaction.

use crate::Actor;
use crate::db::Tx;
use crate::domain::ResellerId;

/// One audit entry to write.
pub(crate) struct Entry<'a> {
    pub action: &'a str,
    /// The reseller whose business this is, so their “recent activity” can show it.
    pub reseller: Option<ResellerId>,
    pub target: Option<&'a str>,
    pub details: serde_json::Value,
}

pub(crate) async fn record(
    tx: &mut Tx,
    actor: &Actor,
    entry: Entry<'_>,
) -> Result<(), sqlx::Error> {
    record_as(tx, &actor.label(), entry).await
}

/// For changes no person made (the sync worker's refunds): `actor` is written as given.
pub(crate) async fn record_as(
    tx: &mut Tx,
    actor: &str,
    entry: Entry<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (actor, action, reseller_id, target, details, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(actor)
    .bind(entry.action)
    .bind(entry.reseller.map(|r| r.0))
    .bind(entry.target)
    .bind(entry.details.to_string())
    .bind(crate::core::now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
