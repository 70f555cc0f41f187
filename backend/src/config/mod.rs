//! Tessera's configuration: one struct, loaded once (defaults → TOML file →
//! `TESSERA_*` environment variables → command-line flags) and validated at
//! start-up with messages that say what to fix.
//!
//! Each group of sections lives in its own file ([`server`], [`database`],
//! [`redis`], [`ldap`], [`trusted_header`]); [`values`] holds the value types
//! they share ([`Secret`], [`ExpiresIn`], durations).
pub mod database;
pub mod issuer;
pub mod ldap;
pub mod limits;
pub mod oidc_provider;
pub mod redis;
pub mod server;
pub mod trusted_header;
pub mod urls;
pub mod values;

pub use database::DatabaseConfig;
pub use issuer::{BoundClaimsType, BoundValue, CacheConfig, IssuerConfig, Scalar};
pub use ldap::LdapConfig;
pub use limits::MAX_CREDENTIAL_BYTES;
pub use oidc_provider::OidcProviderConfig;
use redis::check_redis_url;
pub use redis::{RedisConfig, RevocationConfig};
pub use server::{
    AdminConfig, ApiKeysConfig, EmbedConfig, InjectionConfig, PasswordConfig, RateLimitConfig,
    ServerConfig, SessionConfig, SignupConfig, EXCHANGED_EXPIRES_IN,
};
pub use trusted_header::TrustedHeaderConfig;
pub use urls::check_url;
pub use values::{decode_b64, is_origin, reserved_name_problem, ExpiresIn, Secret, RESERVED_NAMES};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The sections of the config file; `TESSERA_<SECTION>_<KEY>` overrides `[section] key`.
const SECTIONS: &[&str] = &[
    "server",
    "database",
    "session",
    "signup",
    "admin",
    "rate_limit",
    "password",
    "revocation",
    "redis",
    "ldap",
    "trusted_header",
    "api_keys",
    "cache",
    "injection",
    "embed",
];

/// Everything Tessera can be told. See the README's config reference.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[server]`: where to listen and what to serve.
    pub server: ServerConfig,
    /// `[database]`: where users and revocations live.
    pub database: DatabaseConfig,
    /// `[session]`: Tessera's own session tokens.
    pub session: SessionConfig,
    /// `[signup]`: self-service sign-up.
    pub signup: SignupConfig,
    /// `[admin]`: the bootstrap admin account.
    pub admin: AdminConfig,
    /// `[rate_limit]`: sign-in attempt limits.
    pub rate_limit: RateLimitConfig,
    /// `[password]`: password policy.
    pub password: PasswordConfig,
    /// `[revocation]`: where revoked token ids are kept.
    pub revocation: RevocationConfig,
    /// `[redis]`: state shared by several replicas; off when absent.
    pub redis: Option<RedisConfig>,
    /// `[ldap]`: sign-in against an LDAP directory; off when absent.
    pub ldap: Option<LdapConfig>,
    /// `[trusted_header]`: sign-in by headers from a reverse proxy; off when absent.
    pub trusted_header: Option<TrustedHeaderConfig>,
    /// `[api_keys]`: `sk-` keys for programmatic access.
    pub api_keys: ApiKeysConfig,
    /// `[[issuers]]`: identity providers whose JWTs are accepted.
    pub issuers: Vec<IssuerConfig>,
    /// `[[oidc_providers]]`: SSO sign-in providers (OAuth 2.0 / OpenID Connect).
    pub oidc_providers: Vec<OidcProviderConfig>,
    /// `[cache]`: the verified-token cache.
    pub cache: CacheConfig,
    /// `[injection]`: tokens handed to the SPA by the page request or its URL.
    pub injection: InjectionConfig,
    /// `[embed]`: the SPA inside other sites' iframes.
    pub embed: EmbedConfig,
}

/// Flags that override the file and the environment.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
}

