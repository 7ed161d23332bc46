use super::ParseError;
use serde::{Deserialize, Serialize};

/// Database id of a reseller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResellerId(pub i64);

/// Database id of a subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SubscriberId(pub i64);

/// A Telegram user id (positive, as Telegram assigns them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TelegramId(pub i64);

/// The identity of one confirmed operation: the same id replayed returns the first result.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OperationId(String);

impl OperationId {
    pub fn parse(s: &str) -> Result<OperationId, ParseError> {
        let ok = (8..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(OperationId(s.to_string()))
        } else {
            Err(ParseError("That action reference is not valid.".into()))
        }
    }

    /// A fresh random id, for operations that have no natural one.
    pub fn random() -> OperationId {
        OperationId(crate::secrets::random_string(crate::secrets::ALNUM, 20))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OperationId {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        OperationId::parse(&s)
    }
}

impl From<OperationId> for String {
    fn from(o: OperationId) -> String {
        o.0
    }
}

impl std::fmt::Display for OperationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
