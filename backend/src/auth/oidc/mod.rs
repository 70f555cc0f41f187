//! SSO sign-in with OAuth 2.0 / OpenID Connect: the provider registry
//! (`[[oidc_providers]]` merged with settings saved in the database, held as
//! an immutable snapshot that a save swaps, so it applies to the next
//! sign-in without a restart) and the sign-in steps the HTTP handlers call:
//! browser login and callback, the one-time hand-over code, the admin's test
//! round trip, the CLI flow and token exchange.
pub mod config;
pub mod cookie;
pub mod flow;
pub mod github;
pub mod provision;

use crate::config::Secret;
use crate::error::{Error, Result};
use crate::replica::single_use::SingleUseStore;
use crate::state::AppState;
use crate::store::oidc::SavedProvider;
use config::OidcProviderConfig;
use cookie::{CookieKey, FlowState};
use flow::Discovered;
use moka::sync::Cache;
use serde_json::{Map, Value};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tessera_shared::error::detail::ACCESS_PROHIBITED;
use tessera_shared::oidc::{
    CliFinishForm, CliStartForm, CliStarted, OidcProviderLink, OidcProviderSettings,
    OidcTestReport, OidcTestStarted, ProviderKind, ResponseMode,
};
use tessera_shared::{AuthMethod, SessionUser};

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
}

/// A hand-over code's session, for the browser holding the binding secret
/// whose SHA-256 is `binding`.
#[derive(serde::Serialize, serde::Deserialize)]
struct HandOver {
    session: SessionUser,
    binding: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct CliPending {
    provider: String,
    redirect_uri: String,
    nonce: String,
    verifier: String,
    client_nonce: String,
    exp: i64,
}

/// The providers and the sign-ins in progress.
pub struct OidcProviders {
    file: Vec<OidcProviderConfig>,
    current: RwLock<Arc<Vec<Arc<Provider>>>>,
    public_url: String,
    secure: bool,
    issuer_names: Vec<String>,
    key: CookieKey,
    http: reqwest::Client,
    /// Hand-over codes, pending states and nonces, CLI sign-ins and test
    /// reports: in memory, or shared by replicas through Redis.
    once: Arc<dyn SingleUseStore>,
    drafts: Cache<String, (i64, Arc<Provider>)>,
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
/// The reason shown when the callback finds no usable sign-in cookie.
const NOT_STARTED: &str = "No sign-in was started in this browser, or it expired; please try again";
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

impl OidcProviders {
    /// The registry of `config`'s providers; database settings are merged in
    /// by [`OidcProviders::reload`].
    pub fn new(
        config: &crate::Config,
        session_secret: &[u8],
        once: Arc<dyn SingleUseStore>,
    ) -> anyhow::Result<Self> {
        let public_url = config
            .server
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", config.server.listen));
        let list = config
            .oidc_providers
            .iter()
            .map(|c| Provider::new(c.clone(), "config").map(Arc::new))
            .collect::<std::result::Result<Vec<_>, String>>()
            .map_err(anyhow::Error::msg)?;
        Ok(Self {
            file: config.oidc_providers.clone(),
            current: RwLock::new(Arc::new(list)),
            secure: public_url.starts_with("https://"),
            public_url,
            issuer_names: config.issuers.iter().map(|i| i.name.clone()).collect(),
            key: CookieKey::derive(session_secret),
            http: flow::token_client().map_err(anyhow::Error::msg)?,
            once,
            drafts: ttl_cache(PENDING_TTL_SECS as u64),
        })
    }

    /// The current snapshot.
    pub fn providers(&self) -> Arc<Vec<Arc<Provider>>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The provider called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Provider>> {
        self.providers()
            .iter()
            .find(|p| p.config.name == name)
            .cloned()
    }

    /// One sign-in button per provider.
    pub fn links(&self) -> Vec<OidcProviderLink> {
        self.providers()
            .iter()
            .map(|p| OidcProviderLink {
                name: p.config.name.clone(),
                display_name: p.config.label(),
            })
            .collect()
    }

    /// The redirect URI of `name`.
    pub fn redirect_uri(&self, name: &str) -> String {
        format!("{}/oauth/{name}/callback", self.public_url)
    }

