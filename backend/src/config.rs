//! Tessera's configuration: one struct, loaded once (defaults → TOML file →
//! `TESSERA_*` environment variables → command-line flags) and validated at
//! start-up with messages that say what to fix.
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tessera_shared::Role;

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

/// Names no `[[issuers]]` or `[[oidc_providers]]` entry (nor SSO provider
/// saved from the admin page) may take, ASCII case ignored: an entry's name
/// becomes the `source` of its accounts, and `local`, `ldap` and
/// `trusted_header` are the sources of local, LDAP and proxy accounts (a
/// shared source would make their ids collide); `test` is the admin API's
/// test round trip (`/api/v1/admin/oidc_providers/test`).
pub const RESERVED_NAMES: &[&str] = &["local", "ldap", "trusted_header", "test"];

/// What to fix when `name` is one of [`RESERVED_NAMES`]; `at` names the entry.
pub fn reserved_name_problem(at: &str, name: &str) -> Option<String> {
    let reserved = RESERVED_NAMES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name.trim()));
    reserved.then(|| {
        format!(
            "{at}: the name `{name}` is reserved (Tessera itself uses {}); choose another name",
            RESERVED_NAMES.join(", ")
        )
    })
}

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
    pub issuers: Vec<crate::auth::idp::config::IssuerConfig>,
    /// `[[oidc_providers]]`: SSO sign-in providers (OAuth 2.0 / OpenID Connect).
    pub oidc_providers: Vec<crate::auth::oidc::config::OidcProviderConfig>,
    /// `[cache]`: the verified-token cache.
    pub cache: crate::auth::idp::config::CacheConfig,
    /// `[injection]`: tokens handed to the SPA by the page request or its URL.
    pub injection: InjectionConfig,
    /// `[embed]`: the SPA inside other sites' iframes.
    pub embed: EmbedConfig,
}

/// `[injection]`: see the README's "Token injection and embedding".
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InjectionConfig {
    /// Exchange a picked-up token for a Tessera session token (which then
    /// follows `[session]` expiry and revocation) instead of keeping it.
    pub exchange: bool,
    /// Also accept `?auth_token=<jwt>` (Grafana's `url_login` form); the
    /// fragment form `#auth_token=` is always accepted.
    pub query_param: bool,
    /// Where to send someone whose kept IdP token expired (the IdP's sign-in
    /// URL); the sign-in page when unset.
    pub expired_redirect: Option<String>,
}

/// `[embed]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbedConfig {
    /// Origins (`scheme://host[:port]`) that may frame the SPA and post it
    /// tokens; none by default (`frame-ancestors 'none'`).
    pub allowed_origins: Vec<String>,
    /// Render the dashboard without navigation chrome even without `?embed=1`.
    pub always: bool,
}

impl InjectionConfig {
    fn validate(&self, problems: &mut Vec<String>) {
        if let Some(url) = &self.expired_redirect {
            let ok = url::Url::parse(url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if !ok {
                problems.push(format!(
                    "injection.expired_redirect `{url}` must be an absolute http:// or https:// URL, e.g. the IdP's sign-in page"
                ));
            }
        }
    }
}

impl EmbedConfig {
    fn validate(&self, problems: &mut Vec<String>) {
        for origin in &self.allowed_origins {
            if !is_origin(origin) {
                problems.push(format!(
                    "embed.allowed_origins: `{origin}` is not an origin; write scheme://host[:port] with no path, e.g. https://portal.example.com"
                ));
            }
        }
    }
}

/// Whether `s` is exactly an http(s) origin as browsers serialise it
/// (`event.origin`): lower-case scheme and host, no default port, no path.
/// Wildcards and characters that mean something in a CSP are refused.
pub fn is_origin(s: &str) -> bool {
    let plain = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ":/.-[]".contains(c));
    plain
        && url::Url::parse(s).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host().is_some()
                && u.origin().ascii_serialization() == s
        })
}

