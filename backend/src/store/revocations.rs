//! Where revoked token ids are kept. One small trait, so a Redis store for
//! several replicas can stand beside the database one.
use super::{on_pool, Db};
use crate::error::Result;

/// Durable storage of revoked token ids.
#[async_trait::async_trait]
pub trait RevocationStore: Send + Sync + 'static {
    /// Every revocation still in force at `now`: `(jti, expires_at)`.
    async fn load(&self, now: i64) -> Result<Vec<(String, Option<i64>)>>;
    /// Records a revocation until `expires_at` (`None`: forever).
    async fn revoke(&self, jti: &str, expires_at: Option<i64>) -> Result<()>;
    /// As [`RevocationStore::revoke`]; false when the store already held it
    /// (a store shared by replicas decides single use across them). By
    /// default the store does not tell, and the in-memory set decides.
    async fn revoke_once(&self, jti: &str, expires_at: Option<i64>) -> Result<bool> {
        self.revoke(jti, expires_at).await?;
        Ok(true)
    }
    /// Forgets revocations of tokens that have expired by `now`.
    async fn purge(&self, now: i64) -> Result<u64>;
}

#[async_trait::async_trait]
impl RevocationStore for Db {
    async fn load(&self, now: i64) -> Result<Vec<(String, Option<i64>)>> {
        Ok(on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT jti, expires_at FROM revoked_tokens WHERE expires_at IS NULL OR expires_at > $1",
            )
            .bind(now)
            .fetch_all(pool)
            .await?
        }))
    }

    async fn revoke(&self, jti: &str, expires_at: Option<i64>) -> Result<()> {
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING",
            )
            .bind(jti)
            .bind(expires_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    async fn purge(&self, now: i64) -> Result<u64> {
        Ok(on_pool!(self, pool => {
            sqlx::query("DELETE FROM revoked_tokens WHERE expires_at IS NOT NULL AND expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}