    /// Whether cookies get `Secure`.
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Builds the snapshot again from the config file and the database, and
    /// swaps it in. A saved row that no longer validates is skipped with a warning.
    pub async fn reload(&self, db: &crate::store::Db) -> Result<()> {
        let rows = db.oidc_providers().await?;
        let mut list: Vec<Arc<Provider>> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for file in &self.file {
            let row = rows.iter().find(|r| r.name == file.name);
            let built = match row {
                Some(r) => self.config_of_row(r).map(|c| (c, "database")),
                None => Ok((file.clone(), "config")),
            };
            match built.and_then(|(c, src)| Provider::new(c, src)) {
                Ok(p) => list.push(Arc::new(p)),
                Err(e) => {
                    tracing::warn!(provider = %file.name, error = %e, "saved SSO settings unusable; using the config file's");
                    if let Ok(p) = Provider::new(file.clone(), "config") {
                        list.push(Arc::new(p));
                    }
                }
            }
            seen.insert(file.name.clone());
        }
        for r in rows.iter().filter(|r| !seen.contains(&r.name)) {
            match self
                .config_of_row(r)
                .and_then(|c| Provider::new(c, "database"))
            {
                Ok(p) => list.push(Arc::new(p)),
                Err(e) => {
                    tracing::warn!(provider = %r.name, error = %e, "saved SSO provider unusable; skipped")
                }
            }
        }
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(list);
        Ok(())
    }

    /// A saved row as a provider config (file-only keys kept from the file).
    fn config_of_row(&self, r: &SavedProvider) -> std::result::Result<OidcProviderConfig, String> {
        let settings: OidcProviderSettings =
            serde_json::from_str(&r.settings).map_err(|e| format!("unreadable settings: {e}"))?;
        let mut c = OidcProviderConfig::from_settings(&settings);
        c.name = r.name.clone();
        let file = self.file.iter().find(|f| f.name == r.name);
        self.inherit(&mut c, file);
        c.client_secret = match (&r.client_secret, file) {
            (Some(s), _) => Some(Secret::new(s.clone())),
            (None, Some(f)) => f.secret()?,
            (None, None) => None,
        };
        let problems = c.problems();
        if let Some(p) = problems.first() {
            return Err(p.clone());
        }
        Ok(c)
    }

    /// Keys the admin settings do not carry come from the config file.
    fn inherit(&self, c: &mut OidcProviderConfig, file: Option<&OidcProviderConfig>) {
        if let Some(f) = file {
            c.allow_insecure_http = f.allow_insecure_http;
            c.authorization_endpoint = f.authorization_endpoint.clone();
            c.token_endpoint = f.token_endpoint.clone();
            c.api_url = f.api_url.clone();
        }
    }

    /// Remembers the `state` (`s`) or `nonce` (`n`) of a sign-in that starts
    /// as usable once, for `ttl_secs`.
    async fn allow_once(&self, kind: &str, value: &str, ttl_secs: i64) -> Result<()> {
        self.once.put(kind, value, "1".into(), secs(ttl_secs)).await
    }

    /// Uses a `state` (`s`) or `nonce` (`n`): true only for one remembered
    /// by [`Self::allow_once`] and not used yet (on any replica). Absence
    /// means "not usable": a value never started here, used, expired or lost
    /// to eviction is refused, so losing state never lets a replay through.
    pub async fn use_once(&self, kind: &str, value: &str) -> Result<bool> {
        Ok(self.once.take(kind, value).await?.is_some())
    }

    // ---- admin settings ------------------------------------------------

    /// Every provider's settings; secrets never included.
    pub fn settings(&self) -> Vec<OidcProviderSettings> {
        self.providers()
            .iter()
            .map(|p| {
                let mut s = p.config.to_settings(p.source);
                s.client_secret_set = p.secret.is_some();
                s
            })
            .collect()
    }

