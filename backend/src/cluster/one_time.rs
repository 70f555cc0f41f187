//! Short-lived one-time state of SSO sign-ins (hand-over codes, used
//! `state`s and nonces, pending CLI sign-ins, test reports) behind one small
//! trait: in memory for one replica, in Redis for several, so a code is
//! redeemable on any replica exactly once and a nonce is single-use across
//! all of them.
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
pub trait OneTimeStore: Send + Sync + 'static {
    /// Marks `kind`/`id` as used for `ttl`; true only the first time.
    async fn first_use(&self, kind: &str, id: &str, ttl: Duration) -> Result<bool>;
    /// Keeps `value` under `kind`/`id` for `ttl`.
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
pub struct MemoryOneTime {
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

impl Default for MemoryOneTime {
    fn default() -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(100_000)
                .expire_after(PerEntry)
                .build(),
        }
    }
}

#[async_trait::async_trait]
impl OneTimeStore for MemoryOneTime {
    async fn first_use(&self, kind: &str, id: &str, ttl: Duration) -> Result<bool> {
        Ok(self
            .cache
            .entry(hashed(kind, id))
            .or_insert_with(|| Arc::new((ttl, String::new())))
            .is_fresh())
    }

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

/// For several replicas: `SET NX EX`, `SET EX`, `GET` and `GETDEL` in Redis.
pub struct RedisOneTime {
    redis: Arc<Redis>,
}

impl RedisOneTime {
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
impl OneTimeStore for RedisOneTime {
    async fn first_use(&self, kind: &str, id: &str, ttl: Duration) -> Result<bool> {
        let set: Option<String> = redis::cmd("SET")
            .arg(self.key(kind, id))
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(ttl.as_secs().max(1))
            .query_async(&mut self.redis.conn())
            .await
            .map_err(unavailable)?;
        Ok(set.is_some())
    }

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
        let s = MemoryOneTime::default();
        let ttl = Duration::from_secs(60);
        assert!(s.first_use("n", "abc", ttl).await.unwrap());
        assert!(!s.first_use("n", "abc", ttl).await.unwrap());
        assert!(
            s.first_use("s", "abc", ttl).await.unwrap(),
            "kinds are apart"
        );
        s.put("code", "c1", "v".into(), ttl).await.unwrap();
        assert_eq!(s.peek("code", "c1").await.unwrap().as_deref(), Some("v"));
        assert_eq!(s.take("code", "c1").await.unwrap().as_deref(), Some("v"));
        assert_eq!(s.take("code", "c1").await.unwrap(), None);
        assert_eq!(s.peek("code", "c1").await.unwrap(), None);
    }
}

/// Against a real Redis: two handles stand for two replicas.
#[cfg(test)]
mod redis_tests {
    use super::*;
    use crate::cluster::test_redis::TestRedis;

    #[tokio::test]
    async fn codes_and_nonces_are_single_use_across_replicas() {
        let server = TestRedis::start();
        let a = RedisOneTime::new(server.cluster().await.redis().unwrap().clone());
        let b = RedisOneTime::new(server.cluster().await.redis().unwrap().clone());
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

        assert!(a.first_use("n", "nonce-1", ttl).await.unwrap());
        assert!(
            !b.first_use("n", "nonce-1", ttl).await.unwrap(),
            "replayed on B"
        );
        assert!(!a.first_use("n", "nonce-1", ttl).await.unwrap());

        // what is stored is the id's hash, never the id, and it expires
        let mut conn = a.redis.conn();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("*")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(keys.iter().all(|k| !k.contains("nonce-1")), "{keys:?}");
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
