//! Guided flows. The state is stored in the database through core after every step, so that a
//! restart in the middle of `/new` continues where the user was.

use reseller_core::Core;
use reseller_core::domain::Days;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub(crate) enum State {
    /// `/new` asked how many days.
    NewAwaitingDays,
    /// `/new` has the days and asked for the username.
    NewAwaitingUsername { days: Days },
    /// A manual payment waits for the photo of its receipt.
    AwaitingReceipt { order: String },
    /// `/bulk` waits for the list (text or a CSV file).
    AwaitingBulkList,
}

pub(crate) async fn load(core: &Core, chat: i64) -> reseller_core::Result<Option<State>> {
    Ok(core
        .load_conversation(chat)
        .await?
        // A state written by an older version that no longer parses is simply dropped.
        .and_then(|s| serde_json::from_str(&s).ok()))
}

pub(crate) async fn save(core: &Core, chat: i64, state: &State) -> reseller_core::Result<()> {
    let json = serde_json::to_string(state)
        .map_err(|e| reseller_core::CoreError::Internal(Box::new(e)))?;
    core.save_conversation(chat, &json).await
}

pub(crate) async fn clear(core: &Core, chat: i64) -> reseller_core::Result<()> {
    core.clear_conversation(chat).await
}