    /// Unsaved settings as a provider config: a null secret means the stored
    /// one. 422 with every problem when they do not make sense.
    fn draft(&self, name: &str, s: &OidcProviderSettings) -> Result<OidcProviderConfig> {
        if let Some(problem) = crate::config::reserved_name_problem("name", name) {
            return Err(Error::BadRequest(problem));
        }
        if !s.name.is_empty() && s.name != name {
            return Err(Error::Unprocessable(format!(
                "name: `{}` differs from the provider in the path `{name}`",
                s.name
            )));
        }
        let mut c = OidcProviderConfig::from_settings(s);
        c.name = name.to_owned();
        let file = self.file.iter().find(|f| f.name == name);
        self.inherit(&mut c, file);
        match s.client_secret.as_deref() {
            // keep the stored secret (or, once a saved one is removed, the file's)
            None => c.client_secret = self.get(name).and_then(|p| p.secret.clone()),
            Some("") => c.client_secret = file.and_then(|f| f.secret().ok().flatten()),
            Some(_) => {}
        }
        let mut problems = Vec::new();
        config::validate(std::slice::from_ref(&c), &self.issuer_names, &mut problems);
        if !problems.is_empty() {
            return Err(Error::Unprocessable(problems.join("; ")));
        }
        Ok(c)
    }

    /// Saves a provider's settings; they apply to the next sign-in.
    pub async fn save(
        &self,
        state: &AppState,
        name: &str,
        s: &OidcProviderSettings,
    ) -> Result<OidcProviderSettings> {
        let c = self.draft(name, s)?;
        let stored_secret = match &s.client_secret {
            Some(new) if new.is_empty() => None,
            Some(new) => Some(new.clone()),
            None => state
                .db
                .oidc_providers()
                .await?
                .into_iter()
                .find(|r| r.name == name)
                .and_then(|r| r.client_secret),
        };
        let mut clean = c.to_settings("database");
        clean.client_secret = None;
        clean.client_secret_set = false;
        let row = SavedProvider {
            name: name.to_owned(),
            settings: serde_json::to_string(&clean)
                .map_err(|e| Error::Internal(anyhow::anyhow!("encoding settings: {e}")))?,
            client_secret: stored_secret,
        };
        state.db.save_oidc_provider(&row, state.clock.now()).await?;
        self.reload(&state.db).await?;
        state
            .replica
            .announce(&crate::domain::Event::OidcProviders)
            .await?;
        tracing::info!(provider = %name, "SSO provider settings saved");
        self.settings()
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| {
                Error::Unprocessable(format!("the saved settings of `{name}` cannot be used"))
            })
    }

    /// Deletes saved settings: a config-file provider falls back to its file.
    pub async fn delete(&self, state: &AppState, name: &str) -> Result<()> {
        if !state.db.delete_oidc_provider(name).await? {
            return Err(Error::NotFound("No saved settings for this provider"));
        }
        self.reload(&state.db).await?;
        state
            .replica
            .announce(&crate::domain::Event::OidcProviders)
            .await?;
        tracing::info!(provider = %name, "SSO provider settings deleted");
        Ok(())
    }

    /// Runs discovery for unsaved settings and prepares a test round trip.
    pub async fn test_start(
        &self,
        state: &AppState,
        s: &OidcProviderSettings,
    ) -> Result<OidcTestStarted> {
        let c = self.draft(&s.name, s)?;
        let name = c.name.clone();
        let provider = Provider::new(c, "database").map_err(Error::Unprocessable)?;
        let d = provider
            .discovered()
            .await
            .map_err(|e| Error::BadGateway(format!("Discovery failed: {e}")))?;
        let id = cookie::random(24);
        self.drafts
            .insert(id.clone(), (state.clock.now(), Arc::new(provider)));
        Ok(OidcTestStarted {
            issuer: d.issuer.clone(),
            login_url: format!("/oauth/{name}/login?test={id}"),
        })
    }

    /// The report of a finished test round trip (single use).
    pub async fn test_result(&self, state: &AppState, code: &str) -> Result<OidcTestReport> {
        match decode::<OidcTestReport>(self.once.take(REPORT, code).await?) {
            Some(r) if state.clock.now() < r.at + PENDING_TTL_SECS => Ok(r.v),
            _ => Err(Error::NotFound("No such test result (it is shown once)")),
        }
    }

    // ---- browser flow ----------------------------------------------------

