//! Sign-in attempt limits and limits of minted sessions, per client IP and
//! per account, behind one small trait: counted in this process (governor)
//! for one replica, or in Redis for several ([`SharedLimiter`]), so a
//! client spread over the replicas meets the configured count, not a
//! multiple of it. Both count a quota of *n* a minute the same way: a burst
//! of *n*, one back every `60 s / n`.
use crate::config::RateLimitConfig;
use crate::error::{Error, Result};
use crate::replica::rate_limit::{Cell, Quota as SharedQuota, SharedCounters};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// Counts attempts; refuses with 429 and a `Retry-After` past the limit.
#[async_trait::async_trait]
pub trait Limiter: Send + Sync + 'static {
    /// Counts one attempt from `ip` (when known) against `account`: the
    /// address first, then the account. 429 past either limit; 503 when
    /// the count cannot be kept.
    async fn check(&self, ip: Option<IpAddr>, account: &str) -> Result<()>;

    /// Drops state kept in this process for keys back to a full allowance.
    fn shrink(&self) {}
}

/// The two quotas of one limiter, a minute each (validated to be at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// What the per-IP and per-account counts are, in shared keys.
    kinds: (&'static str, &'static str),
    per_ip: u32,
    per_account: u32,
}

impl Limits {
    /// Sign-in (and sign-up) attempts.
    pub fn signin(config: &RateLimitConfig) -> Self {
        Self {
            kinds: ("signin-ip", "signin-account"),
            per_ip: config.per_ip_per_minute,
            per_account: config.per_account_per_minute,
        }
    }

    /// Sessions minted from another credential.
    pub fn minting(config: &RateLimitConfig) -> Self {
        Self {
            kinds: ("mint-ip", "mint-account"),
            per_ip: config.mint_per_ip_per_minute,
            per_account: config.mint_per_account_per_minute,
        }
    }
}

/// 429 for a wait of `wait`, rounded up to whole seconds (`Retry-After`).
fn refused(wait: Duration) -> Error {
    Error::RateLimited {
        retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
    }
}

/// One replica: the counts in this process (governor's GCRA).
pub struct LocalLimiter {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_account: DefaultKeyedRateLimiter<String>,
}

impl LocalLimiter {
    /// Counts in this process.
    pub fn new(limits: Limits) -> Self {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Self {
            per_ip: RateLimiter::keyed(quota(limits.per_ip)),
            per_account: RateLimiter::keyed(quota(limits.per_account)),
        }
    }
}

#[async_trait::async_trait]
impl Limiter for LocalLimiter {
    async fn check(&self, ip: Option<IpAddr>, account: &str) -> Result<()> {
        let now = DefaultClock::default().now();
        if let Some(ip) = ip {
            self.per_ip
                .check_key(&ip)
                .map_err(|n| refused(n.wait_time_from(now)))?;
        }
        self.per_account
            .check_key(&account.to_owned())
            .map_err(|n| refused(n.wait_time_from(now)))
    }

    fn shrink(&self) {
        self.per_ip.retain_recent();
        self.per_account.retain_recent();
        self.per_ip.shrink_to_fit();
        self.per_account.shrink_to_fit();
    }
}

/// Several replicas: the counts in Redis, shared by all of them; every
/// check is one round trip. Redis unreachable: 503, never an allowance.
pub struct SharedLimiter {
    counters: SharedCounters,
    kinds: (&'static str, &'static str),
    per_ip: SharedQuota,
    per_account: SharedQuota,
}

impl SharedLimiter {
    /// Counts in Redis (`counters`).
    pub fn new(limits: Limits, counters: SharedCounters) -> Self {
        Self {
            counters,
            kinds: limits.kinds,
            per_ip: SharedQuota::per_minute(limits.per_ip),
            per_account: SharedQuota::per_minute(limits.per_account),
        }
    }
}

