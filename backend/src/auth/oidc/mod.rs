//! SSO sign-in with OAuth 2.0 / OpenID Connect: the provider registry
//! (`[[oidc_providers]]` merged with settings saved in the database, held as
//! an immutable snapshot that a save swaps, so it applies to the next
//! sign-in without a restart) and the sign-in steps the HTTP handlers call:
//! browser login and callback, the one-time hand-over code, the admin's test
//! round trip, the CLI flow and token exchange, and RP-initiated logout. This file holds what they
//! share; each job has its own file.
pub mod browser;
pub mod cli;
pub mod config;
pub mod cookie;
pub mod flow;
pub mod github;
pub mod logout;
pub mod provision;
pub mod refresh;
pub mod registry;
pub mod rp_logout;
pub mod seal;
pub mod sign_in;
pub mod test_round_trip;
pub mod token_exchange;

pub use cli::cli_redirect_uri;

use crate::auth::revocation::Revocations;
use crate::auth::session::SessionKeys;
use crate::clock::Clock;
use crate::config::OidcProviderConfig;
use crate::config::Secret;
use crate::domain::audit::AuditTrail;
use crate::domain::Announce;
use crate::error::{Error, Result};
use crate::replica::single_use::SingleUseStore;
use crate::store::users::Users;
use crate::store::Db;
use cookie::CookieKey;
use flow::Discovered;
use moka::sync::Cache;
use serde_json::{Map, Value};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tessera_shared::error::detail::ACCESS_PROHIBITED;
use tessera_shared::oidc::ProviderKind;

/// How long the hand-over code of `/oauth/complete` is valid, in seconds.
pub const CODE_TTL_SECS: i64 = 60;
/// The 403 detail of a hand-over code redeemed without its browser's binding.
pub const OTHER_BROWSER: &str =
    "This sign-in was completed in another browser; please sign in again here";
/// How long a pending CLI sign-in or a test draft lives, in seconds.
const PENDING_TTL_SECS: i64 = 600;

/// One provider as the snapshot holds it.
pub struct Provider {
    /// Its settings.
    pub config: OidcProviderConfig,
    /// `config` or `database`.
    pub source: &'static str,
    secret: Option<Secret>,
    discovered: tokio::sync::Mutex<Option<Arc<Discovered>>>,
}

impl Provider {
    fn new(config: OidcProviderConfig, source: &'static str) -> std::result::Result<Self, String> {
        let secret = config.secret()?;
        Ok(Self {
            config,
            source,
            secret,
            discovered: tokio::sync::Mutex::new(None),
        })
    }

    /// The discovery document and keys, fetched on first use and again after an hour.
    pub async fn discovered(&self) -> std::result::Result<Arc<Discovered>, String> {
        let mut slot = self.discovered.lock().await;
        if let Some(d) = slot
            .as_ref()
            .filter(|d| d.fetched.elapsed() < flow::DISCOVERY_TTL)
        {
            return Ok(d.clone());
        }
        let d = Arc::new(flow::discover(&self.config).await?);
        *slot = Some(d.clone());
        Ok(d)
    }

    fn secret(&self) -> Option<&str> {
        self.secret.as_ref().map(Secret::expose)
    }
}

/// A failed sign-in: a readable reason for the person, details for the log.
#[derive(Debug)]
pub struct Failure {
    /// Shown on the sign-in page.
    pub reason: String,
    /// Logged at debug level; never a token or a code.
    pub detail: String,
}

fn fail(reason: &str, detail: impl Into<String>) -> Failure {
    Failure {
        reason: reason.into(),
        detail: detail.into(),
    }
}

/// Characters escaped in the `next` value of the fragment.
const FRAGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The sign-in page with a readable reason; the details go to the debug log.
pub fn failed(f: Failure) -> String {
    tracing::debug!(reason = %f.reason, detail = %f.detail, "SSO sign-in failed");
    format!(
        "/signin?error={}",
        percent_encoding::utf8_percent_encode(&f.reason, FRAGMENT)
    )
}

impl From<Failure> for Error {
    fn from(f: Failure) -> Self {
        tracing::debug!(reason = %f.reason, detail = %f.detail, "SSO sign-in failed");
        if f.reason == ACCESS_PROHIBITED {
            Error::Forbidden(ACCESS_PROHIBITED)
        } else if f.reason == provision::UNVERIFIED_EMAIL {
            Error::Forbidden(provision::UNVERIFIED_EMAIL)
        } else {
            Error::BadRequest(f.reason)
        }
    }
}