/// `[api_keys]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiKeysConfig {
    /// The global switch (off by default).
    pub enabled: bool,
    /// Limit API keys to `allowed_endpoints`.
    pub restrict_endpoints: bool,
    /// Paths an API key may call: exact, or a prefix ending in `*`.
    pub allowed_endpoints: Vec<String>,
    /// The key of the keyed hash under which keys are stored (at least 32
    /// characters). When unset, one is generated once and kept in
    /// `<data_dir>/api_key.secret`; replicas with their own data folders must
    /// share it (this, or `secret_file`).
    pub secret: Option<Secret>,
    /// Read that key from this file instead.
    pub secret_file: Option<PathBuf>,
    /// `sk-` keys this replica has never seen that one client IP may have
    /// looked up in the database a minute (each costs a database read);
    /// past it, 429 until the allowance refills. Known keys never count.
    pub unknown_per_ip_per_minute: u32,
}

impl Default for ApiKeysConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            restrict_endpoints: false,
            allowed_endpoints: Vec::new(),
            secret: None,
            secret_file: None,
            unknown_per_ip_per_minute: 60,
        }
    }
}

/// `[server]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on. `--listen`, `TESSERA_SERVER_LISTEN`.
    pub listen: SocketAddr,
    /// Folder for the SQLite database and generated secrets. `--data-dir`.
    pub data_dir: PathBuf,
    /// The URL people reach Tessera at (e.g. `https://auth.example.com`); used
    /// for redirect URIs and as the session tokens' issuer. Defaults to `http://<listen>`.
    pub public_url: Option<String>,
    /// The built SPA (trunk's `dist/` folder).
    pub static_dir: PathBuf,
    /// Product name shown in the UI.
    pub name: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            public_url: None,
            static_dir: PathBuf::from("dist"),
            name: "Tessera".into(),
        }
    }
}

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

/// `[session]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// HS256 signing secret (at least 32 bytes). When unset, one is generated
    /// once and kept in `<data_dir>/session.secret` (mode 0600).
    pub secret: Option<Secret>,
    /// Read the secret from this file instead.
    pub secret_file: Option<PathBuf>,
    /// `-1` never expires, `0` single use, or a duration: `30m`, `2h`, `7d`, `4w`.
    pub expires_in: ExpiresIn,
    /// The longest a session minted from another credential lives (token
    /// exchange, page injection with `[injection] exchange`, proxy-header
    /// callers), and never longer than that credential: a duration.
    pub exchanged_expires_in: ExpiresIn,
}

/// `[session] exchanged_expires_in` by default.
pub const EXCHANGED_EXPIRES_IN: Duration = Duration::from_secs(8 * 3600);

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            secret: None,
            secret_file: None,
            expires_in: ExpiresIn::Never,
            exchanged_expires_in: ExpiresIn::For(EXCHANGED_EXPIRES_IN),
        }
    }
}

impl SessionConfig {
    /// The cap of exchanged sessions, in seconds (validated to be a duration).
    pub fn exchanged_max_secs(&self) -> u64 {
        match self.exchanged_expires_in {
            ExpiresIn::For(d) => d.as_secs(),
            _ => EXCHANGED_EXPIRES_IN.as_secs(),
        }
    }
}

/// `[signup]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignupConfig {
    /// Whether people may create accounts. The very first account may always be created.
    pub enabled: bool,
    /// Role of accounts after the first (which becomes `admin`).
    pub default_role: Role,
}

impl Default for SignupConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            default_role: Role::Pending,
        }
    }
}

/// `[admin]`: created at start-up when set and no account has that e-mail.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// `TESSERA_ADMIN_EMAIL`.
    pub email: Option<String>,
    /// `TESSERA_ADMIN_PASSWORD`.
    pub password: Option<Secret>,
    /// Display name of the bootstrap admin.
    pub name: Option<String>,
}

