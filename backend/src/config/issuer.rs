//! `[[issuers]]` and `[cache]`: the trusted identity providers, their key
//! sources and claim rules, validated at start-up; and the OpenGPTs
//! environment shorthand (`AUTH_TYPE=jwt_local|jwt_oidc`).
use super::limits::MAX_CREDENTIAL_BYTES;
use super::urls::check_url;
use super::values::{decode_b64, default_role, reserved_name_problem, role_mapping, Secret};
use crate::domain::RoleMapping;
use jsonwebtoken::Algorithm;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use tessera_shared::Role;

/// One trusted issuer (`[[issuers]]`). See the README's "Trusted issuers" section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// A short name: `users.source`, logs, the session's `issuer`.
    pub name: String,
    /// Exact `iss`.
    pub issuer: String,
    /// The token's `aud` must contain one of these.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Allows an empty `audiences` (no audience check).
    #[serde(default)]
    pub allow_any_audience: bool,
    /// Allowed `alg` values.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
    /// PEM files of public keys (RSA, EC P-256/P-384, Ed25519); a file's stem is its `kid`.
    #[serde(default)]
    pub public_keys: Vec<PathBuf>,
    /// One public key: base64 of its PEM (OpenGPTs `JWT_DECODE_KEY_B64`).
    #[serde(default)]
    pub decode_key_b64: Option<Secret>,
    /// HMAC secret, base64 (HS256/384/512 only).
    #[serde(default)]
    pub hmac_secret_b64: Option<Secret>,
    /// A JWKS document.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// An OIDC discovery document (its `jwks_uri` is used).
    #[serde(default)]
    pub discovery_url: Option<String>,
    /// Clock skew allowed for `exp`, `nbf` and `iat`.
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
    /// Claims that must be present; default `iss`, `sub`, `exp` (+ `aud` when audiences are set).
    #[serde(default)]
    pub required_claims: Option<Vec<String>>,
    /// Refuses tokens issued (`iat`) longer ago than this.
    #[serde(default)]
    pub max_token_age_seconds: Option<u64>,
    /// Longest token accepted.
    #[serde(default = "default_max_token_bytes")]
    pub max_token_bytes: usize,
    /// Claim (or JSON Pointer) naming the user.
    #[serde(default = "default_user_claim")]
    pub user_claim: String,
    /// Claim (or JSON Pointer) holding the e-mail address.
    #[serde(default = "default_email_claim")]
    pub email_claim: String,
    /// Claim (or JSON Pointer) holding the display name.
    #[serde(default)]
    pub name_claim: Option<String>,
    /// Claim (or JSON Pointer) holding the groups (a string or a list of strings).
    #[serde(default)]
    pub groups_claim: Option<String>,
    /// The user claim must equal this.
    #[serde(default)]
    pub bound_subject: Option<String>,
    /// Claim (or JSON Pointer) → value or list of values; all must match.
    #[serde(default)]
    pub bound_claims: BTreeMap<String, BoundValue>,
    /// `string` (exact) or `glob` (`*` wildcards).
    #[serde(default)]
    pub bound_claims_type: BoundClaimsType,
    /// Claim (or JSON Pointer) → metadata key copied onto the session; a missing claim fails the token.
    #[serde(default)]
    pub claim_mappings: BTreeMap<String, String>,
    /// Members of these groups are admins.
    #[serde(default)]
    pub admin_groups: Vec<String>,
    /// When non-empty, only members of these (or of `admin_groups`) get in.
    #[serde(default)]
    pub user_groups: Vec<String>,
    /// The role of everyone else.
    #[serde(default = "default_role")]
    pub default_role: Role,
    /// Creates a Tessera user for a first-seen subject.
    #[serde(default = "yes")]
    pub auto_provision: bool,
    /// Creates groups Tessera does not know yet.
    #[serde(default = "yes")]
    pub create_groups: bool,
    /// Allows `http://` key URLs on hosts other than loopback.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// How long fetched keys are used before a refresh.
    #[serde(default = "default_jwks_cache")]
    pub jwks_cache_seconds: u64,
    /// Least time between two fetches prompted by unknown `kid`s or failures.
    #[serde(default = "default_min_refresh")]
    pub jwks_min_refresh_seconds: u64,
    /// How long cached keys keep working while the IdP is unreachable.
    #[serde(default = "default_grace")]
    pub jwks_grace_seconds: u64,
    /// Timeout of one key fetch.
    #[serde(default = "default_http_timeout")]
    pub http_timeout_seconds: u64,
    /// Largest key or discovery document accepted.
    #[serde(default = "default_max_doc")]
    pub max_document_bytes: usize,
}

