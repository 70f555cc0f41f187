//! Users, their local passwords and groups, behind an in-memory cache so the
//! per-request lookup of a known user needs no database round trip. Every
//! write goes through [`Users`], which keeps the cache in step.
use super::Db;
use crate::error::{Error, Result};
use moka::sync::Cache;
use sqlx::Row;
use std::sync::Arc;
use tessera_shared::{Role, UserInfo};

/// A Tessera account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Stable id.
    pub id: String,
    /// E-mail address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Current role.
    pub role: Role,
    /// Avatar.
    pub profile_image_url: String,
    /// `local`, or the issuer / provider name.
    pub source: String,
    /// The subject at that issuer (`None` for local accounts).
    pub subject: Option<String>,
    /// Group names.
    pub groups: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
}

impl From<&User> for UserInfo {
    fn from(u: &User) -> Self {
        UserInfo {
            id: u.id.clone(),
            email: u.email.clone(),
            name: u.name.clone(),
            role: u.role,
            profile_image_url: u.profile_image_url.clone(),
            source: u.source.clone(),
            groups: u.groups.clone(),
            created_at: u.created_at,
        }
    }
}

/// A new local account.
pub struct NewLocalUser<'a> {
    /// Display name.
    pub name: &'a str,
    /// E-mail (already normalised by the caller).
    pub email: &'a str,
    /// argon2 PHC string.
    pub password_hash: &'a str,
    /// Role unless this is the very first account (which becomes admin).
    pub role: Role,
}

/// The user directory.
#[derive(Clone)]
pub struct Users {
    db: Db,
    cache: Cache<String, Arc<User>>,
}

const USER_COLUMNS: &str = "id, email, name, role, profile_image_url, source, subject, created_at";

impl Users {
    /// A directory over `db`, caching up to `capacity` users.
    pub fn new(db: Db, capacity: u64) -> Self {
        Self {
            db,
            cache: Cache::new(capacity),
        }
    }

    /// The user with this id, from the cache when known.
    pub async fn get(&self, id: &str) -> Result<Option<Arc<User>>> {
        if let Some(user) = self.cache.get(id) {
            return Ok(Some(user));
        }
        let Some(user) = self.fetch(id).await? else {
            return Ok(None);
        };
        let user = Arc::new(user);
        self.cache.insert(user.id.clone(), user.clone());
        Ok(Some(user))
    }

    async fn fetch(&self, id: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?;
        match row {
            Some(row) => {
                let mut user = user_from_row(&row)?;
                user.groups = self.groups_of(&user.id).await?;
                Ok(Some(user))
            }
            None => Ok(None),
        }
    }

    async fn groups_of(&self, user_id: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT g.name FROM groups g JOIN group_members m ON m.group_id = g.id WHERE m.user_id = ? ORDER BY g.name",
        )
        .bind(user_id)
        .fetch_all(self.db.pool())
        .await?)
    }

    /// Number of accounts.
    pub async fn count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(self.db.pool())
            .await?)
    }

    /// Creates a local account; the first account ever becomes `admin`
    /// (decided atomically by the insert itself). 409 when the e-mail is taken.
    pub async fn create_local(&self, new: NewLocalUser<'_>, now: i64) -> Result<Arc<User>> {
        let id = uuid::Uuid::new_v4().to_string();
        let mut tx = self.db.pool().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (id, email, name, role, source, created_at, updated_at) \
             VALUES (?, ?, ?, CASE WHEN (SELECT COUNT(*) FROM users) = 0 THEN 'admin' ELSE ? END, 'local', ?, ?)",
        )
        .bind(&id)
        .bind(new.email)
        .bind(new.name)
        .bind(new.role.as_str())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            if e.as_database_error()
                .is_some_and(|d| d.is_unique_violation())
            {
                return Err(Error::Conflict("An account with this email already exists"));
            }
            return Err(e.into());
        }
        sqlx::query("INSERT INTO passwords (user_id, hash) VALUES (?, ?)")
            .bind(&id)
            .bind(new.password_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.get(&id)
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("user vanished after insert")))
    }

    /// The local account with this e-mail and its password hash.
    pub async fn find_local_credentials(&self, email: &str) -> Result<Option<(Arc<User>, String)>> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT u.id, p.hash FROM users u JOIN passwords p ON p.user_id = u.id WHERE u.source = 'local' AND u.email = ?",
        )
        .bind(email)
        .fetch_optional(self.db.pool())
        .await?;
        let Some((id, hash)) = row else {
            return Ok(None);
        };
        Ok(self.get(&id).await?.map(|u| (u, hash)))
    }

    /// Every account, oldest first.
    pub async fn list(&self) -> Result<Vec<User>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY created_at, id"
        ))
        .fetch_all(self.db.pool())
        .await?;
        let memberships: Vec<(String, String)> = sqlx::query_as(
            "SELECT m.user_id, g.name FROM group_members m JOIN groups g ON g.id = m.group_id ORDER BY g.name",
        )
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let mut user = user_from_row(row)?;
                user.groups = memberships
                    .iter()
                    .filter(|(uid, _)| *uid == user.id)
                    .map(|(_, g)| g.clone())
                    .collect();
                Ok(user)
            })
            .collect()
    }

    /// Changes a user's role; it takes effect on the user's next request.
    pub async fn set_role(&self, id: &str, role: Role, now: i64) -> Result<Option<Arc<User>>> {
        let done = sqlx::query("UPDATE users SET role = ?, updated_at = ? WHERE id = ?")
            .bind(role.as_str())
            .bind(now)
            .bind(id)
            .execute(self.db.pool())
            .await?;
        self.cache.invalidate(id);
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.get(id).await
    }

    /// Deletes a user; their tokens stop working on the next request.
    pub async fn delete(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(id)
            .execute(self.db.pool())
            .await?;
        self.cache.invalidate(id);
        Ok(done.rows_affected() > 0)
    }

    /// Number of admins.
    pub async fn admin_count(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin'")
                .fetch_one(self.db.pool())
                .await?,
        )
    }
}

fn user_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<User> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: Role::parse(&role)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("unknown role {role:?} in database")))?,
        profile_image_url: row.try_get("profile_image_url")?,
        source: row.try_get("source")?,
        subject: row.try_get("subject")?,
        groups: Vec::new(),
        created_at: row.try_get("created_at")?,
    })
}
