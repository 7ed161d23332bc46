//! Where front ends keep the state of half-finished conversations, as opaque text, so that a
//! restart in the middle of a guided flow picks up where the user was.

use crate::{Core, Result};

impl Core {
    pub async fn load_conversation(&self, chat_id: i64) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT state FROM conversations WHERE chat_id = $1")
                .bind(chat_id)
                .fetch_optional(self.db.read())
                .await?,
        )
    }

    pub async fn save_conversation(&self, chat_id: i64, state: &str) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "INSERT INTO conversations (chat_id, state, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (chat_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
        )
        .bind(chat_id)
        .bind(state)
        .bind(crate::core::now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn clear_conversation(&self, chat_id: i64) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query("DELETE FROM conversations WHERE chat_id = $1")
            .bind(chat_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
