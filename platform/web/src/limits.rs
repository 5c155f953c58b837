//! Abuse limits: sign-in attempts per client address, in-person
//! verifications per officer. In memory, per replica (so N replicas allow N
//! times the rate): a bound on automated abuse, not an accounting system.
//! Credential lockout is the identity provider's job: Dimos never sees
//! passwords.

use dimos_kernel::Error;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;

pub struct Limits {
    sign_in: DefaultKeyedRateLimiter<IpAddr>,
    verify: DefaultKeyedRateLimiter<String>,
    lookup: DefaultKeyedRateLimiter<IpAddr>,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Limits")
    }
}

fn retry_after(not_until: governor::NotUntil<governor::clock::QuantaInstant>) -> Error {
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    Error::RateLimited(wait.as_secs().max(1))
}

impl Limits {
    pub fn new(sign_in_per_minute: u32, verifications_per_hour: u32) -> Self {
        let one = NonZeroU32::MIN;
        Limits {
            sign_in: RateLimiter::keyed(Quota::per_minute(
                NonZeroU32::new(sign_in_per_minute).unwrap_or(one),
            )),
            verify: RateLimiter::keyed(Quota::per_hour(
                NonZeroU32::new(verifications_per_hour).unwrap_or(one),
            )),
            // Public pages keyed by unguessable codes: people look up a
            // few, a guesser would need billions.
            lookup: RateLimiter::keyed(Quota::per_minute(
                NonZeroU32::new(sign_in_per_minute.saturating_mul(3)).unwrap_or(one),
            )),
        }
    }

    pub fn sign_in(&self, client: Option<IpAddr>) -> Result<(), Error> {
        let Some(ip) = client else { return Ok(()) };
        self.sign_in.check_key(&ip).map_err(retry_after)
    }

    /// Public look-ups by code (signature verification), per client address.
    pub fn lookup(&self, client: Option<IpAddr>) -> Result<(), Error> {
        let Some(ip) = client else { return Ok(()) };
        self.lookup.check_key(&ip).map_err(retry_after)
    }

    pub fn verification(&self, officer: &str) -> Result<(), Error> {
        self.verify
            .check_key(&officer.to_owned())
            .map_err(retry_after)
    }

    /// Forgets idle keys so the maps do not grow without bound (the server
    /// calls it every minute).
    pub fn prune(&self) {
        self.sign_in.retain_recent();
        self.verify.retain_recent();
        self.lookup.retain_recent();
        self.sign_in.shrink_to_fit();
        self.verify.shrink_to_fit();
        self.lookup.shrink_to_fit();
    }

    /// Clients and officers with rate-limit state kept.
    pub fn tracked(&self) -> usize {
        self.sign_in.len() + self.verify.len() + self.lookup.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_clients_are_forgotten() {
        // 60,000 a minute: a used cell is back within a millisecond.
        let limits = Limits::new(60_000, 1);
        for i in 0..=255u8 {
            let ip = IpAddr::from([10, 0, 0, i]);
            limits.sign_in(Some(ip)).unwrap();
            limits.lookup(Some(ip)).unwrap();
        }
        assert_eq!(limits.tracked(), 512);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        limits.prune();
        assert_eq!(limits.tracked(), 0, "idle clients are dropped");
        // A client still limited is kept.
        limits.verification("officer").unwrap();
        limits.prune();
        assert_eq!(limits.tracked(), 1);
    }
}
