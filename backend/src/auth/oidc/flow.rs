//! The OAuth 2.0 / OIDC protocol steps: discovery, the authorization URL
//! (code flow, PKCE S256, state, nonce), the code exchange (the `oauth2`
//! crate) and the ID token's checks — signature and registered claims by the
//! IdP machinery (`auth::idp`), then `nonce` and `azp` on top.
use super::config::{GITHUB_API, GITHUB_AUTHORIZE, GITHUB_TOKEN};
use crate::auth::idp::keys::{check_url, fetch_json, get_json, http_client, KeyStore};
use crate::auth::idp::token::{self, ParsedToken, Reason};
use crate::auth::idp::verify::{Checks, IssuerRules};
use crate::config::IssuerConfig;
use crate::config::OidcProviderConfig;
use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
    BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_shared::oidc::{ProviderKind, ResponseMode};

/// Largest discovery or userinfo document.
const MAX_DOC: usize = 256 * 1024;
/// Timeout of one request to the provider.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a discovery document is used before it is fetched again.
pub const DISCOVERY_TTL: Duration = Duration::from_secs(3600);

/// The `id_token` field of a token response.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct IdTokenField {
    /// The ID token (absent for plain OAuth 2.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}
impl ExtraTokenFields for IdTokenField {}

type TokenRes = StandardTokenResponse<IdTokenField, BasicTokenType>;
type OauthClient = oauth2::Client<
    BasicErrorResponse,
    TokenRes,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Checks ID tokens of one provider.
pub struct IdTokenVerifier {
    /// The provider's issuer rules (`iss`, `aud` = client id, algorithms).
    pub rules: IssuerRules,
    /// The provider's keys (its `jwks_uri`).
    pub keys: Arc<KeyStore>,
    client_id: String,
}

/// What a provider's discovery document (or GitHub's fixed endpoints) says.
pub struct Discovered {
    /// The issuer (`github` for GitHub).
    pub issuer: String,
    /// Where the browser is sent.
    pub authorization_endpoint: String,
    /// Where the code is exchanged.
    pub token_endpoint: String,
    /// The userinfo endpoint (GitHub: the API base).
    pub userinfo_endpoint: Option<String>,
    /// ID-token checks (none for GitHub).
    pub id_tokens: Option<IdTokenVerifier>,
    /// Where RP-initiated logout sends the browser (`end_session_endpoint`).
    pub end_session_endpoint: Option<String>,
    /// Send the client secret in the body (`client_secret_post`) instead of Basic.
    pub secret_in_body: bool,
    /// When it was fetched.
    pub fetched: Instant,
}

/// The tokens of a code exchange.
pub struct Tokens {
    /// The access token (never logged).
    pub access_token: String,
    /// The ID token, when the provider sent one.
    pub id_token: Option<String>,
    /// The access token's lifetime, when given.
    pub expires_in: Option<Duration>,
    /// The refresh token, when the provider granted one (never logged, never
    /// sent to the browser).
    pub refresh_token: Option<String>,
}

/// Why a refresh failed.
#[derive(Debug)]
pub enum RefreshFailure {
    /// The provider refused it (`invalid_grant`: revoked, expired, reused;
    /// or any other error answer): the grant is over.
    Refused(String),
    /// The provider could not be asked or its answer could not be read: try
    /// again later.
    Unreachable(String),
}

/// The HTTP client of token and userinfo requests: no redirects (they would
/// open the client to SSRF), timeouts.
pub fn token_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(HTTP_TIMEOUT)
        .connect_timeout(HTTP_TIMEOUT)
        .user_agent("tessera")
        .build()
        .map_err(|e| e.to_string())
}

/// The asymmetric algorithms of `id_token_signing_alg_values_supported`
/// Tessera knows (`RS256` when absent): never `none`, never HMAC.
pub fn id_token_algorithms(doc: &Value) -> Vec<String> {
    let listed: Vec<String> = doc
        .get("id_token_signing_alg_values_supported")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter(|a| {
                    token::algorithm(a).is_some_and(|alg| !crate::auth::idp::keys::is_hmac(alg))
                })
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    if listed.is_empty() {
        vec!["RS256".into()]
    } else {
        listed
    }
}

