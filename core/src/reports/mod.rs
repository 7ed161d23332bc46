//! Monthly reports, chart series and CSV exports, for one reseller (their own business) or for
//! the admins (everyone, and each reseller side by side).
//!
//! Every figure is one aggregate query over an indexed time range (migration 0027), never a
//! loop over resellers or subscribers. Months are calendar months in UTC: resellers have no
//! time zone of their own yet.
//!
//! Definitions, from the data that exists:
//! - **bought**: credits of `purchase` ledger rows (paid orders) dated in the month;
//!   **granted**: other credits added (admin grants, bonuses, refunds of refused creations);
//!   **spent**: credits of `debit` rows (creations, extensions, paid trials);
//!   **taken back**: other credits removed (admin deductions, refunded payments).
//! - **left**: the balance at the end of the month (now, for the current month): the current
//!   balance less every ledger movement after that moment, since balances move only through
//!   the ledger.
//! - **created** / **extended**: the month's audit rows `subscriber.create` and
//!   `subscriber.trial` / `subscriber.extend`.
//! - **expired**: subscribers whose access ended within the month (and before now) and has
//!   not been renewed since: their current expiry lies in the month.
//! - **churned**: subscribers lost in the month: the expired ones plus those deleted in the
//!   month (audit `subscriber.delete`).
//! - **active at month end**: enabled subscribers created before the end of the month (now,
//!   for the current month) whose current expiry is after it. See [`series`] for what
//!   "current" leaves out of the past.
//! - **revenue**: the amounts of orders still `paid` (refunded ones gave their money back),
//!   dated by payment, per currency, in the currency's minor unit.

mod chart;
mod export;
mod series;
mod summary;

pub use chart::Chart;
pub use export::Export;
pub use series::{Point, Series};
pub use summary::{Figures, Kpis, Money, MonthReport, ResellerLine};

use crate::domain::ParseError;
use crate::{CoreError, Result};
use chrono::{DateTime, Datelike, TimeZone, Utc};
use std::fmt;

/// A calendar month in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// Parses `YYYY-MM`, as typed after `/report` or `/export`.
    pub fn parse(text: &str) -> Result<Month> {
        let bad = || {
            CoreError::Invalid(ParseError(format!(
                "“{text}” is not a month: write it as YYYY-MM, e.g. 2026-03."
            )))
        };
        let (y, m) = text.trim().split_once('-').ok_or_else(bad)?;
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        if !(2000..=9999).contains(&year) || !(1..=12).contains(&month) || y.len() != 4 {
            return Err(bad());
        }
        Ok(Month { year, month })
    }

    /// The month `at` falls in.
    pub fn of(at: DateTime<Utc>) -> Month {
        Month {
            year: at.year(),
            month: at.month(),
        }
    }

    /// The current month.
    pub fn current() -> Month {
        Month::of(Utc::now())
    }

    pub fn previous(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// The first second of the month, in Unix seconds.
    pub fn start(self) -> i64 {
        Utc.with_ymd_and_hms(self.year, self.month, 1, 0, 0, 0)
            .single()
            .map_or(0, |t| t.timestamp())
    }

    /// The first second after the month.
    pub fn end(self) -> i64 {
        self.next().start()
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Whose business a report covers: one reseller's, or everyone's (admins).
#[derive(Debug, Clone, Copy)]
enum Scope {
    Reseller(i64),
    All,
}

impl Scope {
    /// A condition on `column` and the value to bind for it: every row for [`Scope::All`].
    fn filter(self, column: &str, n: usize) -> (String, i64) {
        match self {
            Scope::Reseller(id) => (format!("{column} = ${n}"), id),
            Scope::All => (format!("${n} = ${n}"), 0),
        }
    }
}

impl crate::Core {
    /// The scope `actor` may see: admins everything, a reseller their own business if they
    /// may view statistics.
    async fn report_scope(&self, actor: &crate::Actor) -> Result<Scope> {
        match actor {
            crate::Actor::Admin(_) => Ok(Scope::All),
            crate::Actor::Reseller(id) => {
                let me = crate::queries::resellers::by_id(self.db.read(), *id).await?;
                me.require(crate::domain::Permission::CanViewStatistics)?;
                Ok(Scope::Reseller(id.0))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_and_bound_in_utc() {
        let m = Month::parse("2026-03").unwrap();
        assert_eq!(m.to_string(), "2026-03");
        assert_eq!(m.start(), 1_772_323_200);
        assert_eq!(m.end() - m.start(), 31 * 86_400);
        assert_eq!(
            Month::parse("2026-01").unwrap().previous().to_string(),
            "2025-12"
        );
        for bad in ["2026-13", "2026-0", "26-03", "march", "2026-03-01", ""] {
            let err = Month::parse(bad).unwrap_err().to_string();
            assert!(err.contains("YYYY-MM"), "{bad}: {err}");
        }
    }
}
