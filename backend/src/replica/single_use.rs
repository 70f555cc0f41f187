//! Short-lived one-time state of SSO sign-ins (hand-over codes, pending
//! `state`s and nonces, pending CLI sign-ins, test reports) behind one small
//! trait: in memory for one replica, in Redis for several, so a code is
//! redeemable on any replica exactly once and a nonce is single-use across
//! all of them.
//!
//! The store holds what is *still allowed*, never what was used: a `state`
//! or nonce is put when its sign-in starts and taken when it is used, a code
//! when it is issued and taken when it is redeemed. So an entry lost before
//! its time (the memory store's bound, Redis's `maxmemory` policy, a flood)
//! can only make a sign-in fail, never let a replay through.
//!
//! Ids are stored by their SHA-256, so Redis never holds a usable code.
use super::Redis;
use crate::error::{Error, Result};
use moka::sync::Cache;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The 503 detail when Redis cannot be reached for one-time state.
const UNAVAILABLE: &str = "Shared sign-in state unavailable (Redis unreachable); retry";

/// One-time state by kind and id.
#[async_trait::async_trait]
pub trait SingleUseStore: Send + Sync + 'static {
    /// Keeps `value` under `kind`/`id` for `ttl` (at most: it may be lost
    /// sooner, which only makes it unusable).
    async fn put(&self, kind: &str, id: &str, value: String, ttl: Duration) -> Result<()>;
    /// Reads the value and leaves it in place.
    async fn peek(&self, kind: &str, id: &str) -> Result<Option<String>>;
    /// Takes the value out: of concurrent calls, at most one gets it.
    async fn take(&self, kind: &str, id: &str) -> Result<Option<String>>;
}

fn hashed(kind: &str, id: &str) -> String {
    let digest = Sha256::digest(id.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{kind}:{hex}")
}

/// For one replica: a bounded in-memory cache, each entry with its own TTL.
/// When full it drops entries, which can only make sign-ins fail.
pub struct MemorySingleUse {
    cache: Cache<String, Arc<(Duration, String)>>,
}

struct PerEntry;

impl moka::Expiry<String, Arc<(Duration, String)>> for PerEntry {
    fn expire_after_create(
        &self,
        _: &String,
        v: &Arc<(Duration, String)>,
        _: Instant,
    ) -> Option<Duration> {
        Some(v.0)
    }
}

impl Default for MemorySingleUse {
    fn default() -> Self {
        Self::with_capacity(100_000)
    }
}

impl MemorySingleUse {
    /// A store of at most `capacity` entries.
    pub fn with_capacity(capacity: u64) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(capacity)
                .expire_after(PerEntry)
                .build(),
        }
    }
}

#[async_trait::async_trait]
impl SingleUseStore for MemorySingleUse {
    async fn put(&self, kind: &str, id: &str, value: String, ttl: Duration) -> Result<()> {
        self.cache.insert(hashed(kind, id), Arc::new((ttl, value)));
        Ok(())
    }

    async fn peek(&self, kind: &str, id: &str) -> Result<Option<String>> {
        Ok(self
            .cache
            .get(&hashed(kind, id))
            .map(|v| v.as_ref().1.clone()))
    }

    async fn take(&self, kind: &str, id: &str) -> Result<Option<String>> {
        Ok(self
            .cache
            .remove(&hashed(kind, id))
            .map(|v| v.as_ref().1.clone()))
    }
}

/// For several replicas: `SET EX`, `GET` and `GETDEL` in Redis.
pub struct RedisSingleUse {
    redis: Arc<Redis>,
}

impl RedisSingleUse {
    /// One-time state in `redis`.
    pub fn new(redis: Arc<Redis>) -> Self {
        Self { redis }
    }

    fn key(&self, kind: &str, id: &str) -> String {
        self.redis.key(&format!("once:{}", hashed(kind, id)))
    }
}

fn unavailable(e: redis::RedisError) -> Error {
    tracing::warn!(error = %e, "one-time sign-in state in Redis failed");
    Error::Unavailable(UNAVAILABLE)
}

