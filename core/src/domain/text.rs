use super::{ParseError, amounts::shorten};
use serde::{Deserialize, Serialize};

/// The longest note on a credit movement (a grant's note, a deduction's reason): a history page
/// shows ten of them in one message, which must stay under Telegram's 4,096 characters even
/// when every character is an emoji (two UTF-16 units).
pub const LEDGER_NOTE_MAX: usize = 150;

/// The longest display name of a reseller: it heads their welcome and the admins' views.
pub const DISPLAY_NAME_MAX: usize = 64;

/// Free text an admin or reseller writes (a panel name, a note): trimmed, bounded, printable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label(String);

impl Label {
    /// `what` names the field in the error, e.g. "A panel name".
    pub fn parse(s: &str, what: &str, max: usize) -> Result<Label, ParseError> {
        let s = s.trim();
        let len = s.chars().count();
        if len == 0 || len > max {
            return Err(ParseError(format!(
                "{what} must be 1 to {max} characters; yours has {len}."
            )));
        }
        if s.chars().any(char::is_control) {
            return Err(ParseError(format!(
                "{what} cannot contain line breaks or control characters: “{}”.",
                shorten(s)
            )));
        }
        Ok(Label(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_trimmed_and_bounded() {
        assert_eq!(
            Label::parse("  Star TV ", "A panel name", 10)
                .unwrap()
                .as_str(),
            "Star TV"
        );
        assert!(
            Label::parse("", "A panel name", 10)
                .unwrap_err()
                .0
                .contains("1 to 10 characters; yours has 0")
        );
        assert!(
            Label::parse("12345678901", "A note", 10)
                .unwrap_err()
                .0
                .contains("yours has 11")
        );
        assert!(
            Label::parse("a\nb", "A note", 10)
                .unwrap_err()
                .0
                .contains("line breaks")
        );
    }
}
