//! `[database]`: where users and revocations live.
use super::values::Secret;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
            if crate::store::Backend::of_url(url.expose()).is_none() {
                problems.push(format!(
                    "database.url {}: only sqlite:, postgres: and postgresql: URLs are supported",
                    crate::store::redacted_url(url.expose())
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
