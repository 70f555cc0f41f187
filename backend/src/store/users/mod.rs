//! Users, their local passwords and groups, behind an in-memory cache so the
//! per-request lookup of a known user needs no database round trip. Every
//! write goes through [`Users`], which keeps the cache in step.
use super::{on_pool, Backend, Db};
use crate::domain::{external_id, new_epoch, Announce, Event, ExternalUser, User};
use crate::error::{Error, Result};
use moka::sync::Cache;
use std::sync::Arc;
use tessera_shared::Role;

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
    /// Fingerprint of the last external sign-in data written for a user id:
    /// an unchanged token needs no database write.
    synced: Cache<String, u64>,
    /// Tells other replicas (`[redis]`) which users changed.
    announcer: Arc<dyn Announce>,
    /// Moves on with every change to any user (here or announced by another
    /// replica): a read that began before a change is not cached after it,
    /// and accounts remembered by verified credentials
    /// ([`crate::auth::remembered`]) are looked up again.
    generation: Arc<std::sync::atomic::AtomicU64>,
}

const USER_COLUMNS: &str =
    "id, email, name, role, profile_image_url, source, subject, created_at, epoch, signed_out_at";

/// A row of [`USER_COLUMNS`].
type UserRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    i64,
    Option<i64>,
);

/// The statements that replace a user's group memberships: delete all, then
/// for each group optionally create it and add the membership.
const DELETE_MEMBERSHIPS: &str = "DELETE FROM group_members WHERE user_id = $1";

const CREATE_GROUP: &str =
    "INSERT INTO groups (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING";
const ADD_MEMBERSHIP: &str = "INSERT INTO group_members (group_id, user_id) \
     SELECT id, $1 FROM groups WHERE name = $2 ON CONFLICT DO NOTHING";

/// Inside a transaction `$tx`: makes `$groups` the user's groups (creating
/// missing ones when `$create`), whichever driver the transaction is on.
macro_rules! replace_memberships {
    ($tx:ident, $id:expr, $groups:expr, $create:expr, $now:expr) => {
        sqlx::query(DELETE_MEMBERSHIPS)
            .bind($id)
            .execute(&mut *$tx)
            .await?;
        for group in $groups {
            if $create {
                sqlx::query(CREATE_GROUP)
                    .bind(uuid::Uuid::new_v4().to_string())
                    .bind(group)
                    .bind($now)
                    .execute(&mut *$tx)
                    .await?;
            }
            sqlx::query(ADD_MEMBERSHIP)
                .bind($id)
                .bind(group)
                .execute(&mut *$tx)
                .await?;
        }
    };
}

impl Users {
    /// A directory over `db`, caching up to `capacity` users.
    pub fn new(db: Db, capacity: u64) -> Self {
        Self {
            db,
            cache: Cache::new(capacity),
            synced: Cache::new(capacity),
            announcer: Arc::new(crate::domain::NoOne),
            generation: Default::default(),
        }
    }

    /// Announces every change to the other replicas through `announcer`.
    pub fn announcing(mut self, announcer: Arc<dyn Announce>) -> Self {
        self.announcer = announcer;
        self
    }

    /// Drops a user from the caches (another replica changed them).
    pub fn forget(&self, id: &str) {
        self.uncache(id);
        self.synced.invalidate(id);
    }

    /// Drops every cached user.
    pub fn forget_all(&self) {
        self.uncache_all();
        self.synced.invalidate_all();
    }

