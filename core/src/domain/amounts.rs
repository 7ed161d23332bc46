use super::ParseError;
use serde::{Deserialize, Serialize};

/// A number of subscription days (= credits) to spend or grant: 1 to [`Days::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Days(u32);

impl Days {
    /// Ten years: more than any real order, small enough that sums never overflow.
    pub const MAX: u32 = 3650;

    pub fn new(n: i64) -> Result<Days, ParseError> {
        if n < 1 {
            return Err(ParseError(format!(
                "The number of days must be at least 1; you gave {n}."
            )));
        }
        if n > i64::from(Days::MAX) {
            return Err(ParseError(format!(
                "The number of days can be at most {}; you gave {n}.",
                Days::MAX
            )));
        }
        Ok(Days(n as u32))
    }

    pub fn parse(s: &str) -> Result<Days, ParseError> {
        let s = s.trim();
        match s.parse::<i64>() {
            Ok(n) => Days::new(n),
            Err(_)
                if !s.is_empty()
                    && s.trim_start_matches('-')
                        .chars()
                        .all(|c| c.is_ascii_digit()) =>
            {
                Err(ParseError(format!(
                    "The number of days can be at most {}; you gave {s}.",
                    Days::MAX
                )))
            }
            Err(_) => Err(ParseError(format!(
                "“{}” is not a number of days. Use a whole number from 1 to {}.",
                shorten(s),
                Days::MAX
            ))),
        }
    }

    pub fn get(self) -> i64 {
        i64::from(self.0)
    }

    pub fn seconds(self) -> i64 {
        self.get() * 86_400
    }
}

impl TryFrom<i64> for Days {
    type Error = ParseError;
    fn try_from(n: i64) -> Result<Self, Self::Error> {
        Days::new(n)
    }
}

impl From<Days> for i64 {
    fn from(d: Days) -> i64 {
        d.get()
    }
}

impl std::fmt::Display for Days {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A value for a reseller limit, checked against that limit's range by [`super::Limit::value`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitValue(pub(crate) i64);

impl LimitValue {
    pub fn get(self) -> i64 {
        self.0
    }
}

/// Keeps echoed input short, so a pasted novel does not come back in the error.
pub fn shorten(s: &str) -> String {
    const MAX: usize = 32;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_accepts_the_range_and_refuses_the_rest_with_numbers() {
        assert_eq!(Days::parse("30").unwrap().get(), 30);
        assert_eq!(Days::parse(" 3650 ").unwrap().get(), 3650);
        assert!(
            Days::parse("0")
                .unwrap_err()
                .0
                .contains("at least 1; you gave 0")
        );
        assert!(Days::parse("-5").unwrap_err().0.contains("you gave -5"));
        assert!(
            Days::parse("3651")
                .unwrap_err()
                .0
                .contains("at most 3650; you gave 3651")
        );
        assert!(
            Days::parse("99999999999999999999999")
                .unwrap_err()
                .0
                .contains("at most 3650")
        );
        assert!(
            Days::parse("ten")
                .unwrap_err()
                .0
                .contains("“ten” is not a number")
        );
        assert!(Days::parse("1.5").unwrap_err().0.contains("not a number"));
        assert!(Days::parse("").unwrap_err().0.contains("not a number"));
    }

    #[test]
    fn days_round_trips_through_serde_and_refuses_bad_json() {
        let d: Days = serde_json::from_str("90").unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), "90");
        assert!(serde_json::from_str::<Days>("0").is_err());
    }
}
