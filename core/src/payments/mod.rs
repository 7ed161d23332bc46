//! Buying credits: packages, orders, and what payment providers tell us about them.

mod events;
mod manual;
mod orders;
mod packages;

pub use events::{PaymentEvent, Received};
pub use orders::{Order, OrderStatus};
pub use packages::{NewPackage, Package};

/// Money in minor units (cents) with its ISO currency, e.g. 18000 USD = 180.00 USD.
pub fn format_money(amount_minor: i64, currency: &str) -> String {
    if currency.eq_ignore_ascii_case("XTR") {
        return format!("{amount_minor} Stars");
    }
    format!(
        "{}.{:02} {}",
        amount_minor / 100,
        (amount_minor % 100).abs(),
        currency.to_ascii_uppercase()
    )
}

/// Parses a decimal amount such as `"180.00"` or `19.99` into minor units, exactly.
pub fn parse_minor(amount: &str) -> Option<i64> {
    let amount = amount.trim();
    let (whole, frac) = amount.split_once('.').unwrap_or((amount, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let cents = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => {
            // Beyond cents, anything other than zeros would be lost: refuse rather than round.
            if frac[2..].bytes().any(|b| b != b'0') {
                return None;
            }
            frac[..2].parse::<i64>().ok()?
        }
    };
    whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_exactly_and_print_back() {
        assert_eq!(parse_minor("180.00"), Some(18000));
        assert_eq!(parse_minor("19.99"), Some(1999));
        assert_eq!(parse_minor("20.1"), Some(2010));
        assert_eq!(parse_minor("5"), Some(500));
        assert_eq!(parse_minor("1.005"), None);
        assert_eq!(parse_minor("-1.00"), None);
        assert_eq!(parse_minor("abc"), None);
        assert_eq!(format_money(18000, "usd"), "180.00 USD");
        assert_eq!(format_money(250, "XTR"), "250 Stars");
    }
}
