//! Persistence: an embedded SQLite database (the default) or a PostgreSQL
//! server shared by several replicas, behind small per-concern modules.
//!
//! # One set of queries, two drivers
//!
//! [`Db`] holds either a `SqlitePool` or a `PgPool`, and every store function
//! is written once inside [`on_pool!`], which expands its body once per
//! driver: the same SQL text, bound and decoded with each driver's native
//! types. sqlx's `Any` driver was the alternative; it was not chosen because
//! it decodes every row through an intermediate `AnyValue`, cannot set
//! SQLite's pragmas (WAL, synchronous, busy timeout) or PostgreSQL's options
//! through typed connect options, and hides which database an error came
//! from. The enum costs a second monomorphised copy of each store function
//! and nothing at run time.
//!
//! The SQL is the portable subset both databases accept:
//! - `$1`, `$2`, ... placeholders (sqlx binds SQLite's `$NNN` parameters by
//!   number, so they mean the same on both; a repeated `$1` is one value);
//! - `INSERT ... ON CONFLICT ... DO NOTHING / DO UPDATE` instead of SQLite's
//!   `INSERT OR IGNORE`; `DELETE ... RETURNING`;
//! - 64-bit integers (`INTEGER` in SQLite, `BIGINT` in PostgreSQL), text.
//!
//! The schemas live in `migrations/sqlite` (unchanged since they were
//! written, so `_sqlx_migrations` checksums of existing databases still
//! match) and `migrations/postgres`, with the same versions and semantics:
//! the same unique constraints, cascading foreign keys, and byte-wise,
//! case-sensitive text comparison and ordering (SQLite's `BINARY` collation;
//! `COLLATE "C"` on every PostgreSQL text column, whatever the server's
//! locale). SQLite's implicit `rowid` (insertion order) is an identity column
//! named `rowid` in PostgreSQL, so that query too is shared. The one
//! statement only PostgreSQL runs is the table lock that makes "the first
//! account becomes admin" atomic across replicas (SQLite has one writer at a
//! time anyway).
pub mod api_keys;
pub mod assertion_keys;
pub mod audit;
pub mod oidc;
pub mod revocations;
pub mod sso_sessions;
pub mod users;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub use crate::config::database::{Backend, PoolSettings};
pub use crate::config::urls::redacted_url;

/// Runs `$body` with `$pool` bound to the database's connection pool: the
/// body is compiled once for SQLite and once for PostgreSQL, so one copy of
/// each query serves both.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db.pool() {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// The connection pool of one of the supported databases.
#[derive(Clone)]
pub enum Pool {
    /// The embedded database (`sqlite:` URLs).
    Sqlite(SqlitePool),
    /// A PostgreSQL server (`postgres:` / `postgresql:` URLs).
    Postgres(PgPool),
}

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Db").field(&self.backend()).finish()
    }
}

