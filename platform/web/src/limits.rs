//! Abuse limits: sign-in attempts per client address, in-person
//! verifications per officer. In memory, per replica (so N replicas allow N
//! times the rate): a bound on automated abuse, not an accounting system.
//! Credential lockout is the identity provider's job: Dimos never sees
//! passwords.

use dimos_kernel::Error;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use uuid::Uuid;

type WithState<K> =
    RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

pub struct Limits {
    sign_in: DefaultKeyedRateLimiter<IpAddr>,
    verify: DefaultKeyedRateLimiter<String>,
    lookup: DefaultKeyedRateLimiter<IpAddr>,
    api: WithState<Uuid>,
    api_per_minute: u32,
}

/// Where a public API client stands against its limit, for the `RateLimit`
/// headers (draft-ietf-httpapi-ratelimit-headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiQuota {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the full allowance is back.
    pub reset_secs: u64,
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
    pub fn new(sign_in_per_minute: u32, verifications_per_hour: u32, api_per_minute: u32) -> Self {
        let one = NonZeroU32::MIN;
        let api_per_minute = api_per_minute.max(1);
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
            api: RateLimiter::keyed(Quota::per_minute(
                NonZeroU32::new(api_per_minute).unwrap_or(one),
            ))
            .with_middleware::<StateInformationMiddleware>(),
            api_per_minute,
        }
    }

    /// One public API call by `client`: where it stands, or how long to
    /// wait.
    pub fn api_call(&self, client: Uuid) -> Result<ApiQuota, Error> {
        let snapshot = self.api.check_key(&client).map_err(retry_after)?;
        let remaining = snapshot.remaining_burst_capacity();
        let used = u64::from(self.api_per_minute.saturating_sub(remaining));
        Ok(ApiQuota {
            limit: self.api_per_minute,
            remaining,
            // The allowance comes back evenly over the minute.
            reset_secs: (used * 60).div_ceil(u64::from(self.api_per_minute)),
        })
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
        self.api.retain_recent();
        self.sign_in.shrink_to_fit();
        self.verify.shrink_to_fit();
        self.lookup.shrink_to_fit();
        self.api.shrink_to_fit();
    }

    /// Clients and officers with rate-limit state kept.
    pub fn tracked(&self) -> usize {
        self.sign_in.len() + self.verify.len() + self.lookup.len() + self.api.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_clients_are_forgotten() {
        // 60,000 a minute: a used cell is back within a millisecond.
        let limits = Limits::new(60_000, 1, 60);
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

    #[test]
    fn an_api_client_is_told_where_it_stands_and_then_to_wait() {
        let limits = Limits::new(1, 1, 3);
        let client = Uuid::nil();
        let first = limits.api_call(client).unwrap();
        assert_eq!((first.limit, first.remaining), (3, 2));
        assert!(first.reset_secs >= 1 && first.reset_secs <= 20, "{first:?}");
        assert_eq!(limits.api_call(client).unwrap().remaining, 1);
        let last = limits.api_call(client).unwrap();
        assert_eq!(last.remaining, 0);
        assert!(last.reset_secs <= 60 && last.reset_secs >= 40, "{last:?}");
        match limits.api_call(client) {
            Err(Error::RateLimited(secs)) => assert!((1..=20).contains(&secs)),
            other => panic!("{other:?}"),
        }
        // Another client has its own allowance.
        assert_eq!(limits.api_call(Uuid::max()).unwrap().remaining, 2);
    }
}