#[async_trait::async_trait]
impl SingleUseStore for RedisSingleUse {
    async fn put(&self, kind: &str, id: &str, value: String, ttl: Duration) -> Result<()> {
        let _: () = redis::cmd("SET")
            .arg(self.key(kind, id))
            .arg(value)
            .arg("EX")
            .arg(ttl.as_secs().max(1))
            .query_async(&mut self.redis.conn())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn peek(&self, kind: &str, id: &str) -> Result<Option<String>> {
        redis::cmd("GET")
            .arg(self.key(kind, id))
            .query_async(&mut self.redis.conn())
            .await
            .map_err(unavailable)
    }

    async fn take(&self, kind: &str, id: &str) -> Result<Option<String>> {
        redis::cmd("GETDEL")
            .arg(self.key(kind, id))
            .query_async(&mut self.redis.conn())
            .await
            .map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_store_is_single_use() {
        let s = MemorySingleUse::default();
        let ttl = Duration::from_secs(60);
        s.put("n", "abc", "1".into(), ttl).await.unwrap();
        assert_eq!(s.take("s", "abc").await.unwrap(), None, "kinds are apart");
        assert!(s.take("n", "abc").await.unwrap().is_some());
        assert_eq!(s.take("n", "abc").await.unwrap(), None, "used once");
        assert_eq!(s.take("n", "never-put").await.unwrap(), None);
        s.put("code", "c1", "v".into(), ttl).await.unwrap();
        assert_eq!(s.peek("code", "c1").await.unwrap().as_deref(), Some("v"));
        assert_eq!(s.take("code", "c1").await.unwrap().as_deref(), Some("v"));
        assert_eq!(s.take("code", "c1").await.unwrap(), None);
        assert_eq!(s.peek("code", "c1").await.unwrap(), None);
    }

    /// A flood far beyond the bound evicts entries; what is evicted is a
    /// pending value, so it can only make a use fail: a used value never
    /// comes back.
    #[tokio::test]
    async fn a_flood_never_makes_a_used_value_usable_again() {
        let s = MemorySingleUse::with_capacity(100);
        let ttl = Duration::from_secs(60);
        s.put("s", "used", "1".into(), ttl).await.unwrap();
        s.put("s", "pending", "1".into(), ttl).await.unwrap();
        assert!(s.take("s", "used").await.unwrap().is_some());
        for round in 0..3 {
            for i in 0..5_000 {
                s.put("s", &format!("flood-{i}"), "1".into(), ttl)
                    .await
                    .unwrap();
                if round > 0 {
                    let _ = s.cache.get(&hashed("s", &format!("flood-{i}")));
                }
            }
            s.cache.run_pending_tasks();
        }
        assert!(s.cache.entry_count() <= 100, "bounded");
        assert_eq!(s.take("s", "used").await.unwrap(), None, "no replay");
        // the pending one was either kept (then usable once) or evicted
        if s.take("s", "pending").await.unwrap().is_some() {
            assert_eq!(s.take("s", "pending").await.unwrap(), None);
        }
    }
}

/// Against a real Redis: two handles stand for two replicas.
#[cfg(test)]
mod redis_tests {
    use super::*;
    use crate::replica::test_redis::TestRedis;

    #[tokio::test]
    async fn codes_and_nonces_are_single_use_across_replicas() {
        let server = TestRedis::start();
        let a = RedisSingleUse::new(server.replica().await.redis().unwrap().clone());
        let b = RedisSingleUse::new(server.replica().await.redis().unwrap().clone());
        let ttl = Duration::from_secs(60);

        a.put("code", "c1", "session".into(), ttl).await.unwrap();
        assert_eq!(
            b.peek("code", "c1").await.unwrap().as_deref(),
            Some("session"),
            "a peek leaves it"
        );
        assert_eq!(
            b.take("code", "c1").await.unwrap().as_deref(),
            Some("session")
        );
        assert_eq!(a.take("code", "c1").await.unwrap(), None, "redeemed once");
        assert_eq!(b.take("code", "c1").await.unwrap(), None);

        // many concurrent redemptions on both: exactly one wins
        let (a, b) = (Arc::new(a), Arc::new(b));
        a.put("code", "c2", "s2".into(), ttl).await.unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..20 {
            let h = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.spawn(async move { h.take("code", "c2").await.unwrap() });
        }
        let mut got = 0;
        while let Some(r) = tasks.join_next().await {
            got += usize::from(r.unwrap().is_some());
        }
        assert_eq!(got, 1);

        // a pending nonce is used once, on whichever replica; one never
        // put (or lost) is not usable at all
        a.put("n", "nonce-1", "1".into(), ttl).await.unwrap();
        assert!(b.take("n", "nonce-1").await.unwrap().is_some());
        assert_eq!(a.take("n", "nonce-1").await.unwrap(), None, "replayed on A");
        assert_eq!(b.take("n", "nonce-1").await.unwrap(), None);
        assert_eq!(a.take("n", "never-put").await.unwrap(), None);
        a.put("n", "nonce-2", "1".into(), ttl).await.unwrap();

        // what is stored is the id's hash, never the id, and it expires
        let mut conn = a.redis.conn();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("*")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(!keys.is_empty());
        assert!(keys.iter().all(|k| !k.contains("nonce-2")), "{keys:?}");
        for k in &keys {
            let ttl: i64 = redis::cmd("TTL")
                .arg(k)
                .query_async(&mut conn)
                .await
                .unwrap();
            assert!((1..=60).contains(&ttl), "{k}: {ttl}");
        }
    }
}