    /// Drops a user from the cache after a change, and moves the generation
    /// on (after the drop: whoever sees the new generation finds no stale
    /// copy in the cache).
    fn uncache(&self, id: &str) {
        self.cache.invalidate(id);
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// [`Users::uncache`] for every user.
    fn uncache_all(&self) {
        self.cache.invalidate_all();
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// The current generation (see the field).
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    async fn announce(&self, event: Event) -> Result<()> {
        self.announcer.announce(&event).await
    }

    fn changed(id: &str) -> Event {
        Event::User { id: id.to_owned() }
    }

    /// The user with this id, from the cache when known.
    pub async fn get(&self, id: &str) -> Result<Option<Arc<User>>> {
        if let Some(user) = self.cache.get(id) {
            return Ok(Some(user));
        }
        let generation = self.generation();
        let Some(user) = self.fetch(id).await? else {
            return Ok(None);
        };
        let user = Arc::new(user);
        self.cache.insert(user.id.clone(), user.clone());
        if self.generation() != generation {
            // read before a change: answer with it, do not keep it
            self.cache.invalidate(id);
        }
        Ok(Some(user))
    }

    async fn fetch(&self, id: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row: Option<UserRow> = on_pool!(self.db, pool => {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?
        });
        match row {
            Some(row) => {
                let mut user = user_from_row(row)?;
                user.groups = self.groups_of(&user.id).await?;
                user.permissions = self.permissions_of(&user.id).await?;
                Ok(Some(user))
            }
            None => Ok(None),
        }
    }

    async fn permissions_of(&self, user_id: &str) -> Result<Vec<String>> {
        Ok(on_pool!(self.db, pool => sqlx::query_scalar(
            "SELECT DISTINCT permission FROM permissions WHERE (subject_kind = 'user' AND subject_id = $1) \
             OR (subject_kind = 'group' AND subject_id IN (SELECT group_id FROM group_members WHERE user_id = $1)) \
             ORDER BY permission",
        )
        .bind(user_id)
        .fetch_all(pool)
        .await?))
    }

    /// Grants or withdraws `permission` for a user (`kind` = `user`) or a group's
    /// members (`group`); applies on the next request. False when there is no such subject.
    pub async fn set_permission(
        &self,
        kind: &str,
        id: &str,
        permission: &str,
        granted: bool,
    ) -> Result<bool> {
        let table = if kind == "group" { "groups" } else { "users" };
        let exists_sql = format!("SELECT id FROM {table} WHERE id = $1");
        let exists: Option<String> = on_pool!(self.db, pool => {
            sqlx::query_scalar(&exists_sql).bind(id).fetch_optional(pool).await?
        });
        if exists.is_none() {
            return Ok(false);
        }
        let query = if granted {
            "INSERT INTO permissions (subject_kind, subject_id, permission) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM permissions WHERE subject_kind = $1 AND subject_id = $2 AND permission = $3"
        };
        on_pool!(self.db, pool => {
            sqlx::query(query)
                .bind(kind)
                .bind(id)
                .bind(permission)
                .execute(pool)
                .await?;
        });
        if kind == "group" {
            self.uncache_all();
            self.announce(Event::AllUsers).await?;
        } else {
            self.uncache(id);
            self.announce(Self::changed(id)).await?;
        }
        Ok(true)
    }

    async fn groups_of(&self, user_id: &str) -> Result<Vec<String>> {
        Ok(on_pool!(self.db, pool => sqlx::query_scalar(
            "SELECT g.name FROM groups g JOIN group_members m ON m.group_id = g.id WHERE m.user_id = $1 ORDER BY g.name",
        )
        .bind(user_id)
        .fetch_all(pool)
        .await?))
    }

    /// Number of accounts.
    pub async fn count(&self) -> Result<i64> {
        Ok(
            on_pool!(self.db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(pool)
            .await?),
        )
    }

    /// Creates a local account; the first account ever becomes `admin`
    /// (decided atomically by the insert itself). 409 when the e-mail is taken.
    pub async fn create_local(&self, new: NewLocalUser<'_>, now: i64) -> Result<Arc<User>> {
        let id = uuid::Uuid::new_v4().to_string();
        let postgres = self.db.backend() == Backend::Postgres;
        on_pool!(self.db, pool => {
            let mut tx = pool.begin().await?;
            if postgres {
                // SQLite runs one writer at a time; on PostgreSQL two replicas'
                // concurrent first sign-ups would both count no account
                sqlx::query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await?;
            }
            let inserted = sqlx::query(
                "INSERT INTO users (id, email, name, role, source, created_at, updated_at, epoch) \
                 VALUES ($1, $2, $3, CASE WHEN (SELECT COUNT(*) FROM users) = 0 THEN 'admin' ELSE $4 END, 'local', $5, $6, $7)",
            )
            .bind(&id)
            .bind(new.email)
            .bind(new.name)
            .bind(new.role.as_str())
            .bind(now)
            .bind(now)
            .bind(new_epoch())
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
            sqlx::query("INSERT INTO passwords (user_id, hash) VALUES ($1, $2)")
                .bind(&id)
                .bind(new.password_hash)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        self.get(&id)
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("user vanished after insert")))
    }

    /// The local account with this e-mail and its password hash.
    pub async fn find_local_credentials(&self, email: &str) -> Result<Option<(Arc<User>, String)>> {
        let row: Option<(String, String)> = on_pool!(self.db, pool => sqlx::query_as(
            "SELECT u.id, p.hash FROM users u JOIN passwords p ON p.user_id = u.id WHERE u.source = 'local' AND u.email = $1",
        )
        .bind(email)
        .fetch_optional(pool)
        .await?);
        let Some((id, hash)) = row else {
            return Ok(None);
        };
        Ok(self.get(&id).await?.map(|u| (u, hash)))
    }

    /// The id of the bootstrap admin: the local account with `admin_email`
    /// (already normalised) or, when that is unset, the first account ever
    /// created (insertion order breaks ties of `created_at`); `None` unless
    /// that account is local and still an admin.
    pub async fn bootstrap_admin_id(&self, admin_email: Option<&str>) -> Result<Option<String>> {
        // `rowid`: SQLite's implicit one, an identity column in PostgreSQL
        let query = match admin_email {
            Some(_) => {
                "SELECT id FROM users WHERE source = 'local' AND role = 'admin' AND email = $1"
            }
            None => {
                "SELECT id FROM (SELECT id, source, role FROM users ORDER BY created_at, rowid LIMIT 1) AS first \
                 WHERE source = 'local' AND role = 'admin'"
            }
        };
        Ok(on_pool!(self.db, pool => {
            let mut q = sqlx::query_scalar(query);
            if let Some(email) = admin_email {
                q = q.bind(email);
            }
            q.fetch_optional(pool).await?
        }))
    }

    /// Every account, oldest first.
    pub async fn list(&self) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY created_at, id");
        let (rows, memberships, grants) = on_pool!(self.db, pool => {
            let rows: Vec<UserRow> = sqlx::query_as(&sql).fetch_all(pool).await?;
            let memberships: Vec<(String, String)> = sqlx::query_as(
                "SELECT m.user_id, g.name FROM group_members m JOIN groups g ON g.id = m.group_id ORDER BY g.name",
            )
            .fetch_all(pool)
            .await?;
            let grants: Vec<(String, String)> = sqlx::query_as(
                "SELECT subject_id, permission FROM permissions WHERE subject_kind = 'user' \
                 UNION SELECT m.user_id, p.permission FROM permissions p JOIN group_members m \
                 ON p.subject_kind = 'group' AND p.subject_id = m.group_id",
            )
            .fetch_all(pool)
            .await?;
            (rows, memberships, grants)
        });
        let mut groups = by_owner(memberships);
        let mut permissions = by_owner(grants);
        rows.into_iter()
            .map(|row| {
                let mut user = user_from_row(row)?;
                user.groups = groups.remove(&user.id).unwrap_or_default();
                let mut granted = permissions.remove(&user.id).unwrap_or_default();
                granted.sort();
                granted.dedup();
                user.permissions = granted;
                Ok(user)
            })
            .collect()
    }

    /// Changes a user's role; it takes effect on the user's next request.
    pub async fn set_role(&self, id: &str, role: Role, now: i64) -> Result<Option<Arc<User>>> {
        let done = on_pool!(self.db, pool => {
            sqlx::query("UPDATE users SET role = $1, updated_at = $2 WHERE id = $3")
                .bind(role.as_str())
                .bind(now)
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        self.uncache(id);
        self.synced.invalidate(id);
        if done == 0 {
            return Ok(None);
        }
        self.announce(Self::changed(id)).await?;
        self.get(id).await
    }

    /// Sets a local account's password hash and ends its sessions (a new
    /// token epoch; its API key stays). `None` when there is no local
    /// account with this id (accounts of a provider have no password here).
    pub async fn reset_password(
        &self,
        id: &str,
        hash: &str,
        now: i64,
    ) -> Result<Option<Arc<User>>> {
        let done = on_pool!(self.db, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query("UPDATE passwords SET hash = $1 WHERE user_id = $2")
                .bind(hash)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if done > 0 {
                sqlx::query("UPDATE users SET epoch = $1, updated_at = $2 WHERE id = $3")
                    .bind(new_epoch())
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            done
        });
        self.uncache(id);
        self.synced.invalidate(id);
        if done == 0 {
            return Ok(None);
        }
        self.announce(Self::changed(id)).await?;
        self.get(id).await
    }

    /// Deletes a user with their grants (their API key, password, group
    /// memberships and SSO links go by the schema's cascades); every
    /// credential of theirs stops working on the next request, and stays dead
    /// if the same identity comes back (a new row has a new epoch).
    pub async fn delete(&self, id: &str) -> Result<bool> {
        let done = on_pool!(self.db, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM permissions WHERE subject_kind = 'user' AND subject_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let done = sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            done
        });
        self.uncache(id);
        self.synced.invalidate(id);
        if done > 0 {
            self.announce(Event::UserDeleted { id: id.to_owned() })
                .await?;
        }
        Ok(done > 0)
    }

    /// Ends every credential of a user: a new token epoch (their session
    /// tokens die), their API key deleted, and identity-provider tokens
    /// issued until `now` refused. `None` when there is no such user.
    pub async fn sign_out_everywhere(&self, id: &str, now: i64) -> Result<Option<Arc<User>>> {
        let done = on_pool!(self.db, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE users SET epoch = $1, signed_out_at = $2, updated_at = $2 WHERE id = $3",
            )
            .bind(new_epoch())
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query("DELETE FROM api_keys WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            done
        });
        self.uncache(id);
        self.synced.invalidate(id);
        if done == 0 {
            return Ok(None);
        }
        self.announce(Event::SignedOutEverywhere { id: id.to_owned() })
            .await?;
        self.get(id).await
    }

    /// Ends a user's sessions and refuses their identity-provider tokens
    /// issued before `now` (an identity provider signed them out); their API
    /// key stays. `None` when there is no such user.
    pub async fn end_sessions(&self, id: &str, now: i64) -> Result<Option<Arc<User>>> {
        let done = on_pool!(self.db, pool => {
            sqlx::query("UPDATE users SET signed_out_at = $1, updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        self.uncache(id);
        self.synced.invalidate(id);
        if done == 0 {
            return Ok(None);
        }
        self.announce(Event::User { id: id.to_owned() }).await?;
        self.get(id).await
    }

    /// Creates or refreshes an external account and syncs its groups. A
    /// repeat of the same data is answered from memory, with no database round trip.
    pub async fn upsert_external(&self, ext: &ExternalUser<'_>, now: i64) -> Result<Arc<User>> {
        use std::hash::{Hash, Hasher};
        let id = external_id(ext.source, ext.subject);
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (
            ext.email,
            ext.name,
            ext.role.as_str(),
            ext.groups,
            ext.create_groups,
        )
            .hash(&mut h);
        let fingerprint = h.finish();
        if self.synced.get(&id) == Some(fingerprint) {
            if let Some(user) = self.cache.get(&id) {
                return Ok(user);
            }
        }
        on_pool!(self.db, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO users (id, email, name, role, source, subject, created_at, updated_at, epoch) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (id) DO UPDATE SET email = excluded.email, name = excluded.name, \
                 role = excluded.role, updated_at = excluded.updated_at",
            )
            .bind(&id)
            .bind(ext.email)
            .bind(ext.name)
            .bind(ext.role.as_str())
            .bind(ext.source)
            .bind(ext.subject)
            .bind(now)
            .bind(now)
            .bind(new_epoch())
            .execute(&mut *tx)
            .await?;
            replace_memberships!(tx, id.as_str(), ext.groups, ext.create_groups, now);
            tx.commit().await?;
        });
        self.uncache(&id);
        self.announce(Self::changed(&id)).await?;
        let user = self
            .get(&id)
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("user vanished after upsert")))?;
        self.synced.insert(id, fingerprint);
        Ok(user)
    }

