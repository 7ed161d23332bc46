//! Values that are valid by construction. Input is parsed into these once, at the edge; past
//! that, a `Days` is never zero and a `Username` never has a space in it.

mod amounts;
mod credentials_template;
mod discount;
mod ids;
mod permission;
mod text;
mod username;

pub use amounts::{Days, LimitValue, shorten};
pub use credentials_template::{CredentialsTemplate, Piece, Placeholder, TEMPLATE_MAX};
pub use discount::{Discount, scale};
pub use ids::{OperationId, ResellerId, SubscriberId, TelegramId};
pub use permission::{Limit, Permission, Setting, TRIAL_COST_MAX, TemplateName, parse_switch};
pub use text::{DISPLAY_NAME_MAX, LEDGER_NOTE_MAX, Label};
pub use username::Username;

/// Why a piece of input was rejected, as a sentence for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);