/// `[rate_limit]`: attempts per minute on sign-in and sign-up.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Attempts a minute from one client IP.
    pub per_ip_per_minute: u32,
    /// Attempts a minute against one account (e-mail).
    pub per_account_per_minute: u32,
    /// Sessions minted from another credential (token exchange, page
    /// injection, proxy-header callers) a minute for one client IP.
    pub mint_per_ip_per_minute: u32,
    /// The same, for one account.
    pub mint_per_account_per_minute: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            per_ip_per_minute: 30,
            per_account_per_minute: 10,
            mint_per_ip_per_minute: 120,
            mint_per_account_per_minute: 30,
        }
    }
}

/// `[password]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordConfig {
    /// Minimum length in characters.
    pub min_length: usize,
    /// Whether `POST /api/v1/auths/signin` signs people in. When false it
    /// refuses everyone (403) except the bootstrap admin, so a broken SSO
    /// set-up cannot lock the admin out. Sign-up follows `[signup]`.
    pub signin_enabled: bool,
}

impl Default for PasswordConfig {
    fn default() -> Self {
        Self {
            min_length: 8,
            signin_enabled: true,
        }
    }
}

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

impl RedisConfig {
    fn validate(&self, problems: &mut Vec<String>) {
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
            crate::store::redacted_url(url)
        )),
    }
}

/// `[ldap]`: see `docs/ldap-and-proxy.md`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LdapConfig {
    /// `ldap://host:389` (optionally with `starttls`) or `ldaps://host:636`.
    pub url: String,
    /// PEM file of the CA(s) that sign the server's certificate; default: the system's.
    pub ca_file: Option<PathBuf>,
    /// Upgrade an `ldap://` connection with StartTLS.
    pub starttls: bool,
    /// DN of the service account that searches for users; anonymous search when unset.
    pub bind_dn: Option<String>,
    /// Its password.
    pub bind_password: Option<Secret>,
    /// Where users are searched (subtree).
    pub search_base: String,
    /// The attribute people sign in with: `uid`, `sAMAccountName`, `mail`...
    pub username_attribute: String,
    /// The e-mail attribute.
    pub mail_attribute: String,
    /// The display-name attribute.
    pub name_attribute: String,
    /// Extra filter ANDed to the user search, e.g. `(objectClass=person)`.
    pub search_filter: Option<String>,
    /// The user attribute listing group DNs (`memberOf`); a group's name is its `cn`.
    pub group_attribute: String,
    /// Search groups here instead of reading `group_attribute`.
    pub group_search_base: Option<String>,
    /// Filter of that group search; `{dn}` and `{username}` are replaced (escaped).
    pub group_search_filter: String,
    /// The attribute holding a found group's name.
    pub group_name_attribute: String,
    /// Create Tessera groups that do not exist yet (else only known groups are synced).
    pub create_groups: bool,
    /// Members of any of these groups are admins.
    pub admin_groups: Vec<String>,
    /// When non-empty, only members of these (or of `admin_groups`) may sign in.
    pub user_groups: Vec<String>,
    /// The role of everyone else who gets in.
    pub default_role: Role,
    /// How long to wait for the TCP (and TLS) connection.
    #[serde(with = "duration_str")]
    pub connect_timeout: Duration,
    /// How long to wait for each LDAP operation.
    #[serde(with = "duration_str")]
    pub operation_timeout: Duration,
}

impl Default for LdapConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            ca_file: None,
            starttls: false,
            bind_dn: None,
            bind_password: None,
            search_base: String::new(),
            username_attribute: "uid".into(),
            mail_attribute: "mail".into(),
            name_attribute: "cn".into(),
            search_filter: None,
            group_attribute: "memberOf".into(),
            group_search_base: None,
            group_search_filter: "(member={dn})".into(),
            group_name_attribute: "cn".into(),
            create_groups: false,
            admin_groups: Vec::new(),
            user_groups: Vec::new(),
            default_role: Role::User,
            connect_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(5),
        }
    }
}