    /// Starts a sign-in: the provider's URL and the `Set-Cookie` value.
    pub async fn login(
        &self,
        state: &AppState,
        name: &str,
        next: Option<&str>,
        test: Option<&str>,
    ) -> std::result::Result<(String, String), Failure> {
        let next = match next.filter(|n| !n.is_empty()) {
            Some(n) if flow::valid_next(n) => Some(n.to_owned()),
            Some(_) => {
                return Err(fail(
                    "The page to return to must be a path on this site",
                    "next refused",
                ))
            }
            None => None,
        };
        let provider = self.provider_for(state, name, test)?;
        let d = provider
            .discovered()
            .await
            .map_err(|e| fail("The sign-in provider could not be reached", e))?;
        let started = flow::authorization_url(
            &provider.config,
            &d,
            &self.redirect_uri(name),
            provider.config.response_mode == ResponseMode::FormPost,
        )
        .map_err(|e| fail("The sign-in provider is misconfigured", e))?;
        let unavailable =
            |e: Error| fail("Sign-in state unavailable; please try again", e.to_string());
        self.allow_once(STATE, &started.state, cookie::LIFETIME_SECS)
            .await
            .map_err(unavailable)?;
        if d.id_tokens.is_some() {
            self.allow_once(NONCE, &started.nonce, cookie::LIFETIME_SECS)
                .await
                .map_err(unavailable)?;
        }
        let fs = FlowState {
            provider: name.to_owned(),
            state: started.state,
            nonce: started.nonce,
            verifier: started.verifier,
            next,
            test: test.map(String::from),
            exp: state.clock.now() + cookie::LIFETIME_SECS,
        };
        Ok((
            started.url,
            cookie::set_cookie(&self.key.seal(&fs), self.secure),
        ))
    }

    fn provider_for(
        &self,
        state: &AppState,
        name: &str,
        test: Option<&str>,
    ) -> std::result::Result<Arc<Provider>, Failure> {
        match test {
            Some(id) => match self.drafts.get(id) {
                Some((at, p))
                    if p.config.name == name && state.clock.now() < at + PENDING_TTL_SECS =>
                {
                    Ok(p)
                }
                _ => Err(fail(
                    "The test has expired; start it again",
                    "unknown test id",
                )),
            },
            None => self
                .get(name)
                .ok_or_else(|| fail("Unknown sign-in provider", format!("no provider `{name}`"))),
        }
    }

    /// Handles the provider's redirect; answers the path to send the browser
    /// to and, when a hand-over code was issued, the `Set-Cookie` value that
    /// binds it to this browser.
    pub async fn callback(
        &self,
        state: &AppState,
        name: &str,
        params: &CallbackParams,
        cookie_value: Option<&str>,
    ) -> (String, Option<String>) {
        let now = state.clock.now();
        let fs = match cookie_value
            .ok_or("no sign-in cookie")
            .and_then(|v| self.key.open(v, name, now))
        {
            Ok(fs) => fs,
            Err(e) => return (failed(fail(NOT_STARTED, e)), None),
        };
        let result = self.finish_browser(state, name, params, &fs).await;
        let location = match (result, &fs.test) {
            (Ok(landing), _) => return landing,
            (Err(f), Some(_)) => {
                tracing::debug!(reason = %f.reason, detail = %f.detail, "SSO test failed");
                self.store_report(
                    state,
                    OidcTestReport {
                        ok: false,
                        detail: format!("{}: {}", f.reason, f.detail),
                        claims: Value::Null,
                        role: None,
                        groups: Vec::new(),
                    },
                )
                .await
            }
            (Err(f), None) => failed(f),
        };
        (location, None)
    }