/// A bound claim's wanted value(s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BoundValue {
    /// One value.
    One(Scalar),
    /// Any of these.
    Any(Vec<Scalar>),
}

impl BoundValue {
    /// The wanted values.
    pub fn values(&self) -> &[Scalar] {
        match self {
            BoundValue::One(s) => std::slice::from_ref(s),
            BoundValue::Any(v) => v,
        }
    }
}

/// A string, boolean or integer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    /// A string (a pattern under `glob`).
    Str(String),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
}

/// How bound claim values are compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundClaimsType {
    /// Exact, case-sensitive.
    #[default]
    String,
    /// `*` matches any run of characters.
    Glob,
}

/// `[cache]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Verified IdP tokens kept in memory; `0` turns the cache off.
    pub verified_tokens: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            verified_tokens: 10_000,
        }
    }
}

fn default_algorithms() -> Vec<String> {
    vec!["RS256".into()]
}
fn default_leeway() -> u64 {
    60
}
fn default_max_token_bytes() -> usize {
    16384
}
fn default_user_claim() -> String {
    "sub".into()
}
fn default_email_claim() -> String {
    "email".into()
}
fn yes() -> bool {
    true
}
fn default_jwks_cache() -> u64 {
    300
}
fn default_min_refresh() -> u64 {
    10
}
fn default_grace() -> u64 {
    86_400
}
fn default_http_timeout() -> u64 {
    5
}
fn default_max_doc() -> usize {
    256 * 1024
}

