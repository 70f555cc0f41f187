//! API keys: one active key per user, kept only as a keyed hash.
use super::{on_pool, Backend, Db};
use crate::error::Result;

/// A stored key, without the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// Key id.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// `sk-` and the next 8 characters.
    pub prefix: String,
    /// Hex HMAC-SHA256 of the key.
    pub digest: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub last_used_at: Option<i64>,
    /// The owner's token epoch when the key was made: the key works only
    /// while the owner's epoch is still this one.
    pub user_epoch: i64,
}

type Row = (String, String, String, String, i64, Option<i64>, i64);

fn from_row((id, user_id, prefix, digest, created_at, last_used_at, user_epoch): Row) -> StoredKey {
    StoredKey {
        id,
        user_id,
        prefix,
        digest,
        created_at,
        last_used_at,
        user_epoch,
    }
}

const COLUMNS: &str = "id, user_id, prefix, digest, created_at, last_used_at, user_epoch";

impl Db {
    /// Every stored key (to fill the in-memory index at start-up).
    pub async fn api_keys(&self) -> Result<Vec<StoredKey>> {
        let sql = format!("SELECT {COLUMNS} FROM api_keys");
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await?);
        Ok(rows.into_iter().map(from_row).collect())
    }

    /// The key with this digest.
    pub async fn api_key_by_digest(&self, digest: &str) -> Result<Option<StoredKey>> {
        let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE digest = $1");
        let row: Option<Row> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(digest).fetch_optional(pool).await?
        });
        Ok(row.map(from_row))
    }

    /// The user's key.
    pub async fn api_key_of(&self, user_id: &str) -> Result<Option<StoredKey>> {
        let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE user_id = $1");
        let row: Option<Row> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(user_id).fetch_optional(pool).await?
        });
        Ok(row.map(from_row))
    }

    /// Stores `key` as the user's only key; returns the one it replaced.
    /// Concurrent replacements for one user take turns (the last wins).
    pub async fn replace_api_key(&self, key: &StoredKey) -> Result<Option<StoredKey>> {
        let delete = format!("DELETE FROM api_keys WHERE user_id = $1 RETURNING {COLUMNS}");
        let postgres = self.backend() == Backend::Postgres;
        let old: Option<Row> = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            if postgres {
                // without it, two transactions both find the old key gone and
                // the second insert breaks the one-key-per-user constraint;
                // SQLite runs one writer at a time already
                sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
                    .bind(&key.user_id)
                    .execute(&mut *tx)
                    .await?;
            }
            let old: Option<Row> = sqlx::query_as(&delete)
                .bind(&key.user_id)
                .fetch_optional(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO api_keys (id, user_id, prefix, digest, created_at, user_epoch) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&key.id)
            .bind(&key.user_id)
            .bind(&key.prefix)
            .bind(&key.digest)
            .bind(key.created_at)
            .bind(key.user_epoch)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            old
        });
        Ok(old.map(from_row))
    }

    /// Deletes the user's key; returns it.
    pub async fn delete_api_key(&self, user_id: &str) -> Result<Option<StoredKey>> {
        let delete = format!("DELETE FROM api_keys WHERE user_id = $1 RETURNING {COLUMNS}");
        let old: Option<Row> = on_pool!(self, pool => {
            sqlx::query_as(&delete).bind(user_id).fetch_optional(pool).await?
        });
        Ok(old.map(from_row))
    }

    /// Records a use of the key.
    pub async fn touch_api_key(&self, id: &str, now: i64) -> Result<()> {
        on_pool!(self, pool => {
            sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