/// `[trusted_header]`: see `docs/ldap-and-proxy.md`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrustedHeaderConfig {
    /// The header carrying the signed-in person's e-mail, e.g. `X-Forwarded-Email`.
    pub email_header: String,
    /// The header carrying the display name.
    pub name_header: Option<String>,
    /// The header carrying the groups.
    pub groups_header: Option<String>,
    /// What separates groups in `groups_header`.
    pub groups_separator: String,
    /// CIDRs of the proxies whose headers are honoured (required); from any
    /// other peer the headers are stripped.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Create Tessera groups that do not exist yet (else only known groups are synced).
    pub create_groups: bool,
    /// Members of any of these groups are admins.
    pub admin_groups: Vec<String>,
    /// When non-empty, only members of these (or of `admin_groups`) get in.
    pub user_groups: Vec<String>,
    /// The role of everyone else; accounts are created with it on first fingerprint.
    pub default_role: Role,
}

impl Default for TrustedHeaderConfig {
    fn default() -> Self {
        Self {
            email_header: String::new(),
            name_header: None,
            groups_header: None,
            groups_separator: ",".into(),
            trusted_proxies: Vec::new(),
            create_groups: false,
            admin_groups: Vec::new(),
            user_groups: Vec::new(),
            default_role: Role::User,
        }
    }
}

/// Durations written `5s`, `500ms`, `1m` (or a number of seconds).
mod duration_str {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(secs) => Ok(Duration::from_secs(secs)),
            Raw::Str(s) => humantime::parse_duration(s.trim()).map_err(|_| {
                serde::de::Error::custom(format!(
                    "`{s}` is not a duration: use e.g. 500ms, 5s or 1m"
                ))
            }),
        }
    }
}

/// How long a session token lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiresIn {
    /// `-1`: never expires.
    Never,
    /// `0`: valid for exactly one authenticated request.
    SingleUse,
    /// A duration.
    For(Duration),
}

impl ExpiresIn {
    /// Parses `-1`, `0` or a duration such as `30m`, `2h`, `7d`, `4w`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "-1" => Ok(Self::Never),
            "0" => Ok(Self::SingleUse),
            d => match humantime::parse_duration(d) {
                Ok(d) if d.as_secs() >= 1 => Ok(Self::For(d)),
                _ => Err(format!(
                    "`{s}` is not a token lifetime: use -1 (never expires), 0 (single use) or a duration like 30m, 2h, 7d, 4w"
                )),
            },
        }
    }
}