/// The issuer rules of a provider's ID tokens.
pub fn issuer_config(
    cfg: &OidcProviderConfig,
    issuer: &str,
    jwks_uri: Option<&str>,
    algorithms: Vec<String>,
) -> IssuerConfig {
    let mut ic = IssuerConfig::new(&cfg.name, issuer);
    ic.audiences = vec![cfg.client_id.clone()];
    ic.algorithms = algorithms;
    ic.jwks_url = jwks_uri.map(String::from);
    ic.required_claims = Some(
        ["iss", "sub", "aud", "exp", "iat"]
            .map(String::from)
            .to_vec(),
    );
    ic.allow_insecure_http = cfg.allow_insecure_http;
    ic.http_timeout_seconds = HTTP_TIMEOUT.as_secs();
    // Keys are refetched when older than this (no grace): a key the
    // provider withdrew stops working within five minutes.
    ic.jwks_cache_seconds = 300;
    ic.jwks_grace_seconds = 0;
    ic
}

impl IdTokenVerifier {
    /// A verifier over an issuer's rules and keys.
    pub fn new(ic: IssuerConfig, keys: Arc<KeyStore>) -> Self {
        let client_id = ic.audiences.first().cloned().unwrap_or_default();
        Self {
            rules: IssuerRules::new(ic),
            keys,
            client_id,
        }
    }

    /// Verifies an ID token at `now`: the IdP checks (strict parse, allowed
    /// asymmetric `alg`, key by `kid`, signature, `iss`, `aud` contains the
    /// client id, `exp`/`nbf`/`iat` with leeway), then `azp` (must equal the
    /// client id when present; required when `aud` has several values) and
    /// `nonce` (must equal `nonce` when one is expected). Returns the claims.
    pub async fn verify(
        &self,
        id_token: &str,
        now: i64,
        nonce: Option<&str>,
    ) -> Result<Map<String, Value>, Reason> {
        let parsed = self.signed(id_token, token::TOKEN_TYPES).await?;
        self.rules
            .check_claims(&parsed, now, &mut Checks::strict())?
            .ok_or("identity claims unusable")?;
        let claims = parsed.claims;
        let several = parsed
            .registered
            .aud
            .as_ref()
            .is_some_and(|a| a.0.len() > 1);
        match claims.get("azp") {
            None if several => return Err("azp missing while aud has several values"),
            None => {}
            Some(Value::String(azp)) if azp == &self.client_id => {}
            Some(_) => return Err("azp is not the client id"),
        }
        if let Some(want) = nonce {
            match claims.get("nonce") {
                Some(Value::String(got)) if super::cookie::same(got, want) => {}
                Some(_) => return Err("nonce does not match the sign-in"),
                None => return Err("nonce missing from the ID token"),
            }
        }
        Ok(claims)
    }

    /// A token of the provider's, parsed and its signature checked with the
    /// provider's keys (strict parse, `typ` absent or one of `types`,
    /// allowed asymmetric `alg`, key by `kid`); its claims are not checked yet.
    pub(super) async fn signed<'t>(
        &self,
        id_token: &'t str,
        types: &[&str],
    ) -> Result<ParsedToken<'t>, Reason> {
        let parsed = token::parse_typed(id_token, self.rules.config.max_token_bytes, types)?;
        // Both refetches go through the key store's rate limit (at most one
        // fetch per `jwks_min_refresh_seconds`, concurrent callers waiting on
        // it), as for IdP JWTs: a token, forged or not, never forces a fetch.
        if !self.keys.usable() {
            self.keys.refresh(false).await;
        }
        let mut refetched = false;
        loop {
            if !self.keys.usable() {
                return Err("the provider's keys are not available");
            }
            match self
                .rules
                .check_signature(&parsed, &self.keys.keys(), &mut Checks::strict())
            {
                Ok(()) => break,
                Err(None) if !refetched && self.keys.is_remote() => {
                    self.keys.refresh(false).await;
                    refetched = true;
                }
                Err(None) => return Err("kid unknown to the provider"),
                Err(Some(r)) => return Err(r),
            }
        }
        Ok(parsed)
    }

    /// The client id: the audience of the provider's tokens for Tessera.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
}

