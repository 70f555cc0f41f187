//! `[redis]` (and its older spelling `[revocation] redis_url`): state shared
//! by several replicas.
use super::urls::redacted_url;
use super::values::{duration_str, Secret};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// `[revocation]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RevocationConfig {
    /// The older spelling of `[redis] url`; kept as an alias.
    pub redis_url: Option<Secret>,
}

/// `[redis]`: one Redis shared by several replicas (docs/scale-out.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[:password@]host[:port][/db]` or `rediss://` (TLS).
    pub url: Option<Secret>,
    /// Read the URL from this file instead (it holds a password).
    pub url_file: Option<PathBuf>,
    /// PEM file of the CA(s) that sign a `rediss://` server's certificate;
    /// default: the system's.
    pub ca_file: Option<PathBuf>,
    /// Prefix of every key and of the event channel, so deployments can
    /// share one Redis.
    pub key_prefix: String,
    /// How long to wait for Redis to connect or answer.
    #[serde(with = "duration_str")]
    pub timeout: Duration,
    /// The safety net under announcements: this often a replica drops what
    /// it caches and reloads the revocations, whatever it heard. The
    /// longest another replica's change can go unseen (docs/scale-out.md).
    #[serde(with = "duration_str")]
    pub resync: Duration,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: None,
            url_file: None,
            ca_file: None,
            key_prefix: "tessera:".into(),
            timeout: Duration::from_secs(2),
            resync: Duration::from_secs(300),
        }
    }
}

impl RevocationConfig {
    /// `redis_url`, the older spelling, alone; or `[redis]`.
    pub(super) fn validate(&self, redis: Option<&RedisConfig>, problems: &mut Vec<String>) {
        match (&self.redis_url, redis) {
            (Some(_), Some(_)) => problems.push(
                "revocation.redis_url is the older spelling of redis.url: keep only the [redis] section".into(),
            ),
            (Some(url), None) => check_redis_url("revocation.redis_url", url.expose(), problems),
            (None, Some(redis)) => redis.validate(problems),
            (None, None) => {}
        }
    }
}

impl RedisConfig {
    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        match (&self.url, &self.url_file) {
            (Some(_), Some(_)) => problems.push("set only one of redis.url and redis.url_file".into()),
            (None, None) => problems.push(
                "redis: set redis.url (e.g. \"redis://:password@10.0.0.7:6379/0\") or redis.url_file, or remove the [redis] section".into(),
            ),
            (Some(url), None) => check_redis_url("redis.url", url.expose(), problems),
            (None, Some(file)) => {
                if !file.is_file() {
                    problems.push(format!("redis.url_file {} does not exist", file.display()));
                }
            }
        }
        if self.key_prefix.is_empty()
            || !self
                .key_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_:.".contains(c))
        {
            problems.push(format!(
                "redis.key_prefix `{}` must be letters, digits, `-`, `_`, `:` or `.`, e.g. \"tessera:\"",
                self.key_prefix
            ));
        }
        if self.timeout.is_zero() {
            problems.push("redis.timeout must be above zero, e.g. \"2s\"".into());
        }
        if self.resync < Duration::from_secs(1) {
            problems.push("redis.resync must be at least 1s, e.g. \"5m\"".into());
        }
        if let Some(ca) = &self.ca_file {
            if !ca.is_file() {
                problems.push(format!("redis.ca_file {} does not exist", ca.display()));
            }
            if self
                .url
                .as_ref()
                .is_some_and(|u| !u.expose().starts_with("rediss://"))
            {
                problems.push("redis.ca_file applies to rediss:// (TLS) URLs only".into());
            }
        }
    }

    /// The URL: from `url`, or read from `url_file` (trimmed).
    pub fn resolve_url(&self) -> anyhow::Result<Secret> {
        if let Some(url) = &self.url {
            return Ok(url.clone());
        }
        let file = self
            .url_file
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("redis.url or redis.url_file must be set"))?;
        let url = Secret::read_file("redis.url_file", file)?;
        let mut problems = Vec::new();
        check_redis_url(
            &format!("redis.url_file {}", file.display()),
            url.expose(),
            &mut problems,
        );
        anyhow::ensure!(problems.is_empty(), "{}", problems.join("; "));
        Ok(url)
    }
}

fn check_redis_url(key: &str, url: &str, problems: &mut Vec<String>) {
    match url::Url::parse(url) {
        Ok(u)
            if matches!(u.scheme(), "redis" | "rediss")
                && u.host_str().is_some_and(|h| !h.is_empty()) => {}
        _ => problems.push(format!(
            "{key} `{}` must be redis://[:password@]host[:port][/db] or rediss://... (TLS)",
            redacted_url(url)
        )),
    }
}
