//! Read-only views: what the bot shows. Each checks the asker's rights like the operations do.

pub mod history;
pub mod resellers;
pub mod stats;
pub mod subscribers;

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