/// Fetches and checks the provider's discovery document (or sets up
/// GitHub's endpoints) and its keys' store.
pub async fn discover(cfg: &OidcProviderConfig) -> Result<Discovered, String> {
    if cfg.kind == ProviderKind::Github {
        let authorize = cfg
            .authorization_endpoint
            .clone()
            .unwrap_or_else(|| GITHUB_AUTHORIZE.into());
        let token = cfg
            .token_endpoint
            .clone()
            .unwrap_or_else(|| GITHUB_TOKEN.into());
        let api = cfg.api_url.clone().unwrap_or_else(|| GITHUB_API.into());
        return Ok(Discovered {
            issuer: "https://github.com".into(),
            authorization_endpoint: authorize,
            token_endpoint: token,
            userinfo_endpoint: Some(api.trim_end_matches('/').to_owned()),
            id_tokens: None,
            end_session_endpoint: None,
            secret_in_body: true,
            fetched: Instant::now(),
        });
    }
    let url = cfg.discovery().ok_or("the provider has no discovery URL")?;
    let mut ic = issuer_config(cfg, "", None, Vec::new());
    ic.discovery_url = Some(url.clone());
    let client = http_client(&url, &ic)?;
    let doc = get_json(&client, &url, MAX_DOC).await?;
    let s = |k: &str| doc.get(k).and_then(Value::as_str).map(String::from);
    let issuer = s("issuer").ok_or("the discovery document has no issuer")?;
    if issuer.contains("{tenantid}") {
        return Err(
            "the discovery document is Entra ID's multi-tenant one; set `tenant` to your directory (tenant) id"
                .into(),
        );
    }
    // OIDC Discovery §4.3: the issuer must be the URL the document was found
    // under. Entra ID's document, found under a tenant's domain name, names
    // the tenant by its id instead.
    let expected = url
        .strip_suffix("/.well-known/openid-configuration")
        .unwrap_or(&url);
    if cfg.kind != ProviderKind::Entra
        && issuer.trim_end_matches('/') != expected.trim_end_matches('/')
    {
        return Err(format!(
            "the discovery document's issuer `{issuer}` does not match its URL `{url}`"
        ));
    }
    let authorization_endpoint = s("authorization_endpoint")
        .ok_or("the discovery document has no authorization_endpoint")?;
    let token_endpoint =
        s("token_endpoint").ok_or("the discovery document has no token_endpoint")?;
    let jwks_uri = s("jwks_uri").ok_or("the discovery document has no jwks_uri")?;
    for u in [&authorization_endpoint, &token_endpoint, &jwks_uri] {
        check_url(u, cfg.allow_insecure_http)?;
    }
    let userinfo_endpoint = s("userinfo_endpoint");
    let end_session_endpoint = s("end_session_endpoint");
    for u in [&userinfo_endpoint, &end_session_endpoint]
        .into_iter()
        .flatten()
    {
        check_url(u, cfg.allow_insecure_http)?;
    }
    if cfg.response_mode == ResponseMode::FormPost {
        let modes = doc
            .get("response_modes_supported")
            .and_then(Value::as_array);
        if modes.is_some_and(|m| !m.iter().any(|v| v.as_str() == Some("form_post"))) {
            return Err("the provider does not list form_post in response_modes_supported".into());
        }
    }
    let methods: Vec<&str> = doc
        .get("token_endpoint_auth_methods_supported")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let secret_in_body = !methods.is_empty()
        && !methods.contains(&"client_secret_basic")
        && methods.contains(&"client_secret_post");
    let ic = issuer_config(cfg, &issuer, Some(&jwks_uri), id_token_algorithms(&doc));
    let keys = Arc::new(KeyStore::new(&ic)?);
    keys.refresh(true).await;
    if !keys.usable() {
        return Err(format!(
            "the provider's keys could not be loaded from {jwks_uri}"
        ));
    }
    Ok(Discovered {
        issuer,
        authorization_endpoint,
        token_endpoint,
        userinfo_endpoint,
        id_tokens: Some(IdTokenVerifier::new(ic, keys)),
        end_session_endpoint,
        secret_in_body,
        fetched: Instant::now(),
    })
}