/// What the callback received.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct CallbackParams {
    /// The authorization code.
    pub code: Option<String>,
    /// The `state`.
    pub state: Option<String>,
    /// An error code.
    pub error: Option<String>,
    /// The error's description.
    pub error_description: Option<String>,
    /// RFC 9207 issuer identification.
    pub iss: Option<String>,
}

/// Claims that passed every check, and how long the provider's token lives.
pub struct Verified {
    /// ID token claims (plus userinfo's), or GitHub's API claims.
    pub claims: Map<String, Value>,
    /// When the session must end (the access token's expiry).
    pub not_after: Option<i64>,
    /// The revocation id of the provider session (its `sid`), when the ID
    /// token names one: a back-channel logout of it ends the session.
    pub ended_by: Option<String>,
    /// The provider's raw ID token (OIDC kinds): kept on the server for
    /// RP-initiated logout's `id_token_hint`; never logged.
    pub id_token: Option<Secret>,
    /// The provider's refresh token, when it granted one: a browser session
    /// then lives as long as the grant ([`refresh`]). Never logged.
    pub refresh_token: Option<Secret>,
    /// How long the provider's access token lives, when it says.
    pub expires_in: Option<Duration>,
}

/// The providers and the sign-ins in progress.
pub struct OidcProviders {
    file: Vec<OidcProviderConfig>,
    current: RwLock<Arc<Vec<Arc<Provider>>>>,
    public_url: String,
    secure: bool,
    issuer_names: Vec<String>,
    /// `[[issuers]]` as (issuer URL, name): a logout of a provider's user
    /// also ends the account its IdP tokens map to.
    issuers: Vec<(String, String)>,
    key: CookieKey,
    /// Seals the refresh tokens of sessions that live as long as their grant.
    sealer: seal::Sealer,
    /// When each such session's grant is next due for renewal, as this
    /// replica last saw it.
    grant_due: Cache<String, i64>,
    http: reqwest::Client,
    db: Db,
    users: Users,
    sessions: Arc<SessionKeys>,
    revocations: Arc<Revocations>,
    once: Arc<dyn SingleUseStore>,
    announcer: Arc<dyn Announce>,
    audit: Arc<dyn AuditTrail>,
    clock: Arc<dyn Clock>,
    drafts: Cache<String, (i64, Arc<Provider>)>,
}

/// What SSO sign-in works with besides its providers, given once at
/// construction.
pub struct Handles {
    /// Saved provider settings and the links of identities to accounts.
    pub db: Db,
    /// The user directory (cached).
    pub users: Users,
    /// Session token keys: a finished sign-in mints a session.
    pub sessions: Arc<SessionKeys>,
    /// Revoked token ids: a back-channel logout revokes a provider session.
    pub revocations: Arc<Revocations>,
    /// Hand-over codes, pending states and nonces, CLI sign-ins and test
    /// reports: in memory, or shared by replicas through Redis.
    pub once: Arc<dyn SingleUseStore>,
    /// Tells the other replicas that saved settings changed.
    pub announcer: Arc<dyn Announce>,
    /// The source of "now".
    pub clock: Arc<dyn Clock>,
}

/// One-time state as stored: when it was made, and what.
#[derive(serde::Serialize, serde::Deserialize)]
struct Stamped<T> {
    at: i64,
    v: T,
}

const CODE: &str = "code";
const REPORT: &str = "report";
const CLI: &str = "cli";
/// A browser sign-in's `state`, usable once.
const STATE: &str = "s";
/// A sign-in's `nonce`, usable once.
const NONCE: &str = "n";

fn secs(s: i64) -> Duration {
    Duration::from_secs(s.max(1) as u64)
}

fn encode<T: serde::Serialize>(at: i64, v: T) -> Result<String> {
    serde_json::to_string(&Stamped { at, v })
        .map_err(|e| Error::Internal(anyhow::anyhow!("encoding one-time state: {e}")))
}

fn decode<T: serde::de::DeserializeOwned>(s: Option<String>) -> Option<Stamped<T>> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

fn ttl_cache<V: Clone + Send + Sync + 'static>(secs: u64) -> Cache<String, V> {
    Cache::builder()
        .max_capacity(100_000)
        .time_to_live(Duration::from_secs(secs))
        .build()
}

/// Whether the kind reads ID tokens.
pub fn is_oidc(kind: ProviderKind) -> bool {
    kind != ProviderKind::Github
}

#[cfg(test)]
mod tests;