impl Db {
    /// Opens and migrates the database at `url` with default pool settings.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        Self::connect_with(url, PoolSettings::default()).await
    }

    /// Opens (a SQLite file is created when missing) and migrates the
    /// database at `url`. Errors name the URL with its password masked.
    pub async fn connect_with(url: &str, settings: PoolSettings) -> anyhow::Result<Db> {
        let shown = redacted_url(url);
        let pool = match Backend::of_url(url) {
            Some(Backend::Sqlite) => {
                let opts = SqliteConnectOptions::from_str(url)
                    .with_context(|| format!("database.url {shown} is not a valid SQLite URL"))?
                    .create_if_missing(true)
                    .foreign_keys(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(5));
                let pool = SqlitePoolOptions::new()
                    .max_connections(settings.max_connections)
                    .acquire_timeout(settings.connect_timeout)
                    .connect_with(opts)
                    .await
                    .with_context(|| format!("opening the SQLite database {shown}"))?;
                sqlx::migrate!("./migrations/sqlite")
                    .run(&pool)
                    .await
                    .with_context(|| format!("migrating the SQLite database {shown}"))?;
                Pool::Sqlite(pool)
            }
            Some(Backend::Postgres) => {
                let opts = PgConnectOptions::from_str(url)
                    .with_context(|| format!("database.url {shown} is not a valid PostgreSQL URL"))?
                    .application_name("tessera");
                let pool = PgPoolOptions::new()
                    .max_connections(settings.max_connections)
                    .min_connections(0)
                    .acquire_timeout(settings.connect_timeout)
                    .idle_timeout(Duration::from_secs(300))
                    .connect_with(opts)
                    .await
                    .map_err(|e| match e {
                        sqlx::Error::PoolTimedOut => anyhow::anyhow!(
                            "no answer within {}s",
                            settings.connect_timeout.as_secs_f32()
                        ),
                        e => e.into(),
                    })
                    .with_context(|| {
                        format!("connecting to the PostgreSQL database.url {shown}")
                    })?;
                // concurrent replicas: sqlx takes an advisory lock while migrating
                sqlx::migrate!("./migrations/postgres")
                    .run(&pool)
                    .await
                    .with_context(|| format!("migrating the PostgreSQL database {shown}"))?;
                Pool::Postgres(pool)
            }
            None => anyhow::bail!(
                "database.url {shown}: only sqlite:, postgres: and postgresql: URLs are supported"
            ),
        };
        Ok(Db { pool })
    }

    /// The connection pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SQLite database migrated by the migrations as they were before they
    /// moved to `migrations/sqlite` (same files, same checksums) opens and
    /// migrates without error, keeping its data.
    #[tokio::test]
    async fn an_existing_sqlite_database_still_opens() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
        {
            let pool = SqlitePool::connect(&url).await.unwrap();
            // what `sqlx::migrate!("./migrations")` applied before the move
            sqlx::migrate::Migrator::new(std::path::Path::new(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/migrations/sqlite"
            )))
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();
            sqlx::query("INSERT INTO users (id, email, name, role, created_at, updated_at) VALUES ('u1', 'a@x.io', 'A', 'admin', 1, 1)")
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
        let db = Db::connect(&url).await.unwrap();
        // the checksums the migrations had on main (sha384 of the files),
        // which Db::connect has just checked the embedded ones against
        let applied: Vec<(i64, String)> = on_pool!(db, pool => sqlx::query_as(
            "SELECT version, lower(hex(checksum)) FROM _sqlx_migrations ORDER BY version",
        )
        .fetch_all(pool)
        .await
        .unwrap());
        assert_eq!(
            applied,
            vec![
                (1, "ba520b634cfd68616a58de5472d847d695d096edf6414fa842297198c6d523c800ae5ee113089152ea1f5e1f626a6de3".into()),
                (5, "3f3e0195d34ffa824b8f6002087f8db4cd8d25a23e3667f834792c7b91b866f43ef96cf9a6181a7671bc8005ee3f9b92".into()),
                (7, "39f6fde8b7d2356a6c47baa9e83504d54720cffe86ac17ef50ac91c9f20428fb77e216e9818e0bef509ee06ff5b912a0".into()),
                (9, "02d00027bcbc1984d94ff749b7f1e304b31cbfebdd5f513f7921de8f423f4fe5e175bb0cc918d071da4fc292af09e3b9".into()),
                (11, "50a2fe4ac95c915308a9608aeebe25ed527cdea0699c2e5c8f98f64f1eec8c8db59743b39389a0db2ec0ae098f5a0f91".into()),
                (12, "e32475aecdc82018fe466f10bd88adf14c3b47c8abb0266508599a2fcd5f32f189c1739b2b3f72aab20cf0ba1a6a7ecb".into()),
                (13, "b426585bd4ce71f27aa04c39f135d6bcd9833237aed8fe86633b2040a776f04976f1891f1037362bd0e225bb52e8c14d".into()),
                (14, "345b63421ed8a94a05a624867e1201b092d7e1469f636e0b7626699c2498cd8bc7a7515cab24da0f5467bc5fe315e495".into()),
            ],
            "an edited SQLite migration breaks every existing database"
        );
        let (users,): (i64,) = on_pool!(db, pool => sqlx::query_as("SELECT COUNT(*) FROM users")
            .fetch_one(pool)
            .await
            .unwrap());
        assert_eq!(users, 1, "the data is kept");
    }
}
