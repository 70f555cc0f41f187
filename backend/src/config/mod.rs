//! Tessera's configuration: one struct, loaded once (defaults → TOML file →
//! `TESSERA_*` environment variables → command-line flags) and validated at
//! start-up with messages that say what to fix.
//!
//! Each group of sections lives in its own file with its checks ([`server`],
//! [`database`], [`redis`], [`ldap`], [`trusted_header`], [`issuer`] for
//! `[[issuers]]` and `[cache]`, [`oidc_provider`] for `[[oidc_providers]]`,
//! [`ui`] for what the SPA is told about keeping a session in view);
//! [`values`] holds the value types they share ([`Secret`], [`ExpiresIn`],
//! durations), [`urls`] the rules for URLs and [`limits`] the fixed size
//! limits. The module stands on the ground floor: it imports only `domain`.
pub mod audit;
pub mod database;
pub mod forward_auth;
pub mod issuer;
pub mod ldap;
pub mod limits;
pub mod log;
pub mod oidc_provider;
pub mod redis;
pub mod server;
pub mod trusted_header;
pub mod ui;
pub mod urls;
pub mod values;

pub use audit::AuditConfig;
pub use database::{Backend, DatabaseConfig, PoolSettings};
pub use forward_auth::{AssertionConfig, ForwardAuthConfig, ForwardAuthRule};
pub use issuer::{BoundClaimsType, BoundValue, CacheConfig, IssuerConfig, Scalar};
pub use ldap::LdapConfig;
pub use limits::{BODY_LIMIT, MAX_CREDENTIAL_BYTES};
pub use log::{LogConfig, LogFormat};
pub use oidc_provider::OidcProviderConfig;
pub use redis::{RedisConfig, RevocationConfig};
use server::check_secret;
pub use server::{
    AdminConfig, ApiKeysConfig, EmbedConfig, InjectionConfig, PasswordConfig, RateLimitConfig,
    ServerConfig, SessionConfig, SignupConfig, EXCHANGED_EXPIRES_IN,
};
pub use trusted_header::TrustedHeaderConfig;
pub use ui::UiConfig;
pub use urls::{check_url, redacted_url};
pub use values::{
    decode_b64, is_origin, masked, reserved_name_problem, ExpiresIn, Secret, RESERVED_NAMES,
};

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
    "ui",
    "log",
    "forward_auth",
    "assertion",
    "audit",
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
    /// `[ui]`: the expiry banner and the open page's session check.
    pub ui: UiConfig,
    /// `[log]`: text or JSON lines on stderr.
    pub log: LogConfig,
    /// `[forward_auth]`: `GET /api/v1/auths/verify` for reverse proxies.
    pub forward_auth: ForwardAuthConfig,
    /// `[assertion]`: the signed identity assertion forward auth hands on.
    pub assertion: AssertionConfig,
    /// `[audit]`: the audit log of security events.
    pub audit: AuditConfig,
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
        let p = &mut problems;
        self.server.check_public_url(p);
        check_secret(
            "session",
            &self.session.secret,
            &self.session.secret_file,
            p,
        );
        let api_keys = &self.api_keys;
        check_secret("api_keys", &api_keys.secret, &api_keys.secret_file, p);
        self.database.validate(p);
        self.admin.validate(self.password.min_length, p);
        self.rate_limit.validate(p);
        self.session.validate(p);
        self.api_keys.check_unknown_allowance(p);
        self.password.validate(p);
        self.revocation.validate(self.redis.as_ref(), p);
        self.api_keys.check_endpoints(p);
        self.server.check_name(p);
        issuer::validate(&self.issuers, &self.session_issuer(), p);
        let issuer_names: Vec<String> = self.issuers.iter().map(|i| i.name.clone()).collect();
        oidc_provider::validate(&self.oidc_providers, &issuer_names, p);
        if let Some(ldap) = &self.ldap {
            ldap.validate(p);
        }
        if let Some(th) = &self.trusted_header {
            th.validate(p);
        }
        self.injection.validate(p);
        self.embed.validate(p);
        self.ui.validate(p);
        self.forward_auth.validate(p);
        self.assertion.validate(p);
        self.audit.validate(p);
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
                Backend::of_url(url.expose()).is_some(),
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
    pub fn database_pool(&self, backend: Backend) -> PoolSettings {
        let default_max = match backend {
            Backend::Sqlite => 8,
            Backend::Postgres => 10,
        };
        PoolSettings {
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