    /// Refreshes role, groups and (when given) avatar of an existing account
    /// that an SSO identity is linked to (a merged local account). `None`
    /// when the account no longer exists.
    pub async fn sync_linked(
        &self,
        id: &str,
        role: Role,
        groups: &[String],
        create_groups: bool,
        now: i64,
    ) -> Result<Option<Arc<User>>> {
        on_pool!(self.db, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query("UPDATE users SET role = $1, updated_at = $2 WHERE id = $3")
                .bind(role.as_str())
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Ok(None);
            }
            replace_memberships!(tx, id, groups, create_groups, now);
            tx.commit().await?;
        });
        self.uncache(id);
        self.synced.invalidate(id);
        self.announce(Self::changed(id)).await?;
        self.get(id).await
    }

    /// Sets the avatar URL of an account (from an SSO provider's picture claim).
    pub async fn set_profile_image(&self, id: &str, url: &str) -> Result<()> {
        let done = on_pool!(self.db, pool => {
            sqlx::query(
                "UPDATE users SET profile_image_url = $1 WHERE id = $2 AND profile_image_url != $1",
            )
            .bind(url)
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if done > 0 {
            self.uncache(id);
            self.announce(Self::changed(id)).await?;
        }
        Ok(())
    }

    /// Every group with its member count.
    pub async fn groups(&self) -> Result<Vec<tessera_shared::GroupInfo>> {
        let (rows, grants) = on_pool!(self.db, pool => {
            let rows: Vec<(String, String, i64)> = sqlx::query_as(
                "SELECT g.id, g.name, COUNT(m.user_id) FROM groups g LEFT JOIN group_members m ON m.group_id = g.id \
                 GROUP BY g.id, g.name ORDER BY g.name",
            )
            .fetch_all(pool)
            .await?;
            let grants: Vec<(String, String)> = sqlx::query_as(
                "SELECT subject_id, permission FROM permissions WHERE subject_kind = 'group' ORDER BY permission",
            )
            .fetch_all(pool)
            .await?;
            (rows, grants)
        });
        let mut grants = by_owner(grants);
        Ok(rows
            .into_iter()
            .map(|(id, name, members)| tessera_shared::GroupInfo {
                permissions: grants.remove(&id).unwrap_or_default(),
                id,
                name,
                members,
            })
            .collect())
    }

    /// Number of admins.
    pub async fn admin_count(&self) -> Result<i64> {
        Ok(on_pool!(self.db, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin'")
                .fetch_one(pool)
                .await?
        }))
    }
}

/// `(owner, value)` rows, grouped by owner in row order.
fn by_owner(rows: Vec<(String, String)>) -> std::collections::HashMap<String, Vec<String>> {
    let mut map: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for (owner, value) in rows {
        map.entry(owner).or_default().push(value);
    }
    map
}

fn user_from_row(
    (id, email, name, role, profile_image_url, source, subject, created_at, epoch, signed_out_at): UserRow,
) -> Result<User> {
    Ok(User {
        id,
        email,
        name,
        role: Role::parse(&role)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("unknown role {role:?} in database")))?,
        profile_image_url,
        source,
        subject,
        groups: Vec::new(),
        permissions: Vec::new(),
        created_at,
        epoch,
        signed_out_at,
    })
}

#[cfg(test)]
mod tests;
