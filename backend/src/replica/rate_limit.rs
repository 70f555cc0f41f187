//! Rate-limit counters shared by every replica: one GCRA cell per key in
//! Redis, tested and updated by one Lua script on Redis's clock, so a client
//! spread over several replicas meets the same limit as on one, and replicas
//! whose clocks disagree still agree on it.
//!
//! The algorithm is governor's (what one replica uses without Redis): a
//! quota of *n* a minute is a burst of *n* refilled evenly, one every
//! `60 s / n`. A cell holds its theoretical arrival time (TAT) in
//! microseconds of Redis's `TIME`; an attempt is allowed when the TAT is at
//! most `(n - 1) × interval` ahead of now, and then pushes it one interval
//! further. A key expires when its TAT passes (at most a minute), which is
//! when it would be back to a full allowance anyway.
//!
//! Keys are `<prefix>rate:<kind>:<HMAC-SHA256 of the id>`, the HMAC keyed by
//! a key derived from the session secret (which every replica shares), so
//! Redis never holds an e-mail or an address, and guessing one cannot
//! confirm it was tried. When Redis cannot be reached, counting fails with a
//! 503: a limit nobody can count is not an unlimited allowance.
use super::Redis;
use crate::error::{Error, Result};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;

/// The 503 detail when the shared counts cannot be reached.
pub const UNAVAILABLE: &str =
    "Rate limits unavailable (Redis unreachable): attempts are refused until it is back; retry";

/// KEYS: one cell each; ARGV[2i-1], ARGV[2i]: cell i's interval and
/// tolerance in microseconds. Counts one attempt on each cell in order and
/// stops at the first over its quota (the cells before it keep the
/// attempt, as with governor's limiters asked one after the other).
/// Returns `{0, 0}`, or `{i, microseconds until cell i allows one}`.
const HIT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local tolerance = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then
    tat = now
  end
  if tat - now > tolerance then
    return {i, tat - tolerance - now}
  end
  local next = tat + interval
  local ttl_ms = math.ceil((next - now) / 1000)
  redis.call('SET', key, string.format('%d', next), 'PX', string.format('%d', ttl_ms))
end
return {0, 0}
";

/// A quota of attempts a minute, as GCRA parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Microseconds between two attempts once the burst is spent.
    interval_us: u64,
    /// How far ahead of now the TAT may be for an attempt to be allowed.
    tolerance_us: u64,
}

impl Quota {
    /// `n` a minute (at least 1): a burst of `n`, one back every `60 s / n`,
    /// as governor's `Quota::per_minute`.
    pub fn per_minute(n: u32) -> Self {
        let n = u64::from(n.max(1));
        let interval_us = 60_000_000 / n;
        Self {
            interval_us,
            tolerance_us: interval_us * (n - 1),
        }
    }
}

/// One cell to count an attempt on: what is counted (`kind`, part of the
/// key in clear), whose (`id`, hashed) and the quota.
#[derive(Debug, Clone, Copy)]
pub struct Cell<'a> {
    /// What is counted, e.g. `signin-ip`.
    pub kind: &'static str,
    /// Whose attempts: an address, an e-mail, a user id.
    pub id: &'a str,
    /// The quota of `kind`.
    pub quota: Quota,
}

/// The counters in Redis.
pub struct SharedCounters {
    redis: Arc<Redis>,
    script: redis::Script,
    mac: Hmac<Sha256>,
}

impl SharedCounters {
    /// Counters in `redis`, keyed by a key derived from `session_secret`.
    pub fn new(redis: Arc<Redis>, session_secret: &[u8]) -> anyhow::Result<Self> {
        let mut derive = Hmac::<Sha256>::new_from_slice(session_secret)
            .map_err(|e| anyhow::anyhow!("deriving the rate-limit key: {e}"))?;
        derive.update(b"tessera rate-limit keys v1");
        let mac = Hmac::<Sha256>::new_from_slice(&derive.finalize().into_bytes())
            .map_err(|e| anyhow::anyhow!("deriving the rate-limit key: {e}"))?;
        Ok(Self {
            redis,
            script: redis::Script::new(HIT),
            mac,
        })
    }

