//! The keys that sign forward auth's identity assertions, private halves
//! sealed (see `auth::assertion`).
use super::{on_pool, Db};
use crate::error::Result;

/// One stored key.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredAssertionKey {
    /// Key id (the JWT header's and JWKS's `kid`).
    pub kid: String,
    /// The sealed PKCS#8 private key.
    pub sealed_key: String,
    /// Unix seconds: published from then.
    pub created_at: i64,
    /// Unix seconds: signs from then.
    pub sign_from: i64,
}

impl std::fmt::Debug for StoredAssertionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredAssertionKey")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .field("sign_from", &self.sign_from)
            .finish_non_exhaustive()
    }
}

type Row = (String, String, i64, i64);

impl Db {
    /// Every assertion key.
    pub async fn assertion_keys(&self) -> Result<Vec<StoredAssertionKey>> {
        let sql = "SELECT kid, sealed_key, created_at, sign_from FROM assertion_keys";
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(
                |(kid, sealed_key, created_at, sign_from)| StoredAssertionKey {
                    kid,
                    sealed_key,
                    created_at,
                    sign_from,
                },
            )
            .collect())
    }

    /// Saves a new key.
    pub async fn insert_assertion_key(&self, k: &StoredAssertionKey) -> Result<()> {
        let sql = "INSERT INTO assertion_keys (kid, sealed_key, created_at, sign_from) VALUES ($1, $2, $3, $4)";
        on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(&k.kid)
                .bind(&k.sealed_key)
                .bind(k.created_at)
                .bind(k.sign_from)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Deletes the key `kid` (retired).
    pub async fn delete_assertion_key(&self, kid: &str) -> Result<()> {
        let sql = "DELETE FROM assertion_keys WHERE kid = $1";
        on_pool!(self, pool => {
            sqlx::query(sql).bind(kid).execute(pool).await?;
        });
        Ok(())
    }
}
