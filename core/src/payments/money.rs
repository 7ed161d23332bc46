//! Money in minor units of its currency. A minor unit is what ISO 4217 says it is: a cent for
//! USD, a yen for JPY (no decimals), a fils for KWD (three), so a price typed as `1000 JPY` is
//! stored as 1000 and never sent to a provider as 100000.

/// How many decimals the currency has (its ISO 4217 exponent); 2 unless listed here. Telegram
/// Stars (`XTR`) are counted whole.
pub fn exponent(currency: &str) -> u32 {
    match currency.to_ascii_uppercase().as_str() {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" | "XTR" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        "CLF" | "UYW" => 4,
        _ => 2,
    }
}

/// An amount in minor units as a plain decimal: 18000 USD → `"180.00"`, 1000 JPY → `"1000"`.
pub fn to_decimal(amount_minor: i64, currency: &str) -> String {
    let e = exponent(currency);
    let sign = if amount_minor < 0 { "-" } else { "" };
    let abs = amount_minor.unsigned_abs();
    if e == 0 {
        return format!("{sign}{abs}");
    }
    let unit = 10u64.pow(e);
    format!(
        "{sign}{}.{:0width$}",
        abs / unit,
        abs % unit,
        width = e as usize
    )
}

/// Money for people: `180.00 USD`, `1000 JPY`, `250 Stars`.
pub fn format_money(amount_minor: i64, currency: &str) -> String {
    if currency.eq_ignore_ascii_case("XTR") {
        return format!("{amount_minor} Stars");
    }
    format!(
        "{} {}",
        to_decimal(amount_minor, currency),
        currency.to_ascii_uppercase()
    )
}

/// Parses a decimal amount such as `"180.00"` into minor units of `currency`, exactly: digits
/// beyond the currency's decimals must be zeros (`"1000.00"` JPY is 1000, `"1000.5"` JPY is
/// refused rather than rounded).
pub fn parse_minor(amount: &str, currency: &str) -> Option<i64> {
    let amount = amount.trim();
    let (whole, frac) = amount.split_once('.').unwrap_or((amount, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let e = exponent(currency) as usize;
    let (kept, beyond) = frac.split_at(frac.len().min(e));
    if beyond.bytes().any(|b| b != b'0') {
        return None;
    }
    let unit = 10i64.pow(e as u32);
    let minor = if kept.is_empty() {
        0
    } else {
        // "20.1" USD is 20.10: pad the decimals to the exponent.
        kept.parse::<i64>().ok()? * 10i64.pow((e - kept.len()) as u32)
    };
    whole
        .parse::<i64>()
        .ok()?
        .checked_mul(unit)?
        .checked_add(minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_exactly_and_print_back() {
        assert_eq!(parse_minor("180.00", "USD"), Some(18000));
        assert_eq!(parse_minor("19.99", "usd"), Some(1999));
        assert_eq!(parse_minor("20.1", "USD"), Some(2010));
        assert_eq!(parse_minor("5", "USD"), Some(500));
        assert_eq!(parse_minor("1.005", "USD"), None);
        assert_eq!(parse_minor("1.010", "USD"), Some(101));
        assert_eq!(parse_minor("-1.00", "USD"), None);
        assert_eq!(parse_minor("abc", "USD"), None);
        assert_eq!(parse_minor("99999999999999999999", "USD"), None);
        assert_eq!(format_money(18000, "usd"), "180.00 USD");
        assert_eq!(format_money(250, "XTR"), "250 Stars");
        assert_eq!(format_money(-5, "USD"), "-0.05 USD");
    }

    #[test]
    fn currencies_without_two_decimals_use_their_own_exponent() {
        assert_eq!(parse_minor("1000", "JPY"), Some(1000));
        assert_eq!(parse_minor("1000.00", "jpy"), Some(1000));
        assert_eq!(parse_minor("1000.5", "JPY"), None);
        assert_eq!(format_money(1000, "JPY"), "1000 JPY");
        assert_eq!(parse_minor("1.5", "KWD"), Some(1500));
        assert_eq!(parse_minor("1.505", "KWD"), Some(1505));
        assert_eq!(parse_minor("1.5055", "KWD"), None);
        assert_eq!(format_money(1505, "KWD"), "1.505 KWD");
        assert_eq!(to_decimal(1000, "JPY"), "1000");
        assert_eq!(to_decimal(18000, "USD"), "180.00");
    }
}