/// The algorithm named exactly `name` (JOSE names are case-sensitive).
pub fn algorithm(name: &str) -> Option<Algorithm> {
    Some(match name {
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

/// Whether `alg` is an HMAC algorithm.
pub fn is_hmac(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

impl IssuerConfig {
    /// An issuer with every default, for `name` and `iss`.
    pub fn new(name: &str, issuer: &str) -> Self {
        Self {
            name: name.into(),
            issuer: issuer.into(),
            audiences: Vec::new(),
            allow_any_audience: false,
            algorithms: default_algorithms(),
            public_keys: Vec::new(),
            decode_key_b64: None,
            hmac_secret_b64: None,
            jwks_url: None,
            discovery_url: None,
            leeway_seconds: default_leeway(),
            required_claims: None,
            max_token_age_seconds: None,
            max_token_bytes: default_max_token_bytes(),
            user_claim: default_user_claim(),
            email_claim: default_email_claim(),
            name_claim: None,
            groups_claim: None,
            bound_subject: None,
            bound_claims: BTreeMap::new(),
            bound_claims_type: BoundClaimsType::String,
            claim_mappings: BTreeMap::new(),
            admin_groups: Vec::new(),
            user_groups: Vec::new(),
            default_role: Role::User,
            auto_provision: true,
            create_groups: true,
            allow_insecure_http: false,
            jwks_cache_seconds: default_jwks_cache(),
            jwks_min_refresh_seconds: default_min_refresh(),
            jwks_grace_seconds: default_grace(),
            http_timeout_seconds: default_http_timeout(),
            max_document_bytes: default_max_doc(),
        }
    }

    /// The role mapping of this issuer.
    pub fn role_mapping(&self) -> RoleMapping {
        role_mapping(&self.admin_groups, &self.user_groups, self.default_role)
    }

    /// The claims a token must carry.
    pub fn required(&self) -> Vec<String> {
        match &self.required_claims {
            Some(list) => list.clone(),
            None => {
                let mut r: Vec<String> = ["iss", "sub", "exp"].map(String::from).to_vec();
                if !self.audiences.is_empty() {
                    r.push("aud".into());
                }
                r
            }
        }
    }

    /// Number of key sources set.
    fn key_sources(&self) -> usize {
        usize::from(!self.public_keys.is_empty())
            + usize::from(self.decode_key_b64.is_some())
            + usize::from(self.hmac_secret_b64.is_some())
            + usize::from(self.jwks_url.is_some())
            + usize::from(self.discovery_url.is_some())
    }
}

impl IssuerConfig {
    /// The `iss`: set, and not the one of Tessera's own sessions.
    fn check_issuer(&self, at: &str, session_issuer: &str, problems: &mut Vec<String>) {
        if self.issuer.is_empty() {
            problems.push(format!(
                "{at}: set `issuer` to the exact `iss` of its tokens"
            ));
        }
        if self.issuer == session_issuer || self.issuer == "tessera" {
            problems.push(format!(
                "{at}: `issuer` equals Tessera's own session issuer `{session_issuer}`; use the IdP's issuer"
            ));
        }
    }

    /// One key source, and algorithms that fit it.
    fn check_keys(&self, at: &str, problems: &mut Vec<String>) {
        match self.key_sources() {
            0 => problems.push(format!(
                "{at}: set one key source: public_keys, decode_key_b64, hmac_secret_b64, jwks_url or discovery_url"
            )),
            1 => {}
            _ => problems.push(format!(
                "{at}: set exactly one of public_keys, decode_key_b64, hmac_secret_b64, jwks_url, discovery_url"
            )),
        }
        if self.algorithms.is_empty() {
            problems.push(format!(
                "{at}: `algorithms` must list at least one algorithm"
            ));
        }
        let mut hmac = false;
        let mut asym = false;
        for a in &self.algorithms {
            if a.eq_ignore_ascii_case("none") {
                problems.push(format!("{at}: `none` can never be an allowed algorithm"));
                continue;
            }
            match algorithm(a) {
                Some(alg) if is_hmac(alg) => hmac = true,
                Some(_) => asym = true,
                None => problems.push(format!(
                    "{at}: unknown algorithm `{a}` (use HS256/384/512, RS256/384/512, PS256/384/512, ES256, ES384 or EdDSA)"
                )),
            }
        }
        if hmac && asym {
            problems.push(format!(
                "{at}: `algorithms` mixes HMAC (HS*) with asymmetric algorithms; use separate issuers"
            ));
        }
        if self.hmac_secret_b64.is_some() && asym {
            problems.push(format!(
                "{at}: hmac_secret_b64 needs HS256, HS384 or HS512 algorithms only"
            ));
        }
        if self.hmac_secret_b64.is_none() && hmac {
            problems.push(format!(
                "{at}: HS* algorithms need hmac_secret_b64 (never a public key)"
            ));
        }
        if let Some(s) = &self.hmac_secret_b64 {
            match decode_b64(s.expose()) {
                Some(b) if b.len() >= 32 => {}
                Some(_) => problems.push(format!(
                    "{at}: hmac_secret_b64 must decode to at least 32 bytes"
                )),
                None => problems.push(format!("{at}: hmac_secret_b64 is not valid base64")),
            }
        }
    }

    /// Audiences, key URLs and size and time limits.
    fn check_audiences_and_limits(&self, at: &str, problems: &mut Vec<String>) {
        if self.audiences.is_empty() && !self.allow_any_audience {
            problems.push(format!(
                "{at}: set `audiences` (the client ids tokens must be issued for), or allow_any_audience = true"
            ));
        }
        for url in [&self.jwks_url, &self.discovery_url].into_iter().flatten() {
            if let Err(e) = check_url(url, self.allow_insecure_http) {
                problems.push(format!("{at}: {e}"));
            }
        }
        if self.max_token_bytes < 64 || self.max_token_bytes > MAX_CREDENTIAL_BYTES {
            problems.push(format!(
                "{at}: max_token_bytes must be between 64 and {}",
                MAX_CREDENTIAL_BYTES
            ));
        }
        if self.jwks_cache_seconds == 0 || self.http_timeout_seconds == 0 {
            problems.push(format!(
                "{at}: jwks_cache_seconds and http_timeout_seconds must be at least 1"
            ));
        }
    }

    /// The claim names, mappings, bound and required claims.
    fn check_claims(&self, at: &str, problems: &mut Vec<String>) {
        for (what, v) in [
            ("user_claim", &self.user_claim),
            ("email_claim", &self.email_claim),
        ] {
            if v.is_empty() {
                problems.push(format!("{at}: {what} must not be empty"));
            }
        }
        for (claim, key) in &self.claim_mappings {
            if claim.is_empty() || key.is_empty() {
                problems.push(format!(
                    "{at}: claim_mappings entries need a claim and a metadata key"
                ));
            }
        }
        for (claim, v) in &self.bound_claims {
            if v.values().is_empty() || claim.is_empty() {
                problems.push(format!(
                    "{at}: bound_claims `{claim}` needs at least one value"
                ));
            }
        }
        for r in self.required() {
            if !["iss", "sub", "aud", "exp", "nbf", "iat", "jti"].contains(&r.as_str()) {
                problems.push(format!(
                    "{at}: required_claims may list iss, sub, aud, exp, nbf, iat, jti; not `{r}`"
                ));
            }
        }
        if !self.audiences.is_empty() && !self.required().iter().any(|r| r == "aud") {
            problems.push(format!(
                "{at}: required_claims must include `aud` when audiences are set"
            ));
        }
    }
}

/// Checks every issuer; each problem says what to fix.
pub fn validate(issuers: &[IssuerConfig], session_issuer: &str, problems: &mut Vec<String>) {
    let mut names = std::collections::HashSet::new();
    for (i, c) in issuers.iter().enumerate() {
        let at = if c.name.is_empty() {
            format!("issuers[{i}]")
        } else {
            format!("issuer `{}`", c.name)
        };
        if c.name.trim().is_empty() || c.name.chars().any(char::is_control) {
            problems.push(format!("{at}: set `name` to a short label"));
        }
        problems.extend(reserved_name_problem(&at, &c.name));
        if !names.insert(c.name.clone()) {
            problems.push(format!(
                "{at}: two issuers share this name; names must be unique"
            ));
        }
        c.check_issuer(&at, session_issuer, problems);
        c.check_keys(&at, problems);
        c.check_audiences_and_limits(&at, problems);
        c.check_claims(&at, problems);
    }
}

/// The OpenGPTs shorthand as one issuer, read from `env`: `None` unless
/// `AUTH_TYPE` is `jwt_local` or `jwt_oidc`.
pub fn from_opengpts_env(
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<IssuerConfig>, String> {
    let kind = match env("AUTH_TYPE").as_deref() {
        Some("jwt_local") => "local",
        Some("jwt_oidc") => "oidc",
        _ => return Ok(None),
    };
    let iss = env("JWT_ISS").ok_or("AUTH_TYPE=jwt_* needs JWT_ISS")?;
    let mut c = IssuerConfig::new("jwt", &iss);
    c.audiences = env("JWT_AUD")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    if let Some(alg) = env("JWT_ALG") {
        c.algorithms = alg.split(',').map(|s| s.trim().to_owned()).collect();
    }
    if kind == "local" {
        let key =
            env("JWT_DECODE_KEY_B64").ok_or("AUTH_TYPE=jwt_local needs JWT_DECODE_KEY_B64")?;
        if c.algorithms.iter().all(|a| a.starts_with("HS")) {
            c.hmac_secret_b64 = Some(Secret::new(key));
        } else {
            c.decode_key_b64 = Some(Secret::new(key));
        }
    } else {
        c.discovery_url = Some(format!(
            "{}/.well-known/openid-configuration",
            iss.trim_end_matches('/')
        ));
    }
    Ok(Some(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(c: IssuerConfig) -> Vec<String> {
        let mut p = Vec::new();
        validate(&[c], "http://tessera.test", &mut p);
        p
    }

    fn jwks() -> IssuerConfig {
        let mut c = IssuerConfig::new("kc", "https://kc.example/realms/x");
        c.audiences = vec!["app".into()];
        c.jwks_url = Some("https://kc.example/certs".into());
        c
    }

    #[test]
    fn a_good_issuer_passes() {
        assert!(problems(jwks()).is_empty(), "{:?}", problems(jwks()));
    }

    #[test]
    fn each_mistake_is_named() {
        let mut c = jwks();
        c.jwks_url = None;
        assert!(problems(c)[0].contains("set one key source"));
        let mut c = jwks();
        c.discovery_url = Some("https://kc.example/.well-known/openid-configuration".into());
        assert!(problems(c)[0].contains("exactly one"));
        let mut c = jwks();
        c.algorithms = vec!["RS256".into(), "None".into()];
        assert!(problems(c)[0].contains("`none`"));
        let mut c = jwks();
        c.algorithms = vec!["RS256".into(), "HS256".into()];
        assert!(problems(c).iter().any(|p| p.contains("mixes HMAC")));
        let mut c = jwks();
        c.audiences.clear();
        assert!(problems(c)[0].contains("allow_any_audience"));
        let mut c = jwks();
        c.audiences.clear();
        c.allow_any_audience = true;
        assert!(problems(c).is_empty());
        let mut c = jwks();
        c.issuer = "http://tessera.test".into();
        assert!(problems(c)[0].contains("session issuer"));
        let mut c = jwks();
        c.jwks_url = Some("http://kc.example/certs".into());
        assert!(problems(c)[0].contains("https"));
        let mut c = jwks();
        c.jwks_url = Some("http://127.0.0.1:9/certs".into());
        assert!(problems(c).is_empty(), "loopback may use http");
        let mut c = jwks();
        c.jwks_url = None;
        c.hmac_secret_b64 = Some(Secret::new("c2hvcnQ="));
        c.algorithms = vec!["HS256".into()];
        assert!(problems(c)[0].contains("32 bytes"));
    }

    #[test]
    fn opengpts_shorthand() {
        let env = |k: &str| {
            match k {
                "AUTH_TYPE" => Some("jwt_local"),
                "JWT_ISS" => Some("https://issuer"),
                "JWT_AUD" => Some("a, b"),
                "JWT_ALG" => Some("ES256"),
                "JWT_DECODE_KEY_B64" => Some("cGVt"),
                _ => None,
            }
            .map(String::from)
        };
        let c = from_opengpts_env(env).unwrap().unwrap();
        assert_eq!(c.audiences, vec!["a", "b"]);
        assert_eq!(c.algorithms, vec!["ES256"]);
        assert!(c.decode_key_b64.is_some());
        let oidc = |k: &str| match k {
            "AUTH_TYPE" => Some("jwt_oidc".to_string()),
            "JWT_ISS" => Some("https://issuer/".to_string()),
            _ => None,
        };
        let c = from_opengpts_env(oidc).unwrap().unwrap();
        assert_eq!(
            c.discovery_url.as_deref(),
            Some("https://issuer/.well-known/openid-configuration")
        );
        assert!(from_opengpts_env(|_| None).unwrap().is_none());
    }
}
