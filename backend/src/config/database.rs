//! `[database]`: where users and revocations live.
use super::urls::redacted_url;
use super::values::Secret;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// `[database]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://...` (embedded) or `postgres://user:password@host/db` (shared
    /// by several replicas); default: `tessera.db` in the data folder. Holds a
    /// password, so it is a [`Secret`] and shown only with the password masked.
    pub url: Option<Secret>,
    /// Read the URL from this file instead (e.g. a mounted secret).
    pub url_file: Option<PathBuf>,
    /// Most pooled connections; default 8 for SQLite, 10 for PostgreSQL.
    pub max_connections: Option<u32>,
    /// Seconds to wait for a pooled connection and, at start-up, for the
    /// database to answer at all. Default 5.
    pub connect_timeout_seconds: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            url_file: None,
            max_connections: None,
            connect_timeout_seconds: 5,
        }
    }
}

impl DatabaseConfig {
    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        if let Some(url) = &self.url {
            if Backend::of_url(url.expose()).is_none() {
                problems.push(format!(
                    "database.url {}: only sqlite:, postgres: and postgresql: URLs are supported",
                    redacted_url(url.expose())
                ));
            }
            if self.url_file.is_some() {
                problems.push("set only one of database.url and database.url_file".into());
            }
        }
        if self.max_connections == Some(0) {
            problems.push("database.max_connections must be at least 1".into());
        }
        if self.connect_timeout_seconds == 0 {
            problems.push("database.connect_timeout_seconds must be at least 1".into());
        }
    }
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite:`
    Sqlite,
    /// `postgres:` or `postgresql:`
    Postgres,
}

impl Backend {
    /// The database a URL names by its scheme; `None` for any other scheme.
    pub fn of_url(url: &str) -> Option<Backend> {
        let scheme = url.split_once(':')?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Some(Backend::Sqlite),
            "postgres" | "postgresql" => Some(Backend::Postgres),
            _ => None,
        }
    }
}

/// Pool settings.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Most connections kept open.
    pub max_connections: u32,
    /// How long to wait for a connection (and, at start-up, for the database
    /// to answer at all).
    pub connect_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 8,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_select_the_database() {
        assert_eq!(Backend::of_url("sqlite://x.db"), Some(Backend::Sqlite));
        assert_eq!(Backend::of_url("sqlite::memory:"), Some(Backend::Sqlite));
        assert_eq!(Backend::of_url("postgres://h/d"), Some(Backend::Postgres));
        assert_eq!(Backend::of_url("PostgreSQL://h/d"), Some(Backend::Postgres));
        assert_eq!(Backend::of_url("mysql://h/d"), None);
        assert_eq!(Backend::of_url("tessera.db"), None);
    }
}
