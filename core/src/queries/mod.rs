//! Read-only views: what the bot shows. Each checks the asker's rights like the operations do.

pub mod history;
pub mod resellers;
pub mod stats;
pub mod subscribers;
pub mod templates;

/// One page of a longer list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Zero-based.
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

impl<T> Page<T> {
    pub fn pages(&self) -> i64 {
        ((self.total + self.per_page - 1) / self.per_page).max(1)
    }

    pub fn has_next(&self) -> bool {
        self.page + 1 < self.pages()
    }
}

/// Rows per page in every paged listing: fits a phone screen.
pub const PER_PAGE: i64 = 10;

/// The page to show when page `asked` of `total` rows is asked for. Page numbers come back in
/// forgeable button data: a negative one gets the first page, one past the end (up to
/// `i64::MAX`) the last, so the offset `page * PER_PAGE` can never overflow.
pub(crate) fn clamp_page(asked: i64, total: i64) -> i64 {
    let last = (total.max(0) + PER_PAGE - 1) / PER_PAGE - 1;
    asked.clamp(0, last.max(0))
}

/// 3610 → "3,610": balances are read at a glance on a phone.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    #[test]
    fn forged_pages_are_clamped_to_the_list() {
        use super::clamp_page;
        assert_eq!(clamp_page(i64::MIN, 25), 0);
        assert_eq!(clamp_page(-1, 25), 0);
        assert_eq!(clamp_page(1, 25), 1);
        assert_eq!(clamp_page(922_337_203_685_477_581, 25), 2);
        assert_eq!(clamp_page(i64::MAX, 0), 0);
        assert_eq!(clamp_page(0, 0), 0);
        assert_eq!(clamp_page(4, 35), 3);
        assert_eq!(clamp_page(1, 10), 0);
        assert_eq!(clamp_page(1, 11), 1);
    }

    #[test]
    fn thousands_get_separators() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(3610), "3,610");
        assert_eq!(super::thousands(-1234567), "-1,234,567");
    }
}