#[async_trait::async_trait]
impl Limiter for SharedLimiter {
    async fn check(&self, ip: Option<IpAddr>, account: &str) -> Result<()> {
        let ip = ip.map(|ip| ip.to_string());
        let account = Cell {
            kind: self.kinds.1,
            id: account,
            quota: self.per_account,
        };
        let wait = match &ip {
            Some(ip) => {
                let ip = Cell {
                    kind: self.kinds.0,
                    id: ip,
                    quota: self.per_ip,
                };
                self.counters.hit(&[ip, account]).await?
            }
            None => self.counters.hit(&[account]).await?,
        };
        wait.map_or(Ok(()), |wait| Err(refused(wait)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_rounded_up_to_whole_seconds() {
        let secs = |wait| match refused(wait) {
            Error::RateLimited { retry_after_secs } => retry_after_secs,
            e => panic!("{e:?}"),
        };
        assert_eq!(secs(Duration::from_secs(6)), 6);
        assert_eq!(secs(Duration::from_millis(5_001)), 6);
        assert_eq!(secs(Duration::from_micros(1)), 1);
        assert_eq!(secs(Duration::ZERO), 0);
    }

    #[test]
    fn limits_come_from_their_settings() {
        let config = RateLimitConfig {
            per_ip_per_minute: 1,
            per_account_per_minute: 2,
            mint_per_ip_per_minute: 3,
            mint_per_account_per_minute: 4,
        };
        let (signin, mint) = (Limits::signin(&config), Limits::minting(&config));
        assert_eq!((signin.per_ip, signin.per_account), (1, 2));
        assert_eq!((mint.per_ip, mint.per_account), (3, 4));
        assert_ne!(signin.kinds, mint.kinds);
    }

    #[tokio::test]
    async fn the_local_limiter_refuses_past_the_account_limit_with_retry_after() {
        let limiter = LocalLimiter::new(Limits {
            per_ip: 100,
            per_account: 3,
            ..Limits::signin(&RateLimitConfig::default())
        });
        let ip = Some(IpAddr::from([192, 0, 2, 1]));
        for _ in 0..3 {
            limiter.check(ip, "ann@example.com").await.unwrap();
        }
        match limiter.check(ip, "ann@example.com").await {
            Err(Error::RateLimited { retry_after_secs }) => {
                assert_eq!(retry_after_secs, 20, "one back every 20 s")
            }
            other => panic!("{other:?}"),
        }
        limiter.check(ip, "bob@example.com").await.unwrap();
    }
}

/// Against a real Redis: the shared limiter answers as the local one, and
/// two of them (two replicas) share one count.
#[cfg(test)]
mod redis_tests {
    use super::*;
    use crate::replica::test_redis::TestRedis;

    const LIMITS: Limits = Limits {
        kinds: ("signin-ip", "signin-account"),
        per_ip: 6,
        per_account: 3,
    };

    async fn shared(server: &TestRedis, limits: Limits) -> SharedLimiter {
        let redis = server.replica().await.redis().unwrap().clone();
        SharedLimiter::new(
            limits,
            SharedCounters::new(redis, b"shared secret").unwrap(),
        )
    }

    /// What `limiter` answers to a sequence of attempts: Ok or the
    /// `Retry-After`.
    async fn answers(limiters: &[&dyn Limiter]) -> Vec<std::result::Result<(), u64>> {
        let ip = Some(IpAddr::from([192, 0, 2, 1]));
        let attempts = [
            "ann", "ann", "ann", "ann", "bob", "carl", "dora", "eve", "eve",
        ];
        let mut out = Vec::new();
        for (i, account) in attempts.into_iter().enumerate() {
            let limiter = limiters[i % limiters.len()];
            out.push(match limiter.check(ip, account).await {
                Ok(()) => Ok(()),
                Err(Error::RateLimited { retry_after_secs }) => Err(retry_after_secs),
                Err(e) => panic!("{e:?}"),
            });
        }
        out
    }

    #[tokio::test]
    async fn two_shared_limiters_count_as_one_local_limiter() {
        let local = LocalLimiter::new(LIMITS);
        let want = answers(&[&local]).await;
        assert_eq!(
            want,
            [
                Ok(()),
                Ok(()),
                Ok(()),
                Err(20), // ann's 4th: one back every 20 s
                Ok(()),
                Ok(()),
                Err(10), // the address's 7th: one back every 10 s
                Err(10),
                Err(10),
            ]
        );
        let server = TestRedis::start();
        let (a, b) = (shared(&server, LIMITS).await, shared(&server, LIMITS).await);
        assert_eq!(answers(&[&a, &b]).await, want);
        // the minting limits are counted apart
        let minting = shared(
            &server,
            Limits {
                kinds: ("mint-ip", "mint-account"),
                ..LIMITS
            },
        )
        .await;
        minting.check(None, "ann").await.unwrap();
    }

    #[tokio::test]
    async fn without_redis_attempts_are_refused_not_allowed() {
        let server = TestRedis::start();
        let limiter = shared(&server, LIMITS).await;
        limiter.check(None, "ann").await.unwrap();
        drop(server);
        let e = limiter.check(None, "ann").await.unwrap_err();
        assert_eq!(e.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(e.to_string().contains("Redis"), "{e}");
    }
}
