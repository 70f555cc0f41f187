//! Revocations shared by replicas: in the database first (durable, and what a
//! replica reloads when it catches up), then a Redis key per token id
//! (`<prefix>revoked:<jti>`) that expires with the token, written together
//! with the announcement in one script (`SET NX` decides single use across
//! replicas). When Redis fails after the database write, the announcement is
//! kept and published once Redis answers ([`super::Redis::defer`]).
//!
//! A key per token rather than one set: Redis forgets each revocation when
//! its token expires, with no purge job and no unbounded set.
use super::Redis;
use crate::domain::Event;
use crate::error::Result;
use crate::store::revocations::RevocationStore;
use std::sync::Arc;

/// `SET NX` (with `EXAT` when the token expires) and, when it was new,
/// `PUBLISH`, atomically. KEYS[1] the key; ARGV: value, exat or "", channel,
/// event.
const REVOKE: &str = r"
local set
if ARGV[2] == '' then
  set = redis.call('SET', KEYS[1], ARGV[1], 'NX')
else
  set = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EXAT', ARGV[2])
end
if set then
  redis.call('PUBLISH', ARGV[3], ARGV[4])
  return 1
end
return 0
";

/// Never-expiring revocations are stored with this value.
const FOREVER: &str = "-";

/// The database's revocations plus Redis.
pub struct SharedRevocations {
    db: Arc<dyn RevocationStore>,
    redis: Arc<Redis>,
    script: redis::Script,
}

impl SharedRevocations {
    /// Revocations in `db` and in `redis`.
    pub fn new(db: Arc<dyn RevocationStore>, redis: Arc<Redis>) -> Self {
        Self {
            db,
            redis,
            script: redis::Script::new(REVOKE),
        }
    }

    fn key(&self, jti: &str) -> String {
        self.redis.key(&format!("revoked:{jti}"))
    }

    async fn load_redis(&self) -> anyhow::Result<Vec<(String, Option<i64>)>> {
        let mut conn = self.redis.conn();
        let pattern = self.key("*");
        let strip = self.key("");
        let mut cursor: u64 = 0;
        let mut out = Vec::new();
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await?;
            if !keys.is_empty() {
                let values: Vec<Option<String>> =
                    redis::cmd("MGET").arg(&keys).query_async(&mut conn).await?;
                for (key, value) in keys.into_iter().zip(values) {
                    // gone since the SCAN: expired
                    let Some(value) = value else { continue };
                    let Some(jti) = key.strip_prefix(&strip) else {
                        continue;
                    };
                    let exp = match value.as_str() {
                        FOREVER => None,
                        v => Some(v.parse::<i64>()?),
                    };
                    out.push((jti.to_owned(), exp));
                }
            }
            if next == 0 {
                return Ok(out);
            }
            cursor = next;
        }
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[async_trait::async_trait]
impl RevocationStore for SharedRevocations {
    async fn load(&self, now: i64) -> Result<Vec<(String, Option<i64>)>> {
        let mut all = self.db.load(now).await?;
        all.extend(
            self.load_redis()
                .await
                .map_err(|e| anyhow::anyhow!("loading revocations from Redis: {e}"))?,
        );
        Ok(all)
    }

    async fn revoke(&self, jti: &str, expires_at: Option<i64>) -> Result<()> {
        self.revoke_once(jti, expires_at).await.map(|_| ())
    }

    /// The database first (what every replica reloads when it catches up),
    /// then Redis; when Redis fails the announcement is kept and published
    /// once it answers again, and the caller gets 503.
    async fn revoke_once(&self, jti: &str, expires_at: Option<i64>) -> Result<bool> {
        self.db.revoke(jti, expires_at).await?;
        let revoked = Event::Revoked {
            jti: jti.to_owned(),
            exp: expires_at,
        };
        let event = self.redis.envelope(revoked.clone())?;
        let (value, exat) = match expires_at {
            Some(exp) => (exp.to_string(), exp.max(unix_now() + 1).to_string()),
            None => (FOREVER.to_owned(), String::new()),
        };
        let fresh: i64 = self
            .script
            .key(self.key(jti))
            .arg(value)
            .arg(exat)
            .arg(self.redis.channel())
            .arg(event)
            .invoke_async(&mut self.redis.conn())
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "storing a revocation in Redis failed; its announcement is kept and published again");
                self.redis.defer(revoked);
                crate::Error::Unavailable(super::NOT_ANNOUNCED)
            })?;
        Ok(fresh == 1)
    }

    async fn purge(&self, now: i64) -> Result<u64> {
        // Redis forgets expired revocations by itself.
        self.db.purge(now).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::test_redis::TestRedis;

    #[tokio::test]
    async fn revocations_are_shared_expire_with_the_token_and_decide_single_use() {
        let server = TestRedis::start();
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::Db::connect(&format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("t.db").display()
        ))
        .await
        .unwrap();
        let a = SharedRevocations::new(
            Arc::new(db.clone()),
            server.replica().await.redis().unwrap().clone(),
        );
        let b = SharedRevocations::new(
            Arc::new(db.clone()),
            server.replica().await.redis().unwrap().clone(),
        );
        let now = unix_now();
        assert!(a.revoke_once("j1", Some(now + 100)).await.unwrap());
        assert!(
            !b.revoke_once("j1", Some(now + 100)).await.unwrap(),
            "single use across replicas"
        );
        assert!(b.revoke_once("forever", None).await.unwrap());

        let mut conn = a.redis.conn();
        let ttl: i64 = redis::cmd("TTL")
            .arg(a.key("j1"))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!((95..=100).contains(&ttl), "expires with the token: {ttl}");
        let ttl: i64 = redis::cmd("TTL")
            .arg(a.key("forever"))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(ttl, -1, "never-expiring tokens stay revoked");

        let mut loaded = b.load_redis().await.unwrap();
        loaded.sort();
        assert_eq!(
            loaded,
            vec![("forever".into(), None), ("j1".into(), Some(now + 100))]
        );
        // the database has them too, for a Redis that comes back empty
        let _: () = redis::cmd("FLUSHALL").query_async(&mut conn).await.unwrap();
        let all = b.load(now).await.unwrap();
        assert!(all.iter().any(|(j, _)| j == "j1") && all.iter().any(|(j, _)| j == "forever"));
    }
}