fn client(
    cfg: &OidcProviderConfig,
    secret: Option<&str>,
    d: &Discovered,
    redirect_uri: &str,
) -> Result<OauthClient, String> {
    let mut c = oauth2::Client::new(ClientId::new(cfg.client_id.clone()))
        .set_auth_uri(AuthUrl::new(d.authorization_endpoint.clone()).map_err(|e| e.to_string())?)
        .set_token_uri(TokenUrl::new(d.token_endpoint.clone()).map_err(|e| e.to_string())?)
        .set_redirect_uri(RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| e.to_string())?);
    if let Some(s) = secret {
        c = c.set_client_secret(ClientSecret::new(s.to_owned()));
    }
    if d.secret_in_body {
        c = c.set_auth_type(AuthType::RequestBody);
    }
    Ok(c)
}

/// A new sign-in's secrets.
pub struct Started {
    /// The URL to send the browser to.
    pub url: String,
    /// The `state`.
    pub state: String,
    /// The `nonce`.
    pub nonce: String,
    /// The PKCE verifier.
    pub verifier: String,
}

/// The authorization URL: code flow, PKCE S256, a fresh state and nonce;
/// `form_post` asks for `response_mode=form_post`.
pub fn authorization_url(
    cfg: &OidcProviderConfig,
    d: &Discovered,
    redirect_uri: &str,
    form_post: bool,
) -> Result<Started, String> {
    let c = client(cfg, None, d, redirect_uri)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let state = super::cookie::random(32);
    let nonce = super::cookie::random(32);
    let st = state.clone();
    let mut req = c
        .authorize_url(move || CsrfToken::new(st))
        .add_scopes(cfg.scopes().into_iter().map(Scope::new))
        .set_pkce_challenge(challenge);
    if cfg.kind != ProviderKind::Github {
        req = req.add_extra_param("nonce", nonce.clone());
    }
    if form_post {
        req = req.add_extra_param("response_mode", "form_post");
    }
    // OpenID Connect Core 11: a request for offline access must ask for
    // consent (providers drop `offline_access` otherwise)
    if cfg.kind != ProviderKind::Github && cfg.scopes().iter().any(|s| s == "offline_access") {
        req = req.add_extra_param("prompt", "consent");
    }
    let (url, _) = req.url();
    Ok(Started {
        url: url.to_string(),
        state,
        nonce,
        verifier: verifier.secret().clone(),
    })
}

/// Exchanges `code` (with the PKCE verifier) at the token endpoint.
/// The error names what failed, never a token or the code.
pub async fn exchange(
    http: &reqwest::Client,
    cfg: &OidcProviderConfig,
    secret: Option<&str>,
    d: &Discovered,
    redirect_uri: &str,
    code: &str,
    verifier: &str,
) -> Result<Tokens, String> {
    let c = client(cfg, secret, d, redirect_uri)?;
    let res = c
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
        .request_async(http)
        .await
        .map_err(|e| match token_error(e) {
            RefreshFailure::Refused(why) => format!("the token endpoint refused the code: {why}"),
            RefreshFailure::Unreachable(why) => why,
        })?;
    Ok(tokens(res))
}

