//! `Idempotency-Key`: the same key with the same request replays the first outcome through
//! core's operation ids, never charging twice; with another request it is refused (422).

use super::errors::ApiError;
use crate::AppState;
use axum::http::{HeaderMap, Method};
use reseller_core::api_keys::ApiCaller;
use reseller_core::domain::OperationId;
use sha2::{Digest, Sha256};

/// The operation id of a changing request: derived from the caller's `Idempotency-Key` when
/// given, else fresh.
pub(crate) async fn operation(
    state: &AppState,
    caller: &ApiCaller,
    headers: &HeaderMap,
    method: &Method,
    path: &str,
    body: &[u8],
) -> Result<OperationId, ApiError> {
    let Some(key) = headers.get("idempotency-key") else {
        return Ok(OperationId::random());
    };
    let key = key.to_str().map_err(|_| {
        ApiError::BadRequest("The Idempotency-Key must be visible ASCII characters.".into())
    })?;
    let mut hash = Sha256::new();
    for part in [
        method.as_str().as_bytes(),
        b"\n",
        path.as_bytes(),
        b"\n",
        body,
    ] {
        hash.update(part);
    }
    let request = hex::encode(hash.finalize());
    Ok(state.core.api_operation(caller, key, &request).await?)
}
