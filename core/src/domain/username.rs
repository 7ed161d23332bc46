use super::{ParseError, amounts::shorten};
use serde::{Deserialize, Serialize};

/// A subscriber or reseller login: 3 to 32 characters of `a-z 0-9 . _ -`, starting with a letter
/// or digit, stored lowercase so that “Bob” and “bob” are the same account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    pub const MIN: usize = 3;
    pub const MAX: usize = 32;

    pub fn parse(s: &str) -> Result<Username, ParseError> {
        let s = s.trim().trim_start_matches('@');
        let lower = s.to_ascii_lowercase();
        let valid_chars = lower.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
        let starts_well = lower
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric());
        let len = lower.chars().count();
        if !(Self::MIN..=Self::MAX).contains(&len) || !valid_chars || !starts_well {
            return Err(ParseError(format!(
                "“{}” is not a valid username: use {} to {} letters, digits, dots, dashes or underscores, starting with a letter or digit.",
                shorten(s),
                Self::MIN,
                Self::MAX
            )));
        }
        Ok(Username(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Username::parse(&s)
    }
}

impl From<Username> for String {
    fn from(u: Username) -> String {
        u.0
    }
}

impl std::fmt::Display for Username {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_normalised_and_checked() {
        assert_eq!(
            Username::parse(" Bob.Smith ").unwrap().as_str(),
            "bob.smith"
        );
        assert_eq!(Username::parse("@alice_1").unwrap().as_str(), "alice_1");
        for bad in [
            "ab",
            "bob smith",
            "_bob",
            "bob!",
            "ünïcode",
            "",
            &"x".repeat(33),
        ] {
            let err = Username::parse(bad).unwrap_err();
            assert!(err.0.contains("is not a valid username"), "{bad}: {err}");
        }
    }
}
