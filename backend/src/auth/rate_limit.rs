//! Sign-in attempt limits and limits of minted sessions, per client IP and
//! per account.
use crate::config::RateLimitConfig;
use crate::error::{Error, Result};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;

/// Counts attempts; refuses with 429 and a `Retry-After` past the limit.
pub struct SigninLimiter {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_account: DefaultKeyedRateLimiter<String>,
}

impl SigninLimiter {
    /// Sign-in limits from config (validated to be at least 1).
    pub fn new(config: &RateLimitConfig) -> Self {
        Self::per_minute(config.per_ip_per_minute, config.per_account_per_minute)
    }

    /// Limits of sessions minted from another credential.
    pub fn minting(config: &RateLimitConfig) -> Self {
        Self::per_minute(
            config.mint_per_ip_per_minute,
            config.mint_per_account_per_minute,
        )
    }

    fn per_minute(per_ip: u32, per_account: u32) -> Self {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Self {
            per_ip: RateLimiter::keyed(quota(per_ip)),
            per_account: RateLimiter::keyed(quota(per_account)),
        }
    }

    /// Counts one attempt from `ip` (when known) against `account`.
    pub fn check(&self, ip: Option<IpAddr>, account: &str) -> Result<()> {
        let now = DefaultClock::default().now();
        let refused = |wait: std::time::Duration| Error::RateLimited {
            retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        };
        if let Some(ip) = ip {
            self.per_ip
                .check_key(&ip)
                .map_err(|n| refused(n.wait_time_from(now)))?;
        }
        self.per_account
            .check_key(&account.to_owned())
            .map_err(|n| refused(n.wait_time_from(now)))
    }

    /// Drops state for keys that are back to a full allowance.
    pub fn shrink(&self) {
        self.per_ip.retain_recent();
        self.per_account.retain_recent();
        self.per_ip.shrink_to_fit();
        self.per_account.shrink_to_fit();
    }
}
