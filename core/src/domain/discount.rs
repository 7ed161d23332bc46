use super::{ParseError, amounts::shorten};

/// A discount in whole percent off a list price, from 0 to [`Discount::MAX`]. Above 90% a
/// package would be next to free, and a 100% discount would let a reseller mint credits, so
/// deeper cuts are refused rather than clamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Discount(i64);

impl Discount {
    pub const MAX: i64 = 90;

    /// `10`, `10%` or `10 %`.
    pub fn parse(s: &str) -> Result<Discount, ParseError> {
        let t = s.trim();
        let number = t.strip_suffix('%').unwrap_or(t).trim();
        match number.parse::<i64>() {
            Ok(n) if (0..=Self::MAX).contains(&n) => Ok(Discount(n)),
            _ => Err(ParseError(format!(
                "A discount must be a whole percent from 0% to {}%; you gave “{}”.",
                Self::MAX,
                shorten(t)
            ))),
        }
    }

    /// A value read back from the database, where a CHECK keeps it in range.
    pub fn from_stored(n: i64) -> Discount {
        Discount(n.clamp(0, Self::MAX))
    }

    pub fn percent(self) -> i64 {
        self.0
    }

    /// `amount` less this discount, rounded half up to a whole minor unit (a cent, a Star) and
    /// never below 1: 10% off 0.05 USD is 0.045, charged 0.05; 90% off 1 Star is 1 Star.
    pub fn apply(self, amount: i64) -> i64 {
        scale(amount, 100 - self.0, 100)
    }
}

impl std::fmt::Display for Discount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}%", self.0)
    }
}

/// `amount × num / den`, rounded half up, at least 1. In 128 bits, so no amount overflows.
pub fn scale(amount: i64, num: i64, den: i64) -> i64 {
    if den <= 0 {
        return amount.max(1);
    }
    let exact = i128::from(amount) * i128::from(num);
    let rounded = (2 * exact + i128::from(den)) / (2 * i128::from(den));
    i64::try_from(rounded).unwrap_or(i64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discounts_parse_from_0_to_90_percent() {
        assert_eq!(Discount::parse("15%").unwrap().percent(), 15);
        assert_eq!(Discount::parse(" 0 ").unwrap().percent(), 0);
        assert_eq!(Discount::parse("90 %").unwrap().percent(), 90);
        assert_eq!(
            Discount::parse("150%").unwrap_err().0,
            "A discount must be a whole percent from 0% to 90%; you gave “150%”."
        );
        assert!(Discount::parse("-5%").is_err());
        assert!(Discount::parse("91").is_err());
        assert!(Discount::parse("12.5%").is_err());
    }

    #[test]
    fn discounts_round_half_up_to_the_minor_unit_and_never_reach_zero() {
        let d = |p| Discount::parse(p).unwrap();
        assert_eq!(d("10%").apply(18000), 16200);
        // 12% off 0.05 is 0.044: down; 10% off 0.05 is 0.045: up.
        assert_eq!(d("12%").apply(5), 4);
        assert_eq!(d("10%").apply(5), 5);
        // 15% off 250 Stars is 212.5 Stars: 213.
        assert_eq!(d("15%").apply(250), 213);
        assert_eq!(d("90%").apply(1), 1);
        assert_eq!(d("90%").apply(4), 1);
        assert_eq!(d("0%").apply(999), 999);
        assert_eq!(scale(250, 9000, 18000), 125);
        assert_eq!(scale(i64::MAX, 2, 1), i64::MAX);
    }
}