/// A configuration that cannot be used, with every problem found.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or an environment variable could not be read or parsed.
    #[error("{0}")]
    Load(#[from] Box<figment::Error>),
    /// Values that parse but do not make sense together.
    #[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

impl Config {
    /// Loads defaults, then `file` (when it exists, or always when `required`),
    /// then `TESSERA_*` variables, then `overrides`; and validates the result.
    pub fn load(file: &Path, required: bool, overrides: &Overrides) -> Result<Config, ConfigError> {
        if required && !file.exists() {
            return Err(ConfigError::Invalid(vec![format!(
                "config file {} does not exist",
                file.display()
            )]));
        }
        let mut fig =
            Figment::from(Serialized::defaults(Config::default())).merge(Toml::file(file));
        fig = fig.merge(Self::env_provider());
        if let Some(listen) = overrides.listen {
            fig = fig.merge(Serialized::default("server.listen", listen));
        }
        if let Some(dir) = &overrides.data_dir {
            fig = fig.merge(Serialized::default("server.data_dir", dir));
        }
        let mut config: Config = fig.extract().map_err(Box::new)?;
        match issuer::from_opengpts_env(|k| std::env::var(k).ok()) {
            Ok(Some(issuer)) => config.issuers.push(issuer),
            Ok(None) => {}
            Err(e) => return Err(ConfigError::Invalid(vec![e])),
        }
        config.validate()?;
        Ok(config)
    }

    /// `TESSERA_SERVER_LISTEN` → `server.listen`, `TESSERA_ADMIN_EMAIL` → `admin.email`, ...
    fn env_provider() -> Env {
        Env::prefixed("TESSERA_")
            .filter(|key| section_key(key.as_str()).is_some())
            .map(|key| section_key(key.as_str()).unwrap_or_default().into())
    }

    /// Lists `TESSERA_*` variables that match no section, so typos are noticed.
    pub fn unknown_env_vars() -> Vec<String> {
        std::env::vars()
            .filter_map(|(k, _)| k.strip_prefix("TESSERA_").map(str::to_owned))
            .filter(|k| section_key(&k.to_ascii_lowercase()).is_none())
            .map(|k| format!("TESSERA_{k}"))
            .collect()
    }

    /// Checks what serde cannot: every problem is reported at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if let Some(url) = &self.server.public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) || url.ends_with('/') {
                problems.push(format!(
                    "server.public_url `{url}` must start with http:// or https:// and have no trailing slash"
                ));
            }
        }
        for (section, secret, file) in [
            ("session", &self.session.secret, &self.session.secret_file),
            (
                "api_keys",
                &self.api_keys.secret,
                &self.api_keys.secret_file,
            ),
        ] {
            if let Some(secret) = secret {
                if secret.expose().len() < 32 {
                    problems.push(format!("{section}.secret must be at least 32 characters; leave it unset to have one generated"));
                }
                if file.is_some() {
                    problems.push(format!(
                        "set only one of {section}.secret and {section}.secret_file"
                    ));
                }
            }
        }
        if let Some(url) = &self.database.url {
            if crate::store::Backend::of_url(url.expose()).is_none() {
                problems.push(format!(
                    "database.url {}: only sqlite:, postgres: and postgresql: URLs are supported",
                    crate::store::redacted_url(url.expose())
                ));
            }
            if self.database.url_file.is_some() {
                problems.push("set only one of database.url and database.url_file".into());
            }
        }
        if self.database.max_connections == Some(0) {
            problems.push("database.max_connections must be at least 1".into());
        }
        if self.database.connect_timeout_seconds == 0 {
            problems.push("database.connect_timeout_seconds must be at least 1".into());
        }
        match (&self.admin.email, &self.admin.password) {
            (Some(_), None) | (None, Some(_)) => problems.push(
                "set both admin.email and admin.password (TESSERA_ADMIN_EMAIL, TESSERA_ADMIN_PASSWORD), or neither".into(),
            ),
            (Some(email), Some(pw)) => {
                if !crate::auth::password::is_plausible_email(email) {
                    problems.push(format!("admin.email `{email}` is not an e-mail address"));
                }
                if pw.expose().chars().count() < self.password.min_length {
                    problems.push(format!(
                        "admin.password is shorter than password.min_length ({})",
                        self.password.min_length
                    ));
                }
            }
            (None, None) => {}
        }
        let r = &self.rate_limit;
        if [
            r.per_ip_per_minute,
            r.per_account_per_minute,
            r.mint_per_ip_per_minute,
            r.mint_per_account_per_minute,
        ]
        .contains(&0)
        {
            problems.push("rate_limit values must be at least 1 a minute".into());
        }
        if !matches!(self.session.exchanged_expires_in, ExpiresIn::For(_)) {
            problems.push(
                "session.exchanged_expires_in must be a duration like 30m or 8h (not -1 or 0): sessions minted from another credential always expire".into(),
            );
        }
        if self.api_keys.unknown_per_ip_per_minute == 0 {
            problems.push("api_keys.unknown_per_ip_per_minute must be at least 1".into());
        }
        if self.password.min_length < 8 {
            problems.push("password.min_length must be at least 8".into());
        }
        match (&self.revocation.redis_url, &self.redis) {
            (Some(_), Some(_)) => problems.push(
                "revocation.redis_url is the older spelling of redis.url: keep only the [redis] section".into(),
            ),
            (Some(url), None) => check_redis_url("revocation.redis_url", url.expose(), &mut problems),
            (None, Some(redis)) => redis.validate(&mut problems),
            (None, None) => {}
        }
        for endpoint in &self.api_keys.allowed_endpoints {
            let pattern = endpoint.strip_suffix('*').unwrap_or(endpoint);
            if !pattern.starts_with('/')
                || pattern.contains('*')
                || pattern.contains("//")
                || pattern.contains("/..")
                || pattern.contains('%')
            {
                problems.push(format!(
                    "api_keys.allowed_endpoints: `{endpoint}` must be an absolute path like /api/v1/models, optionally ending in *"
                ));
            }
        }
        if self.server.name.trim().is_empty() {
            problems.push("server.name must not be empty".into());
        }
        issuer::validate(&self.issuers, &self.session_issuer(), &mut problems);
        let issuer_names: Vec<String> = self.issuers.iter().map(|i| i.name.clone()).collect();
        oidc_provider::validate(&self.oidc_providers, &issuer_names, &mut problems);
        if let Some(ldap) = &self.ldap {
            ldap.validate(&mut problems);
        }
        if let Some(th) = &self.trusted_header {
            th.validate(&mut problems);
        }
        self.injection.validate(&mut problems);
        self.embed.validate(&mut problems);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// The `iss` of session tokens: the configured public URL, else `tessera`
    /// (never the listen address, which may be an ephemeral port).
    pub fn session_issuer(&self) -> String {
        self.server
            .public_url
            .clone()
            .unwrap_or_else(|| "tessera".into())
    }

    /// The Redis settings in force: `[redis]`, or `[revocation] redis_url`
    /// (the older spelling) with the defaults of the rest.
    pub fn redis(&self) -> Option<RedisConfig> {
        match (&self.redis, &self.revocation.redis_url) {
            (Some(r), _) => Some(r.clone()),
            (None, Some(url)) => Some(RedisConfig {
                url: Some(url.clone()),
                ..RedisConfig::default()
            }),
            (None, None) => None,
        }
    }

    /// The database URL (from `database.url`, else `database.url_file`),
    /// defaulting to the SQLite file in the data folder.
    pub fn database_url(&self) -> anyhow::Result<Secret> {
        if let Some(url) = &self.database.url {
            return Ok(url.clone());
        }
        if let Some(file) = &self.database.url_file {
            let url = Secret::read_file("database.url_file", file)?;
            anyhow::ensure!(
                crate::store::Backend::of_url(url.expose()).is_some(),
                "database.url_file {}: only sqlite:, postgres: and postgresql: URLs are supported",
                file.display()
            );
            return Ok(url);
        }
        Ok(Secret::new(format!(
            "sqlite://{}?mode=rwc",
            self.server.data_dir.join("tessera.db").display()
        )))
    }

    /// The pool settings of `[database]` for a database of this kind.
    pub fn database_pool(&self, backend: crate::store::Backend) -> crate::store::PoolSettings {
        let default_max = match backend {
            crate::store::Backend::Sqlite => 8,
            crate::store::Backend::Postgres => 10,
        };
        crate::store::PoolSettings {
            max_connections: self.database.max_connections.unwrap_or(default_max),
            connect_timeout: Duration::from_secs(self.database.connect_timeout_seconds),
        }
    }
}

/// Maps a lower-cased `section_key` environment name to `section.key`.
fn section_key(key: &str) -> Option<String> {
    let key = key.to_ascii_lowercase();
    SECTIONS.iter().find_map(|section| {
        key.strip_prefix(section)
            .and_then(|rest| rest.strip_prefix('_'))
            .filter(|rest| !rest.is_empty())
            .map(|rest| format!("{section}.{rest}"))
    })
}

#[cfg(test)]
mod tests;