impl Serialize for ExpiresIn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Never => s.serialize_str("-1"),
            Self::SingleUse => s.serialize_str("0"),
            Self::For(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for ExpiresIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Str(String),
        }
        let raw = match Raw::deserialize(d)? {
            Raw::Int(i) => i.to_string(),
            Raw::Str(s) => s,
        };
        ExpiresIn::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// A secret string: never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// The trimmed contents of `file`, the value of the config key `key`
    /// (e.g. `redis.url_file`), which errors name.
    pub fn read_file(key: &str, file: &std::path::Path) -> anyhow::Result<Secret> {
        use anyhow::Context;
        let s = std::fs::read_to_string(file)
            .with_context(|| format!("reading {key} {}", file.display()))?;
        Ok(Secret::new(s.trim()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
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
        match crate::auth::idp::config::from_opengpts_env(|k| std::env::var(k).ok()) {
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
        crate::auth::idp::config::validate(&self.issuers, &self.session_issuer(), &mut problems);
        let issuer_names: Vec<String> = self.issuers.iter().map(|i| i.name.clone()).collect();
        crate::auth::oidc::config::validate(&self.oidc_providers, &issuer_names, &mut problems);
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

impl LdapConfig {
    fn validate(&self, problems: &mut Vec<String>) {
        let url = self.url.to_ascii_lowercase();
        if !(url.starts_with("ldap://") || url.starts_with("ldaps://")) {
            problems.push(format!(
                "ldap.url `{}` must start with ldap:// or ldaps://",
                self.url
            ));
        }
        if self.starttls && url.starts_with("ldaps://") {
            problems
                .push("ldap.starttls applies to ldap:// URLs only; ldaps:// is already TLS".into());
        }
        if self.search_base.trim().is_empty() {
            problems
                .push("ldap.search_base must be set, e.g. \"ou=people,dc=example,dc=org\"".into());
        }
        match (&self.bind_dn, &self.bind_password) {
            (Some(_), None) | (None, Some(_)) => problems.push(
                "set both ldap.bind_dn and ldap.bind_password, or neither (anonymous search)".into(),
            ),
            (Some(_), Some(pw)) if pw.expose().is_empty() => problems.push(
                "ldap.bind_password is empty: an empty password is an anonymous bind; set the password or remove bind_dn".into(),
            ),
            _ => {}
        }
        for (key, value) in [
            ("username_attribute", &self.username_attribute),
            ("mail_attribute", &self.mail_attribute),
            ("name_attribute", &self.name_attribute),
            ("group_attribute", &self.group_attribute),
            ("group_name_attribute", &self.group_name_attribute),
        ] {
            if value.is_empty()
                || !value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ';')
            {
                problems.push(format!("ldap.{key} `{value}` is not an attribute name"));
            }
        }
        if let Some(filter) = &self.search_filter {
            if ldap3::parse_filter(filter).is_err() {
                problems.push(format!(
                    "ldap.search_filter `{filter}` is not an LDAP filter; write it with parentheses, e.g. (objectClass=person)"
                ));
            }
        }
        if self.group_search_base.is_some()
            && ldap3::parse_filter(
                self.group_search_filter
                    .replace("{dn}", "x")
                    .replace("{username}", "x"),
            )
            .is_err()
        {
            problems.push(format!(
                "ldap.group_search_filter `{}` is not an LDAP filter, e.g. (member={{dn}})",
                self.group_search_filter
            ));
        }
        if let Some(ca) = &self.ca_file {
            if !ca.is_file() {
                problems.push(format!("ldap.ca_file {} does not exist", ca.display()));
            }
        }
        if self.connect_timeout.is_zero() || self.operation_timeout.is_zero() {
            problems
                .push("ldap.connect_timeout and ldap.operation_timeout must be above zero".into());
        }
    }
}

impl TrustedHeaderConfig {
    fn validate(&self, problems: &mut Vec<String>) {
        let headers = [
            ("email_header", Some(&self.email_header)),
            ("name_header", self.name_header.as_ref()),
            ("groups_header", self.groups_header.as_ref()),
        ];
        for (key, value) in headers {
            if let Some(value) = value {
                if axum::http::HeaderName::from_bytes(value.as_bytes()).is_err() {
                    problems.push(format!(
                        "trusted_header.{key} `{value}` is not a header name, e.g. X-Forwarded-Email"
                    ));
                }
            }
        }
        if self.trusted_proxies.is_empty() {
            problems.push(
                "trusted_header.trusted_proxies must list the reverse proxies' addresses (CIDRs such as \"10.0.0.5/32\"): headers from anyone else are ignored".into(),
            );
        }
        if let Some(all) = self.trusted_proxies.iter().find(|n| n.prefix_len() == 0) {
            problems.push(format!(
                "trusted_header.trusted_proxies: {all} trusts every address, so anybody could sign in as anybody; list only the proxies"
            ));
        }
        if self.groups_separator.is_empty() {
            problems.push("trusted_header.groups_separator must not be empty".into());
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
mod tests {
    use super::*;

    #[test]
    fn expires_in_forms() {
        assert_eq!(ExpiresIn::parse("-1"), Ok(ExpiresIn::Never));
        assert_eq!(ExpiresIn::parse("0"), Ok(ExpiresIn::SingleUse));
        assert_eq!(
            ExpiresIn::parse("30m"),
            Ok(ExpiresIn::For(Duration::from_secs(1800)))
        );
        assert_eq!(
            ExpiresIn::parse("2h"),
            Ok(ExpiresIn::For(Duration::from_secs(7200)))
        );
        assert_eq!(
            ExpiresIn::parse("7d"),
            Ok(ExpiresIn::For(Duration::from_secs(7 * 86400)))
        );
        assert_eq!(
            ExpiresIn::parse("4w"),
            Ok(ExpiresIn::For(Duration::from_secs(28 * 86400)))
        );
        for bad in ["", "-2", "abc", "5x", "0s", "500ms"] {
            assert!(ExpiresIn::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn env_names_map_to_sections() {
        assert_eq!(section_key("admin_email").as_deref(), Some("admin.email"));
        assert_eq!(
            section_key("server_data_dir").as_deref(),
            Some("server.data_dir")
        );
        assert_eq!(
            section_key("rate_limit_per_ip_per_minute").as_deref(),
            Some("rate_limit.per_ip_per_minute")
        );
        assert_eq!(section_key("bin"), None);
        assert_eq!(section_key("server"), None);
    }

    #[test]
    fn validation_reports_every_problem() {
        let mut c = Config::default();
        c.session.secret = Some(Secret::new("short"));
        c.admin.email = Some("root@example.com".into());
        c.server.public_url = Some("ftp://x/".into());
        let Err(ConfigError::Invalid(problems)) = c.validate() else {
            panic!("expected invalid config")
        };
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn reserved_names_are_refused_for_issuers_and_providers() {
        let problems = |toml: &str| match from_toml(toml).validate() {
            Err(ConfigError::Invalid(p)) => p,
            Ok(()) => Vec::new(),
            Err(e) => panic!("{e}"),
        };
        let issuer = |name: &str| {
            format!(
                "[[issuers]]\nname = \"{name}\"\nissuer = \"https://kc.example\"\naudiences = [\"app\"]\njwks_url = \"https://kc.example/certs\"\n"
            )
        };
        let provider = |name: &str| {
            format!(
                "[[oidc_providers]]\nname = \"{name}\"\nclient_id = \"tessera\"\ndiscovery_url = \"https://kc.example/.well-known/openid-configuration\"\n"
            )
        };
        assert_eq!(
            problems(&(issuer("kc") + &provider("corp"))),
            Vec::<String>::new()
        );
        for name in RESERVED_NAMES {
            for (toml, entry) in [
                (issuer(name), format!("issuer `{name}`")),
                (provider(name), format!("oidc_providers `{name}`")),
            ] {
                let p = problems(&toml);
                assert_eq!(p.len(), 1, "{toml}: {p:?}");
                assert!(p[0].starts_with(&entry), "{p:?}");
                assert!(
                    p[0].contains("is reserved") && p[0].contains("choose another name"),
                    "{p:?}"
                );
            }
        }
        // issuer names are free-form: another casing or blanks do not get round it
        for name in ["LDAP", "Trusted_Header", " local"] {
            assert_eq!(problems(&issuer(name)).len(), 1, "{name}");
        }
        // the sources Tessera's own accounts use are all on the list
        for source in [
            crate::auth::trusted_header::SOURCE,
            crate::http::ldap::SOURCE,
            "local",
        ] {
            assert!(RESERVED_NAMES.contains(&source), "{source}");
        }
    }

    #[test]
    fn secret_debug_is_masked() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }

    fn from_toml(toml: &str) -> Config {
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(toml))
            .extract()
            .unwrap()
    }

    #[test]
    fn database_urls_are_checked_and_never_shown_with_their_password() {
        let problems = |toml: &str| match from_toml(toml).validate() {
            Err(ConfigError::Invalid(p)) => p.join("\n"),
            _ => String::new(),
        };
        assert_eq!(
            problems("[database]\nurl = \"postgresql://t:pw-1@db/t\""),
            ""
        );
        let p = problems("[database]\nurl = \"mysql://t:pw-1@db/t\"");
        assert!(p.contains("only sqlite:, postgres: and postgresql:"), "{p}");
        assert!(
            p.contains("mysql://t:***@db/t") && !p.contains("pw-1"),
            "{p}"
        );
        let p = problems("[database]\nurl = \"sqlite://x.db\"\nurl_file = \"/f\"\nmax_connections = 0\nconnect_timeout_seconds = 0");
        for key in ["url_file", "max_connections", "connect_timeout_seconds"] {
            assert!(p.contains(&format!("database.{key}")), "{key}: {p}");
        }
        let c = from_toml("[database]\nurl = \"postgres://t:pw-1@db/t\"");
        assert!(!format!("{c:?}").contains("pw-1"));

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("db-url");
        std::fs::write(&file, "postgres://t:pw-2@db/t\n").unwrap();
        let c = from_toml(&format!("[database]\nurl_file = {file:?}"));
        assert_eq!(c.database_url().unwrap().expose(), "postgres://t:pw-2@db/t");
        std::fs::write(&file, "mysql://t:pw-2@db/t").unwrap();
        let e = format!("{:#}", c.database_url().unwrap_err());
        assert!(e.contains("only sqlite:") && !e.contains("pw-2"), "{e}");
        let c = from_toml("[server]\ndata_dir = \"/d\"");
        assert_eq!(
            c.database_url().unwrap().expose(),
            "sqlite:///d/tessera.db?mode=rwc"
        );
        assert_eq!(
            c.database_pool(crate::store::Backend::Postgres)
                .max_connections,
            10
        );
    }

    #[test]
    fn password_signin_is_on_unless_turned_off() {
        assert!(from_toml("").password.signin_enabled);
        assert!(
            from_toml("[password]\nmin_length = 10")
                .password
                .signin_enabled
        );
        let off = from_toml("[password]\nsignin_enabled = false");
        assert!(!off.password.signin_enabled);
        assert_eq!(off.password.min_length, 8);
        assert_eq!(
            section_key("password_signin_enabled").as_deref(),
            Some("password.signin_enabled")
        );
    }

    #[test]
    fn ldap_and_trusted_header_sections_parse_and_validate() {
        let c = from_toml(
            r#"
            [ldap]
            url = "ldaps://ldap.example.org"
            bind_dn = "cn=svc,dc=example,dc=org"
            bind_password = "pw"
            search_base = "ou=people,dc=example,dc=org"
            search_filter = "(objectClass=person)"
            operation_timeout = "500ms"
            connect_timeout = 3
            admin_groups = ["admins"]
            [trusted_header]
            email_header = "X-Forwarded-Email"
            trusted_proxies = ["10.0.0.0/8", "::1/128"]
            "#,
        );
        let ldap = c.ldap.as_ref().unwrap();
        assert_eq!(ldap.operation_timeout, Duration::from_millis(500));
        assert_eq!(ldap.connect_timeout, Duration::from_secs(3));
        assert_eq!(ldap.username_attribute, "uid");
        assert!(format!("{ldap:?}").contains("Secret(***)"));
        assert_eq!(c.trusted_header.as_ref().unwrap().trusted_proxies.len(), 2);
        c.validate().unwrap();
        assert!(from_toml("").ldap.is_none());
    }

    #[test]
    fn ldap_and_trusted_header_mistakes_are_reported() {
        let c = from_toml(
            r#"
            [ldap]
            url = "http://ldap"
            starttls = true
            bind_dn = "cn=svc"
            search_filter = "objectClass=person)"
            [trusted_header]
            email_header = "X Forwarded Email"
            trusted_proxies = ["0.0.0.0/0"]
            "#,
        );
        let Err(ConfigError::Invalid(problems)) = c.validate() else {
            panic!("expected invalid config")
        };
        for wanted in [
            "ldap.url",
            "ldap.search_base",
            "ldap.bind_password",
            "ldap.search_filter",
            "trusted_header.email_header",
            "trusts every address",
        ] {
            assert!(
                problems.iter().any(|p| p.contains(wanted)),
                "{wanted} not reported in {problems:?}"
            );
        }
        let bad_cidr = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(
                "[trusted_header]\nemail_header = \"X-E\"\ntrusted_proxies = [\"10.0.0.300/8\"]",
            ))
            .extract::<Config>();
        assert!(bad_cidr.is_err(), "an invalid CIDR fails to load");
    }

    #[test]
    fn redis_section_alias_and_mistakes() {
        let c = from_toml("[redis]\nurl = \"redis://:pw@10.0.0.7:6379/2\"\ntimeout = \"500ms\"");
        c.validate().unwrap();
        let r = c.redis().unwrap();
        assert_eq!(r.key_prefix, "tessera:");
        assert_eq!(r.timeout, Duration::from_millis(500));
        assert!(!format!("{r:?}").contains("pw@"), "Debug masks the URL");
        // the older spelling works, with the defaults
        let old = from_toml("[revocation]\nredis_url = \"rediss://cache.internal\"");
        old.validate().unwrap();
        assert_eq!(
            old.redis().unwrap().url.unwrap().expose(),
            "rediss://cache.internal"
        );
        assert!(from_toml("").redis().is_none());
        assert_eq!(
            section_key("redis_url").as_deref(),
            Some("redis.url"),
            "TESSERA_REDIS_URL"
        );
        for (toml, wanted) in [
            (
                "[redis]\nurl = \"redis://a\"\n[revocation]\nredis_url = \"redis://b\"",
                "older spelling",
            ),
            ("[redis]\nurl = \"http://:pw@a\"", "redis.url"),
            ("[redis]\nkey_prefix = \"x\"", "set redis.url"),
            (
                "[redis]\nurl_file = \"/nonexistent/redis\"",
                "does not exist",
            ),
            (
                "[redis]\nurl = \"redis://a\"\nurl_file = \"/etc/hostname\"",
                "only one",
            ),
            (
                "[redis]\nurl = \"redis://a\"\nkey_prefix = \"a b\"",
                "key_prefix",
            ),
            (
                "[revocation]\nredis_url = \"mysql://a\"",
                "revocation.redis_url",
            ),
        ] {
            let Err(ConfigError::Invalid(problems)) = from_toml(toml).validate() else {
                panic!("{toml} should be refused")
            };
            assert!(
                problems.iter().any(|p| p.contains(wanted)),
                "{wanted} not in {problems:?}"
            );
            assert!(
                problems.iter().all(|p| !p.contains(":pw@")),
                "password shown: {problems:?}"
            );
        }
        assert_eq!(
            crate::store::redacted_url("redis://user:hunter2@h:1/0"),
            "redis://user:***@h:1/0"
        );
    }

    #[test]
    fn embed_origins_are_validated() {
        for good in [
            "https://portal.example.com",
            "http://127.0.0.2:8080",
            "http://[::1]:3000",
        ] {
            assert!(is_origin(good), "{good} should be an origin");
        }
        for bad in [
            "https://portal.example.com/",
            "https://portal.example.com/app",
            "https://PORTAL.example.com",
            "https://portal.example.com:443",
            "portal.example.com",
            "*",
            "ftp://x.example.com",
            "https://*.example.com",
            "https://a;b.example.com",
        ] {
            assert!(!is_origin(bad), "{bad} should be refused");
        }
        let c = from_toml(
            "[embed]\nallowed_origins = [\"https://a.example.com/x\"]\n[injection]\nexpired_redirect = \"/login\"\n",
        );
        let Err(ConfigError::Invalid(problems)) = c.validate() else {
            panic!("expected invalid config")
        };
        assert!(problems.iter().any(|p| p.contains("embed.allowed_origins")));
        assert!(problems
            .iter()
            .any(|p| p.contains("injection.expired_redirect")));
    }
}
