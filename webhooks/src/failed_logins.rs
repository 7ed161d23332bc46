//! Failed player logins per client address. A client may fail `burst` times in a row, then once
//! per `interval`; while it has no failure left, every login from it waits, the right password
//! included, so a guesser cannot keep trying and recognize the hit by its answer.
//!
//! The allowance is checked before a login and spent only by wrong credentials, so players
//! behind one address (a NAT, or the streaming server asking for every viewer), who log in all
//! day and many at once, are never slowed down by their own number. Guesses already in flight
//! when the allowance runs out are still counted when they fail: the debt they leave makes the
//! address wait that much longer, so over time a guesser gets no more than one try per
//! interval. Hand-written rather than governor's keyed limiter, which cannot look without
//! taking.
//!
//! The check is in memory, so a login from an address without failures costs no query. The
//! failures themselves are counted in the database
//! ([`Core::spend_login_failure`](reseller_core::Core::spend_login_failure)), shared by every
//! instance: this map holds what this instance's own failures returned, and the addresses any
//! instance reported exhausted on the bus. Should the database not answer, a failure is counted
//! here alone, as a single instance would.

use dashmap::DashMap;
use reseller_core::Core;
use reseller_core::bus::Event;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Below this many tracked clients the map is never swept.
const SWEEP_FLOOR: usize = 10_000;

pub(crate) struct FailedLogins {
    burst: u32,
    interval: Duration,
    /// When each client's allowance is full again (the theoretical arrival time of GCRA).
    /// A client whose time has passed is the same as one never seen, and is swept out.
    full_at: DashMap<IpAddr, Instant>,
    /// The map's size that triggers the next sweep: twice what the last sweep left, so a
    /// flood of distinct addresses costs amortized constant time per failure.
    sweep_at: AtomicUsize,
}

impl FailedLogins {
    pub(crate) fn new(burst: u32, interval: Duration) -> FailedLogins {
        FailedLogins {
            burst: burst.max(1),
            interval,
            full_at: DashMap::new(),
            sweep_at: AtomicUsize::new(SWEEP_FLOOR),
        }
    }

    /// Whether `ip` may try a login now; `Err(wait)` once its failures are used up: the client
    /// must wait that long before any login, the right one included.
    pub(crate) fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let Some(full_at) = self.full_at.get(&client(ip)).map(|t| *t) else {
            return Ok(());
        };
        let allowed = self.interval * self.burst;
        // One more failure would put the allowance this far in debt; at most `burst` is allowed.
        let debt = full_at.saturating_duration_since(Instant::now()) + self.interval;
        if debt <= allowed {
            Ok(())
        } else {
            Err(debt - allowed)
        }
    }

    /// Spends one failure of `ip`'s allowance, for every instance: its credentials were wrong.
    pub(crate) async fn failed(&self, core: &Core, ip: IpAddr) {
        let client = client(ip);
        match core.spend_login_failure(&client.to_string()).await {
            Ok(full_at_ms) => self.full_at_least(client, full_at_ms),
            Err(e) => {
                tracing::warn!(error = %e, "failed login counted by this instance only");
                self.spend_locally(client);
            }
        }
    }

    /// Takes in another instance's news that an address has no failure left.
    pub(crate) fn heard(&self, event: &Event) {
        if let Event::LoginsExhausted { client, full_at_ms } = event
            && let Ok(ip) = client.parse()
        {
            self.full_at_least(ip, *full_at_ms);
        }
    }

    /// Notes that `client`'s allowance is full no earlier than `full_at_ms` (Unix milliseconds).
    fn full_at_least(&self, client: IpAddr, full_at_ms: i64) {
        let ahead = (full_at_ms - chrono::Utc::now().timestamp_millis()).max(0);
        let at = Instant::now() + Duration::from_millis(ahead as u64);
        {
            let mut full_at = self.full_at.entry(client).or_insert(at);
            *full_at = (*full_at).max(at);
        }
        self.sweep_if_large();
    }

    /// Spends one failure in this instance's memory alone.
    fn spend_locally(&self, ip: IpAddr) {
        let now = Instant::now();
        {
            let mut full_at = self.full_at.entry(client(ip)).or_insert(now);
            *full_at = (*full_at).max(now) + self.interval;
        }
        self.sweep_if_large();
    }

    fn sweep_if_large(&self) {
        if self.full_at.len() >= self.sweep_at.load(Ordering::Relaxed) {
            self.sweep();
        }
    }

    /// Drops the clients whose allowance is full again, and frees the memory they held.
    pub(crate) fn sweep(&self) {
        let now = Instant::now();
        self.full_at.retain(|_, full_at| *full_at > now);
        self.full_at.shrink_to_fit();
        self.sweep_at
            .store((self.full_at.len() * 2).max(SWEEP_FLOOR), Ordering::Relaxed);
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.full_at.len()
    }
}

/// The unit one client is counted by: an IPv4 address, or an IPv6 /64 (one customer's network,
/// which hands its devices any address inside it).
fn client(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn after_the_burst_the_client_waits_and_others_do_not() {
        let limits = FailedLogins::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert_eq!(limits.check(ip("10.0.0.1")), Ok(()));
            limits.spend_locally(ip("10.0.0.1"));
        }
        let wait = limits.check(ip("10.0.0.1")).expect_err("no failure left");
        assert!(
            wait > Duration::from_secs(58) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        assert_eq!(limits.check(ip("10.0.0.2")), Ok(()));
        assert!(
            limits.check(ip("::ffff:10.0.0.1")).is_err(),
            "an IPv4-mapped address is the same client"
        );
    }

    #[test]
    fn logins_that_did_not_fail_cost_nothing() {
        let limits = FailedLogins::new(2, Duration::from_secs(60));
        for _ in 0..1000 {
            assert_eq!(limits.check(ip("10.0.0.1")), Ok(()));
        }
        assert_eq!(limits.tracked(), 0);
    }

    #[test]
    fn failures_in_flight_past_the_burst_add_to_the_wait() {
        let limits = FailedLogins::new(2, Duration::from_secs(60));
        // Ten guesses passed the check together, then all failed.
        for _ in 0..10 {
            limits.spend_locally(ip("10.0.0.1"));
        }
        let wait = limits.check(ip("10.0.0.1")).expect_err("in debt");
        assert!(wait > Duration::from_secs(8 * 60), "{wait:?}");
    }

    #[test]
    fn an_ipv6_network_is_one_client() {
        let limits = FailedLogins::new(1, Duration::from_secs(60));
        limits.spend_locally(ip("2001:db8:1:2::1"));
        assert!(limits.check(ip("2001:db8:1:2:ffff::9")).is_err());
        assert_eq!(limits.check(ip("2001:db8:1:3::1")), Ok(()));
    }

    #[test]
    fn the_allowance_comes_back_and_sweeping_forgets_full_clients() {
        let limits = FailedLogins::new(1, Duration::from_millis(30));
        limits.spend_locally(ip("10.0.0.1"));
        assert!(limits.check(ip("10.0.0.1")).is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(limits.check(ip("10.0.0.1")), Ok(()));
        limits.sweep();
        assert_eq!(limits.tracked(), 0);
    }

    #[test]
    fn a_flood_of_addresses_does_not_grow_without_bound() {
        let limits = FailedLogins::new(5, Duration::from_millis(1));
        for i in 0..(SWEEP_FLOOR as u32 * 3) {
            limits.spend_locally(IpAddr::V4(i.into()));
            if i % 1000 == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        assert!(limits.tracked() < SWEEP_FLOOR, "{}", limits.tracked());
    }
}