/// Renews the provider's tokens with `refresh_token` at the token endpoint
/// (RFC 6749 section 6). The error names what failed, never a token.
pub async fn refresh(
    http: &reqwest::Client,
    cfg: &OidcProviderConfig,
    secret: Option<&str>,
    d: &Discovered,
    refresh_token: &str,
) -> Result<Tokens, RefreshFailure> {
    // the redirect URI is not sent with a refresh; the client needs one set
    let c = client(cfg, secret, d, "http://127.0.0.1/").map_err(RefreshFailure::Unreachable)?;
    let res = c
        .exchange_refresh_token(&RefreshToken::new(refresh_token.to_owned()))
        .request_async(http)
        .await
        .map_err(token_error)?;
    Ok(tokens(res))
}

fn tokens(res: TokenRes) -> Tokens {
    Tokens {
        access_token: res.access_token().secret().clone(),
        id_token: res.extra_fields().id_token.clone(),
        expires_in: res.expires_in(),
        refresh_token: res.refresh_token().map(|t| t.secret().clone()),
    }
}

/// What a failed token request means: one of RFC 6749's error answers is a
/// refusal; another code (`temporarily_unavailable`, `server_error`) or no
/// answer may pass.
fn token_error<E: std::error::Error>(
    e: oauth2::RequestTokenError<E, BasicErrorResponse>,
) -> RefreshFailure {
    match e {
        oauth2::RequestTokenError::ServerResponse(r) => {
            let why = format!(
                "{}{}",
                r.error(),
                r.error_description()
                    .map(|d| format!(" ({})", d.chars().take(200).collect::<String>()))
                    .unwrap_or_default()
            );
            match r.error() {
                BasicErrorResponseType::Extension(_) => RefreshFailure::Unreachable(why),
                _ => RefreshFailure::Refused(why),
            }
        }
        oauth2::RequestTokenError::Request(e) => {
            RefreshFailure::Unreachable(format!("the token endpoint could not be reached: {e}"))
        }
        oauth2::RequestTokenError::Parse(e, _) => RefreshFailure::Unreachable(format!(
            "the token endpoint's answer is unreadable: {}",
            e.path()
        )),
        oauth2::RequestTokenError::Other(s) => {
            RefreshFailure::Unreachable(format!("the token request failed: {s}"))
        }
    }
}

/// GETs a JSON document with a bearer token (userinfo, GitHub's API).
pub async fn get_with_token(
    http: &reqwest::Client,
    url: &str,
    access_token: &str,
) -> Result<Value, String> {
    fetch_json(http.get(url).bearer_auth(access_token), url, MAX_DOC).await
}

/// Whether `next` may be used after sign-in: a path on Tessera itself —
/// starts with one `/`, no `//` or `/\` (scheme-relative), no backslash, no
/// scheme, no control characters.
pub fn valid_next(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.contains("://")
        && next.len() <= 1024
        && !next.chars().any(|c| c.is_control() || c.is_whitespace())
        && !next.to_ascii_lowercase().contains("%5c")
        && !next
            .get(1..4)
            .is_some_and(|s| s.eq_ignore_ascii_case("%2f"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_only_a_local_path() {
        for ok in ["/", "/users", "/settings/security?tab=1", "/a/b#c"] {
            assert!(valid_next(ok), "{ok}");
        }
        for bad in [
            "",
            "users",
            "//evil.example",
            "//evil.example/path",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "/%2Fevil.example",
            "/%5cevil.example",
            "/a\nb",
            "/ evil",
            "/redirect?to=http://evil.example",
        ] {
            assert!(!valid_next(bad), "{bad:?} must be refused");
        }
    }

    #[test]
    fn only_asymmetric_known_algorithms_are_taken_from_discovery() {
        let doc = serde_json::json!({"id_token_signing_alg_values_supported": ["none", "HS256", "RS256", "ES256", "XX1"]});
        assert_eq!(id_token_algorithms(&doc), vec!["RS256", "ES256"]);
        assert_eq!(id_token_algorithms(&serde_json::json!({})), vec!["RS256"]);
    }
}