    async fn store_report(&self, state: &AppState, r: OidcTestReport) -> String {
        let code = cookie::random(32);
        let stored = match encode(state.clock.now(), r) {
            Ok(v) => {
                self.once
                    .put(REPORT, &code, v, secs(PENDING_TTL_SECS))
                    .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = stored {
            return failed(fail("The test result could not be kept", e.to_string()));
        }
        format!("/settings/security/test#code={code}")
    }

    async fn finish_browser(
        &self,
        state: &AppState,
        name: &str,
        params: &CallbackParams,
        fs: &FlowState,
    ) -> std::result::Result<(String, Option<String>), Failure> {
        if let Some(error) = &params.error {
            let desc: String = params
                .error_description
                .as_deref()
                .unwrap_or("")
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect();
            return Err(fail(
                &format!(
                    "The provider refused the sign-in: {}{}",
                    error
                        .chars()
                        .filter(|c| c.is_ascii_graphic())
                        .take(64)
                        .collect::<String>(),
                    if desc.is_empty() {
                        String::new()
                    } else {
                        format!(" ({desc})")
                    }
                ),
                "error from the provider",
            ));
        }
        let got_state = params.state.as_deref().unwrap_or("");
        if !cookie::same(got_state, &fs.state) {
            return Err(fail(
                "The sign-in response does not belong to this browser's sign-in; please try again",
                "state mismatch",
            ));
        }
        if !self
            .use_once(STATE, got_state)
            .await
            .map_err(|e| fail("Sign-in state unavailable; please try again", e.to_string()))?
        {
            return Err(fail(
                "This sign-in was already completed or has expired; please sign in again",
                "state used, expired or not started here",
            ));
        }
        let code = params
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| fail("The provider sent no authorization code", "code missing"))?;
        let provider = self.provider_for(state, name, fs.test.as_deref())?;
        let verified = self
            .verify_code(
                state,
                &provider,
                &self.redirect_uri(name),
                code,
                &fs.verifier,
                &fs.nonce,
                params.iss.as_deref(),
            )
            .await;
        if fs.test.is_some() {
            return Ok((self.test_report(state, &provider, verified).await, None));
        }
        let verified = verified?;
        let user = self.account(state, &provider, &verified).await?;
        let session = self.session(state, &user, verified.not_after)?;
        let hand_over = cookie::random(32);
        let binding = cookie::random(32);
        let stored = HandOver {
            session,
            binding: cookie::binding_hash(&binding),
        };
        let kept = match encode(state.clock.now(), stored) {
            Ok(v) => {
                self.once
                    .put(CODE, &hand_over, v, secs(CODE_TTL_SECS))
                    .await
            }
            Err(e) => Err(e),
        };
        kept.map_err(|e| fail("Sign-in state unavailable; please try again", e.to_string()))?;
        let mut location = format!("/oauth/complete#code={hand_over}");
        if let Some(next) = &fs.next {
            location.push_str("&next=");
            location.push_str(&percent_encoding::utf8_percent_encode(next, FRAGMENT).to_string());
        }
        let set_cookie = cookie::set_binding_cookie(
            &binding,
            tessera_shared::routes::OAUTH_COMPLETE,
            CODE_TTL_SECS,
            self.secure,
        );
        Ok((location, Some(set_cookie)))
    }

    /// The `Set-Cookie` value that clears the hand-over binding.
    pub fn clear_binding(&self) -> String {
        cookie::clear_binding_cookie(tessera_shared::routes::OAUTH_COMPLETE, self.secure)
    }

    async fn test_report(
        &self,
        state: &AppState,
        provider: &Provider,
        verified: std::result::Result<Verified, Failure>,
    ) -> String {
        let report = match verified {
            Err(f) => OidcTestReport {
                ok: false,
                detail: format!("{}: {}", f.reason, f.detail),
                claims: Value::Null,
                role: None,
                groups: Vec::new(),
            },
            Ok(v) => {
                let claims = Value::Object(v.claims.clone());
                match provision::read_claims(&provider.config, &v.claims) {
                    Err(e) => OidcTestReport {
                        ok: false,
                        detail: format!("The claims cannot be used: {e}"),
                        claims,
                        role: None,
                        groups: Vec::new(),
                    },
                    Ok(a) => match provision::role(&provider.config, &a) {
                        Ok(role) => OidcTestReport {
                            ok: true,
                            detail: format!(
                                "{} ({}) would sign in as {role}",
                                a.name,
                                if a.email.is_empty() {
                                    &a.subject
                                } else {
                                    &a.email
                                }
                            ),
                            claims,
                            role: Some(role),
                            groups: a.groups,
                        },
                        Err(_) => OidcTestReport {
                            ok: false,
                            detail: format!(
                                "{ACCESS_PROHIBITED}: {} is in none of the allowed groups",
                                a.name
                            ),
                            claims,
                            role: None,
                            groups: a.groups,
                        },
                    },
                }
            }
        };
        self.store_report(state, report).await
    }

    /// The session of a finished browser sign-in (single use, 60 s), for
    /// the browser whose callback issued the code only: `binding` is its
    /// `tessera_handover` cookie. Unknown, used or expired: 401. Without the
    /// right binding (another browser, e.g. a victim sent an attacker's
    /// code): 403, and the code is left for its own browser — consuming it
    /// would give a holder of the code nothing but the power to cancel it.
    pub async fn complete(
        &self,
        state: &AppState,
        code: &str,
        binding: Option<&str>,
    ) -> Result<SessionUser> {
        let now = state.clock.now();
        let gone = || Error::InvalidToken("unknown, used or expired sign-in code");
        let live = |s: &Stamped<HandOver>| now < s.at + CODE_TTL_SECS;
        let bound = |h: &HandOver| {
            binding.is_some_and(|b| cookie::same(&cookie::binding_hash(b), &h.binding))
        };
        let peeked = decode::<HandOver>(self.once.peek(CODE, code).await?)
            .filter(live)
            .ok_or_else(gone)?;
        if !bound(&peeked.v) {
            tracing::debug!("hand-over code presented without its browser's binding");
            return Err(Error::Forbidden(OTHER_BROWSER));
        }
        match decode::<HandOver>(self.once.take(CODE, code).await?) {
            Some(s) if live(&s) && bound(&s.v) => Ok(s.v.session),
            _ => Err(gone()),
        }
    }

    /// Exchanges the code, verifies the ID token (or reads GitHub's API) and
    /// reads userinfo when claims are missing.
    #[allow(clippy::too_many_arguments)]
    async fn verify_code(
        &self,
        state: &AppState,
        provider: &Provider,
        redirect_uri: &str,
        code: &str,
        verifier: &str,
        nonce: &str,
        iss: Option<&str>,
    ) -> std::result::Result<Verified, Failure> {
        let cfg = &provider.config;
        let d = provider
            .discovered()
            .await
            .map_err(|e| fail("The sign-in provider could not be reached", e))?;
        if iss.is_some_and(|i| i != d.issuer) {
            return Err(fail(
                "The sign-in response came from another issuer",
                "iss parameter mismatch (RFC 9207)",
            ));
        }
        let tokens = flow::exchange(
            &self.http,
            cfg,
            provider.secret(),
            &d,
            redirect_uri,
            code,
            verifier,
        )
        .await
        .map_err(|e| fail("The provider did not accept the sign-in", e))?;
        let now = state.clock.now();
        let claims = match &d.id_tokens {
            Some(v) => {
                let id_token = tokens
                    .id_token
                    .as_deref()
                    .ok_or_else(|| fail("The provider sent no ID token", "no id_token"))?;
                let mut claims = v
                    .verify(id_token, now, Some(nonce))
                    .await
                    .map_err(|e| fail("The provider's ID token was refused", e))?;
                if !self.use_once(NONCE, nonce).await.map_err(|e| {
                    fail("Sign-in state unavailable; please try again", e.to_string())
                })? {
                    return Err(fail(
                        "The provider's ID token was refused",
                        "nonce used, expired or not started here",
                    ));
                }
                if !provision::has_configured_claims(cfg, &claims) {
                    if let Some(ui) = &d.userinfo_endpoint {
                        match flow::get_with_token(&self.http, ui, &tokens.access_token).await {
                            Ok(Value::Object(info)) => provision::merge_userinfo(&mut claims, info)
                                .map_err(|e| fail("The provider's user info was refused", e))?,
                            Ok(_) => {
                                return Err(fail(
                                    "The provider's user info was refused",
                                    "userinfo is not an object",
                                ))
                            }
                            Err(e) => {
                                return Err(fail("The provider's user info could not be read", e))
                            }
                        }
                    }
                }
                claims
            }
            None => {
                let api = d.userinfo_endpoint.as_deref().unwrap_or(config::GITHUB_API);
                github::claims(&self.http, api, &tokens.access_token)
                    .await
                    .map_err(|e| fail("GitHub's user could not be read", e))?
            }
        };
        if cfg.verbose {
            tracing::info!(provider = %cfg.name, claims = %serde_json::Value::Object(claims.clone()), "SSO claims received");
        }
        Ok(Verified {
            claims,
            not_after: tokens
                .expires_in
                .map(|d| now.saturating_add(d.as_secs().min(i64::MAX as u64 / 2) as i64)),
        })
    }

    async fn account(
        &self,
        state: &AppState,
        provider: &Provider,
        v: &Verified,
    ) -> std::result::Result<Arc<crate::domain::User>, Failure> {
        let a = provision::read_claims(&provider.config, &v.claims)
            .map_err(|e| fail("The provider's claims cannot be used", e))?;
        match provision::provision(state, &provider.config, &a).await {
            Ok(u) => {
                tracing::info!(provider = %provider.config.name, user = %u.id, role = %u.role, "signed in with SSO");
                Ok(u)
            }
            Err(Error::Forbidden(ACCESS_PROHIBITED)) => Err(fail(
                ACCESS_PROHIBITED,
                format!("subject {} is in none of the allowed groups", a.subject),
            )),
            Err(Error::Forbidden(provision::UNVERIFIED_EMAIL)) => Err(fail(
                provision::UNVERIFIED_EMAIL,
                format!("subject {}: e-mail not verified by the provider", a.subject),
            )),
            Err(e) => {
                tracing::error!(error = %e, "provisioning an SSO user failed");
                Err(fail(
                    "The account could not be set up",
                    "provisioning failed",
                ))
            }
        }
    }

    fn session(
        &self,
        state: &AppState,
        user: &crate::domain::User,
        not_after: Option<i64>,
    ) -> std::result::Result<SessionUser, Failure> {
        let (token, claims) = state
            .sessions
            .mint(
                user,
                state.clock.now(),
                crate::auth::session::Origin::SignIn { not_after },
            )
            .map_err(|e| fail("The session could not be issued", e.to_string()))?;
        Ok(crate::auth::session_user(
            user,
            token,
            claims.exp,
            AuthMethod::Session,
        ))
    }

    // ---- CLI -------------------------------------------------------------

    /// `tessera login`: the authorization URL for its loopback listener.
    pub async fn cli_start(
        &self,
        state: &AppState,
        name: &str,
        form: &CliStartForm,
    ) -> Result<CliStarted> {
        let redirect_uri = cli_redirect_uri(&form.redirect_uri).ok_or_else(|| {
            Error::BadRequest(
                "redirect_uri must be http://localhost:{port}/oidc/callback or http://127.0.0.1:{port}/oidc/callback"
                    .into(),
            )
        })?;
        if !(16..=256).contains(&form.client_nonce.len()) {
            return Err(Error::BadRequest(
                "client_nonce must be 16 to 256 characters".into(),
            ));
        }
        let provider = self
            .get(name)
            .ok_or(Error::NotFound("Unknown sign-in provider"))?;
        let d = provider.discovered().await.map_err(|e| {
            tracing::debug!(provider = %name, error = %e, "discovery failed");
            Error::BadGateway("The sign-in provider could not be reached".into())
        })?;
        let started =
            flow::authorization_url(&provider.config, &d, &redirect_uri, false).map_err(|e| {
                Error::BadGateway(format!("The sign-in provider is misconfigured: {e}"))
            })?;
        let now = state.clock.now();
        if d.id_tokens.is_some() {
            self.allow_once(NONCE, &started.nonce, PENDING_TTL_SECS)
                .await?;
        }
        let pending = CliPending {
            provider: name.to_owned(),
            redirect_uri,
            nonce: started.nonce,
            verifier: started.verifier,
            client_nonce: form.client_nonce.clone(),
            exp: now + PENDING_TTL_SECS,
        };
        self.once
            .put(
                CLI,
                &started.state,
                encode(now, pending)?,
                secs(PENDING_TTL_SECS),
            )
            .await?;
        Ok(CliStarted {
            auth_url: started.url,
        })
    }

    /// `tessera login`: the callback's code for a session.
    pub async fn cli_finish(
        &self,
        state: &AppState,
        name: &str,
        form: &CliFinishForm,
    ) -> Result<SessionUser> {
        let pending = decode::<CliPending>(self.once.take(CLI, &form.state).await?)
            .map(|s| s.v)
            .filter(|p| state.clock.now() < p.exp && p.provider == name)
            .ok_or_else(|| {
                Error::BadRequest("No such CLI sign-in (unknown, used or expired state)".into())
            })?;
        if !cookie::same(&form.client_nonce, &pending.client_nonce) {
            return Err(Error::BadRequest(
                "client_nonce does not match the one that started this sign-in".into(),
            ));
        }
        let provider = self
            .get(name)
            .ok_or(Error::NotFound("Unknown sign-in provider"))?;
        let verified = self
            .verify_code(
                state,
                &provider,
                &pending.redirect_uri,
                &form.code,
                &pending.verifier,
                &pending.nonce,
                None,
            )
            .await?;
        let user = self.account(state, &provider, &verified).await?;
        Ok(self.session(state, &user, verified.not_after)?)
    }

    // ---- token exchange --------------------------------------------------

    /// A provider access token for a Tessera session: verified as a JWT of
    /// the provider (`aud` must hold the client id) when it is one, else
    /// vouched for by the userinfo endpoint (GitHub: its API).
    pub async fn token_exchange(
        &self,
        state: &AppState,
        name: &str,
        token: &str,
    ) -> Result<SessionUser> {
        let provider = self
            .get(name)
            .ok_or(Error::NotFound("Unknown sign-in provider"))?;
        if token.is_empty() || token.len() > crate::auth::MAX_CREDENTIAL_BYTES {
            return Err(Error::InvalidToken("token empty or too long"));
        }
        let d = provider.discovered().await.map_err(|e| {
            tracing::debug!(provider = %name, error = %e, "discovery failed");
            Error::BadGateway("The sign-in provider could not be reached".into())
        })?;
        let now = state.clock.now();
        let own_jwt = d.id_tokens.as_ref().filter(|_| {
            crate::auth::idp::token::parse(token, crate::auth::MAX_CREDENTIAL_BYTES)
                .ok()
                .and_then(|p| p.registered.iss)
                .is_some_and(|iss| iss == d.issuer)
        });
        let (claims, not_after) = match own_jwt {
            Some(v) => {
                let claims = v
                    .verify(token, now, None)
                    .await
                    .map_err(Error::InvalidToken)?;
                let exp = claims.get("exp").and_then(Value::as_i64);
                (claims, exp)
            }
            None => {
                let claims = match (&d.id_tokens, d.userinfo_endpoint.as_deref()) {
                    (None, api) => {
                        github::claims(&self.http, api.unwrap_or(config::GITHUB_API), token).await
                    }
                    (Some(_), Some(ui)) => {
                        match flow::get_with_token(&self.http, ui, token).await {
                            Ok(Value::Object(m)) => Ok(m),
                            Ok(_) => Err("userinfo is not an object".into()),
                            Err(e) => Err(e),
                        }
                    }
                    (Some(_), None) => Err("the provider has no userinfo endpoint".into()),
                };
                let claims = claims.map_err(|e| {
                    tracing::debug!(provider = %name, error = %e, "token exchange refused");
                    Error::InvalidToken("the provider does not vouch for the token")
                })?;
                (claims, None)
            }
        };
        if provider.config.verbose {
            tracing::info!(provider = %name, claims = %serde_json::Value::Object(claims.clone()), "SSO claims received (token exchange)");
        }
        let a = provision::read_claims(&provider.config, &claims).map_err(Error::InvalidToken)?;
        let user = provision::provision(state, &provider.config, &a).await?;
        // minted from the provider's token: capped by it (or, for a token
        // the provider only vouches for through userinfo, by `[session]
        // exchanged_expires_in`), and never exchanged again
        let (token, c) = state.sessions.mint(
            &user,
            now,
            crate::auth::session::Origin::Exchange {
                ends: not_after,
                revocation_id: None,
            },
        )?;
        tracing::info!(provider = %name, user = %user.id, "provider token exchanged for a session");
        Ok(crate::auth::session_user(
            &user,
            token,
            c.exp,
            AuthMethod::Session,
        ))
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

/// The canonical loopback redirect URI of `tessera login`, or `None`.
pub fn cli_redirect_uri(uri: &str) -> Option<String> {
    let u = url::Url::parse(uri).ok()?;
    let host = u.host_str()?;
    let port = u.port()?;
    let ok = u.scheme() == "http"
        && (host == "localhost" || host == "127.0.0.1")
        && port != 0
        && u.path() == "/oidc/callback"
        && u.query().is_none()
        && u.fragment().is_none()
        && u.username().is_empty()
        && u.password().is_none();
    let canonical = format!("http://{host}:{port}/oidc/callback");
    (ok && canonical == uri).then_some(canonical)
}

/// Whether the kind reads ID tokens.
pub fn is_oidc(kind: ProviderKind) -> bool {
    kind != ProviderKind::Github
}

#[cfg(test)]
mod tests;
