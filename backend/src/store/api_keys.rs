//! API keys: one active key per user, kept only as a keyed hash.
use super::Db;
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
}

type Row = (String, String, String, String, i64, Option<i64>);

fn from_row((id, user_id, prefix, digest, created_at, last_used_at): Row) -> StoredKey {
    StoredKey {
        id,
        user_id,
        prefix,
        digest,
        created_at,
        last_used_at,
    }
}

const COLUMNS: &str = "id, user_id, prefix, digest, created_at, last_used_at";

impl Db {
    /// Every stored key (to fill the in-memory index at start-up).
    pub async fn api_keys(&self) -> Result<Vec<StoredKey>> {
        let rows: Vec<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM api_keys"))
            .fetch_all(self.pool())
            .await?;
        Ok(rows.into_iter().map(from_row).collect())
    }

    /// The key with this digest.
    pub async fn api_key_by_digest(&self, digest: &str) -> Result<Option<StoredKey>> {
        let row: Option<Row> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM api_keys WHERE digest = ?"))
                .bind(digest)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(from_row))
    }

    /// The user's key.
    pub async fn api_key_of(&self, user_id: &str) -> Result<Option<StoredKey>> {
        let row: Option<Row> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM api_keys WHERE user_id = ?"))
                .bind(user_id)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(from_row))
    }

    /// Stores `key` as the user's only key; returns the one it replaced.
    pub async fn replace_api_key(&self, key: &StoredKey) -> Result<Option<StoredKey>> {
        let mut tx = self.pool().begin().await?;
        let old: Option<Row> = sqlx::query_as(&format!(
            "DELETE FROM api_keys WHERE user_id = ? RETURNING {COLUMNS}"
        ))
        .bind(&key.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO api_keys (id, user_id, prefix, digest, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&key.id)
        .bind(&key.user_id)
        .bind(&key.prefix)
        .bind(&key.digest)
        .bind(key.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(old.map(from_row))
    }

    /// Deletes the user's key; returns it.
    pub async fn delete_api_key(&self, user_id: &str) -> Result<Option<StoredKey>> {
        let old: Option<Row> = sqlx::query_as(&format!(
            "DELETE FROM api_keys WHERE user_id = ? RETURNING {COLUMNS}"
        ))
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(old.map(from_row))
    }

    /// Records a use of the key.
    pub async fn touch_api_key(&self, id: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = ? WHERE id = ?")
            .bind(now)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
