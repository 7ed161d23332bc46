//! Exactly-once execution of confirmed operations.

use crate::db::Tx;
use crate::domain::OperationId;
use crate::{Actor, Core, CoreError, Result};
use serde::{Serialize, de::DeserializeOwned};

/// The outcome of an operation, and whether it was carried out now or earlier under the same id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done<T> {
    pub value: T,
    pub replayed: bool,
}

/// Whether an operation id is new (here is its transaction) or was already carried out.
pub(crate) enum Claim<T> {
    Fresh(Tx),
    Replayed(Done<T>),
}

impl Core {
    /// Claims `op` for `actor` by inserting it, in a new write transaction. The caller does its
    /// work in that transaction and ends with [`Core::finish`].
    ///
    /// A concurrent duplicate blocks on the claim (the unique index on PostgreSQL, the single
    /// writer on SQLite) until the first commits, then finds it and gets the stored outcome. If
    /// the work fails, dropping the transaction rolls the claim back with it, and the id can be
    /// tried again.
    pub(crate) async fn claim<T: DeserializeOwned>(
        &self,
        op: &OperationId,
        actor: &Actor,
    ) -> Result<Claim<T>> {
        let mut tx = self.db.begin_write().await?;
        let claimed = sqlx::query(
            "INSERT INTO operations (id, actor, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
        )
        .bind(op.as_str())
        .bind(actor.label())
        .bind(crate::core::now())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if claimed {
            return Ok(Claim::Fresh(tx));
        }
        tx.rollback().await?;
        self.replay(op, actor).await.map(Claim::Replayed)
    }

    /// Stores the outcome of a claimed operation and commits everything together.
    pub(crate) async fn finish<T: Serialize>(
        &self,
        mut tx: Tx,
        op: &OperationId,
        value: T,
    ) -> Result<Done<T>> {
        sqlx::query("UPDATE operations SET outcome = $1 WHERE id = $2")
            .bind(serde_json::to_string(&value)?)
            .bind(op.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Done {
            value,
            replayed: false,
        })
    }

    async fn replay<T: DeserializeOwned>(
        &self,
        op: &OperationId,
        actor: &Actor,
    ) -> Result<Done<T>> {
        let row: Option<(String, Option<String>)> =
            sqlx::query_as("SELECT actor, outcome FROM operations WHERE id = $1")
                .bind(op.as_str())
                .fetch_optional(self.db.read())
                .await?;
        match row {
            // Someone else's operation id: reveal nothing about it.
            Some((owner, Some(outcome))) if owner == actor.label() => Ok(Done {
                value: serde_json::from_str(&outcome)?,
                replayed: true,
            }),
            _ => Err(CoreError::ConfirmationGone),
        }
    }
}
