//! Per-reseller rate limit on actions that change something, so a stuck phone or a script cannot
//! hammer the ledger.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use reseller_core::Actor;
use std::num::NonZeroU32;
use std::time::Duration;

pub(crate) struct ActionLimiter {
    limiter: DefaultKeyedRateLimiter<i64>,
    clock: DefaultClock,
}

impl ActionLimiter {
    pub(crate) fn new(per_minute: NonZeroU32, burst: NonZeroU32) -> ActionLimiter {
        let quota = Quota::per_minute(per_minute).allow_burst(burst);
        ActionLimiter {
            limiter: RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
        }
    }

    /// `Err(wait)` when the reseller must slow down. Admins are not limited.
    pub(crate) fn check(&self, actor: &Actor) -> Result<(), Duration> {
        match actor {
            Actor::Admin(_) => Ok(()),
            Actor::Reseller(id) => self
                .limiter
                .check_key(&id.0)
                .map_err(|not_until| not_until.wait_time_from(self.clock.now())),
        }
    }
}
