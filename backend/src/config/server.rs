//! `[server]`, `[session]`, `[signup]`, `[admin]`, `[rate_limit]`,
//! `[password]`, `[api_keys]`, `[injection]` and `[embed]`: Tessera's own
//! sections.
use super::values::{is_origin, ExpiresIn, Secret};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tessera_shared::Role;

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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbedConfig {
    /// Origins (`scheme://host[:port]`) that may frame the SPA and post it
    /// tokens; none by default (`frame-ancestors 'none'`).
    pub allowed_origins: Vec<String>,
    /// Render the dashboard without navigation chrome even without `?embed=1`.
    pub always: bool,
    /// Seconds an embed ticket may wait to be redeemed (1 to 60).
    pub ticket_expires_in: u64,
}

impl Default for EmbedConfig {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            always: false,
            ticket_expires_in: 60,
        }
    }
}

impl InjectionConfig {
    pub(super) fn validate(&self, problems: &mut Vec<String>) {
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
    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        if !(1..=60).contains(&self.ticket_expires_in) {
            problems.push(format!(
                "embed.ticket_expires_in = {} must be 1 to 60 (seconds)",
                self.ticket_expires_in
            ));
        }
        for origin in &self.allowed_origins {
            if !is_origin(origin) {
                problems.push(format!(
                    "embed.allowed_origins: `{origin}` is not an origin; write scheme://host[:port] with no path, e.g. https://portal.example.com"
                ));
            }
        }
    }
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
    /// One log line per request (method, path without the query, status,
    /// time taken) and each request's span around what it logs. Off by
    /// default: it costs a good part of the throughput. Errors and security
    /// events are logged either way. `TESSERA_SERVER_LOG_REQUESTS`.
    pub log_requests: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            public_url: None,
            static_dir: PathBuf::from("dist"),
            name: "Tessera".into(),
            log_requests: false,
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

impl ServerConfig {
    pub(super) fn check_public_url(&self, problems: &mut Vec<String>) {
        if let Some(url) = &self.public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) || url.ends_with('/') {
                problems.push(format!(
                    "server.public_url `{url}` must start with http:// or https:// and have no trailing slash"
                ));
            }
        }
    }

    pub(super) fn check_name(&self, problems: &mut Vec<String>) {
        if self.name.trim().is_empty() {
            problems.push("server.name must not be empty".into());
        }
    }
}

/// `[session]` and `[api_keys]`: a `secret` long enough, and not beside a `secret_file`.
pub(super) fn check_secret(
    section: &str,
    secret: &Option<Secret>,
    file: &Option<PathBuf>,
    problems: &mut Vec<String>,
) {
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

impl SessionConfig {
    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        if !matches!(self.exchanged_expires_in, ExpiresIn::For(_)) {
            problems.push(
                "session.exchanged_expires_in must be a duration like 30m or 8h (not -1 or 0): sessions minted from another credential always expire".into(),
            );
        }
    }
}

impl AdminConfig {
    /// Both or neither of e-mail and password; the password at least `min_length`.
    pub(super) fn validate(&self, min_length: usize, problems: &mut Vec<String>) {
        match (&self.email, &self.password) {
            (Some(_), None) | (None, Some(_)) => problems.push(
                "set both admin.email and admin.password (TESSERA_ADMIN_EMAIL, TESSERA_ADMIN_PASSWORD), or neither".into(),
            ),
            (Some(email), Some(pw)) => {
                if !crate::domain::is_plausible_email(email) {
                    problems.push(format!("admin.email `{email}` is not an e-mail address"));
                }
                if pw.expose().chars().count() < min_length {
                    problems.push(format!(
                        "admin.password is shorter than password.min_length ({min_length})"
                    ));
                }
            }
            (None, None) => {}
        }
    }
}

impl RateLimitConfig {
    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        if [
            self.per_ip_per_minute,
            self.per_account_per_minute,
            self.mint_per_ip_per_minute,
            self.mint_per_account_per_minute,
        ]
        .contains(&0)
        {
            problems.push("rate_limit values must be at least 1 a minute".into());
        }
    }
}

impl PasswordConfig {
    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        if self.min_length < 8 {
            problems.push("password.min_length must be at least 8".into());
        }
    }
}

impl ApiKeysConfig {
    pub(super) fn check_unknown_allowance(&self, problems: &mut Vec<String>) {
        if self.unknown_per_ip_per_minute == 0 {
            problems.push("api_keys.unknown_per_ip_per_minute must be at least 1".into());
        }
    }

    pub(super) fn check_endpoints(&self, problems: &mut Vec<String>) {
        for endpoint in &self.allowed_endpoints {
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
    }
}