    /// The key of `cell`: the prefix, `rate:`, the kind and the id's HMAC.
    fn key(&self, cell: &Cell<'_>) -> String {
        let mut mac = self.mac.clone();
        mac.update(cell.id.as_bytes());
        let hex: String = mac.finalize().into_bytes()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.redis.key(&format!("rate:{}:{hex}", cell.kind))
    }

    /// Counts one attempt on each cell, in order, in one round trip; stops
    /// at the first over its quota and returns how long until it allows
    /// one. 503 ([`UNAVAILABLE`]) when Redis does not answer.
    pub async fn hit(&self, cells: &[Cell<'_>]) -> Result<Option<Duration>> {
        let mut invocation = self.script.prepare_invoke();
        for cell in cells {
            invocation
                .key(self.key(cell))
                .arg(cell.quota.interval_us)
                .arg(cell.quota.tolerance_us);
        }
        let (refused, wait_us): (usize, u64) = invocation
            .invoke_async(&mut self.redis.conn())
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "counting an attempt in Redis failed: refused");
                Error::Unavailable(UNAVAILABLE)
            })?;
        Ok((refused > 0).then(|| Duration::from_micros(wait_us)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_are_governors() {
        // governor: replenish every 60 s / n, burst n (tolerance (n-1) intervals)
        assert_eq!(
            Quota::per_minute(10),
            Quota {
                interval_us: 6_000_000,
                tolerance_us: 54_000_000
            }
        );
        assert_eq!(
            Quota::per_minute(1),
            Quota {
                interval_us: 60_000_000,
                tolerance_us: 0
            }
        );
        assert_eq!(Quota::per_minute(0), Quota::per_minute(1));
        let q = Quota::per_minute(7);
        assert_eq!(q.interval_us, 8_571_428);
        assert!(q.tolerance_us + q.interval_us <= 60_000_000, "{q:?}");
    }
}

/// Against a real Redis: two handles stand for two replicas.
#[cfg(test)]
mod redis_tests {
    use super::*;
    use crate::replica::test_redis::TestRedis;

    const SECRET: &[u8] = b"a session secret every replica shares";

    async fn counters(server: &TestRedis) -> SharedCounters {
        SharedCounters::new(server.replica().await.redis().unwrap().clone(), SECRET).unwrap()
    }

    fn cell<'a>(kind: &'static str, id: &'a str, n: u32) -> Cell<'a> {
        Cell {
            kind,
            id,
            quota: Quota::per_minute(n),
        }
    }

    #[tokio::test]
    async fn two_replicas_share_one_quota_and_say_how_long_to_wait() {
        let server = TestRedis::start();
        let (a, b) = (counters(&server).await, counters(&server).await);
        let ann = [cell("account", "ann@example.com", 10)];
        for i in 0..10 {
            let on = if i % 2 == 0 { &a } else { &b };
            assert_eq!(on.hit(&ann).await.unwrap(), None, "attempt {}", i + 1);
        }
        for on in [&a, &b] {
            let wait = on.hit(&ann).await.unwrap().expect("the 11th is refused");
            // one back every 6 s; a few ms have passed since the first
            assert!(
                wait <= Duration::from_secs(6) && wait > Duration::from_millis(5_500),
                "{wait:?}"
            );
        }
        // another account has its own quota
        assert_eq!(
            b.hit(&[cell("account", "bob@example.com", 10)])
                .await
                .unwrap(),
            None
        );
        // and so has another kind with the same id
        assert_eq!(
            a.hit(&[cell("mint-account", "ann@example.com", 10)])
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn cells_are_counted_in_order_up_to_the_first_refusal() {
        let server = TestRedis::start();
        let c = counters(&server).await;
        let ip = cell("ip", "192.0.2.7", 3);
        // the account's quota is spent first: the address keeps counting
        // the attempts it let through to the account, as governor does
        assert_eq!(c.hit(&[ip, cell("account", "a", 1)]).await.unwrap(), None);
        assert!(c
            .hit(&[ip, cell("account", "a", 1)])
            .await
            .unwrap()
            .is_some());
        assert_eq!(c.hit(&[ip, cell("account", "b", 1)]).await.unwrap(), None);
        // three counted on the address: refused before the account is asked
        let wait = c.hit(&[ip, cell("account", "c", 1)]).await.unwrap();
        assert!(
            wait.is_some_and(|w| w > Duration::from_secs(19)),
            "{wait:?}"
        );
        assert_eq!(
            c.hit(&[cell("account", "c", 1)]).await.unwrap(),
            None,
            "c's quota was not touched"
        );
    }

    /// Attempts allowed until the first refusal, and how long that took
    /// in intervals of 100 ms (what may have come back meanwhile).
    async fn drain(
        c: &SharedCounters,
        cells: &[Cell<'_>],
        since: std::time::Instant,
    ) -> (u128, u128) {
        let mut allowed = 0;
        while c.hit(cells).await.unwrap().is_none() {
            allowed += 1;
            assert!(allowed < 1_000, "never refused");
        }
        (allowed, since.elapsed().as_millis() / 100)
    }

    #[tokio::test]
    async fn the_quota_refills_evenly() {
        let server = TestRedis::start();
        let c = counters(&server).await;
        // 600 a minute: a burst of 600, then one back every 100 ms
        let fast = [cell("ip", "198.51.100.1", 600)];
        let start = std::time::Instant::now();
        let (allowed, refilled) = drain(&c, &fast, start).await;
        assert!((600..=600 + refilled).contains(&allowed), "{allowed}");
        let refused_at = std::time::Instant::now();
        tokio::time::sleep(Duration::from_millis(150)).await;
        let (allowed, refilled) = drain(&c, &fast, refused_at).await;
        assert!(
            (1..=refilled + 1).contains(&allowed),
            "{allowed} after {refilled}"
        );
    }

    #[tokio::test]
    async fn keys_hide_the_id_are_prefixed_and_expire() {
        let server = TestRedis::start();
        let c = counters(&server).await;
        c.hit(&[cell("signin-account", "ann@example.com", 10)])
            .await
            .unwrap();
        c.hit(&[cell("signin-ip", "203.0.113.9", 1)]).await.unwrap();
        let mut conn = c.redis.conn();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("*")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(keys.len(), 2, "{keys:?}");
        for k in &keys {
            assert!(k.starts_with("tessera:rate:signin-"), "{k}");
            assert!(!k.contains("ann") && !k.contains("203.0"), "{k}");
            let ttl: i64 = redis::cmd("PTTL")
                .arg(k)
                .query_async(&mut conn)
                .await
                .unwrap();
            assert!((1..=60_000).contains(&ttl), "{k}: {ttl}");
        }
        // another secret, another key: the HMAC is keyed
        let other = SharedCounters::new(c.redis.clone(), b"another secret").unwrap();
        let id = cell("signin-account", "ann@example.com", 10);
        assert_ne!(c.key(&id), other.key(&id));
        assert_eq!(c.key(&id), counters(&server).await.key(&id));
    }

    #[tokio::test]
    async fn without_redis_every_attempt_is_refused_with_503() {
        let server = TestRedis::start();
        let c = counters(&server).await;
        let ann = [cell("account", "ann@example.com", 10)];
        assert_eq!(c.hit(&ann).await.unwrap(), None);
        drop(server);
        for _ in 0..2 {
            match c.hit(&ann).await {
                Err(Error::Unavailable(detail)) => assert_eq!(detail, UNAVAILABLE),
                other => panic!("{other:?}"),
            }
        }
    }
}
