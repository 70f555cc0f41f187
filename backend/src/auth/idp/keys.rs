//! An issuer's verification keys: static (PEM files, a base64 PEM, an HMAC
//! secret) or fetched (JWKS, OIDC discovery). Fetched keys are cached,
//! refreshed on their lifetime and on an unknown `kid` — at most once per
//! minimum interval, with concurrent callers waiting on one fetch — and kept
//! for a grace period while the IdP is unreachable.
use super::token::{b64url, Reason};
use crate::config::IssuerConfig;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

pub use crate::config::issuer::is_hmac;
pub use crate::config::urls::check_url;
use crate::config::urls::is_loopback;
use crate::config::values::decode_b64;

/// What a key is, and so which algorithms it may be used with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RS* and PS*.
    Rsa,
    /// ES256.
    EcP256,
    /// ES384.
    EcP384,
    /// EdDSA.
    Ed25519,
    /// HS*.
    Hmac,
}

impl KeyKind {
    /// Whether `alg` is of this key's type.
    pub fn fits(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        matches!(
            (self, alg),
            (KeyKind::Rsa, RS256 | RS384 | RS512 | PS256 | PS384 | PS512)
                | (KeyKind::EcP256, ES256)
                | (KeyKind::EcP384, ES384)
                | (KeyKind::Ed25519, EdDSA)
                | (KeyKind::Hmac, HS256 | HS384 | HS512)
        )
    }
}

/// One verification key.
#[derive(Clone)]
pub struct Key {
    /// Its `kid`, when it has one.
    pub kid: Option<String>,
    /// Its type.
    pub kind: KeyKind,
    /// The one algorithm it is restricted to (a JWK's `alg`).
    pub alg: Option<Algorithm>,
    /// The key for jsonwebtoken.
    pub key: DecodingKey,
    /// Identifies the key material, to notice a changed key set.
    fingerprint: Vec<u8>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("kind", &self.kind)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// An issuer's keys at one moment.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    /// The keys.
    pub keys: Vec<Key>,
    /// Whether the set was fetched (an unknown `kid` may prompt a refetch).
    pub remote: bool,
}

/// The outcome of choosing a key for a token.
pub enum Selection<'a> {
    /// This key.
    Found(&'a Key),
    /// A `kid` the set lacks: a refetch may help.
    UnknownKid,
    /// No usable key.
    Refused(Reason),
}

impl KeySet {
    /// Chooses the key for `alg` and `kid`: by exact `kid` when one is given
    /// (required for fetched sets); otherwise the only key of the algorithm's type.
    pub fn select(&self, alg: Algorithm, kid: Option<&str>) -> Selection<'_> {
        let usable = |k: &&Key| k.kind.fits(alg) && k.alg.is_none_or(|a| a == alg);
        if let Some(kid) = kid {
            let named: Vec<&Key> = self
                .keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .collect();
            if !named.is_empty() {
                return match named.into_iter().find(usable) {
                    Some(k) => Selection::Found(k),
                    None => Selection::Refused("the key with this kid is of another type than alg"),
                };
            }
            if self.remote {
                return Selection::UnknownKid;
            }
        }
        let mut of_family = self.keys.iter().filter(usable);
        match (of_family.next(), of_family.next()) {
            (Some(k), None) => Selection::Found(k),
            (None, _) => Selection::Refused("the issuer has no key of the algorithm's type"),
            (Some(_), Some(_)) => Selection::Refused(
                "no kid, and the issuer has several keys of the algorithm's type",
            ),
        }
    }

    fn fingerprint(&self) -> Vec<(Option<String>, Vec<u8>)> {
        let mut f: Vec<_> = self
            .keys
            .iter()
            .map(|k| (k.kid.clone(), k.fingerprint.clone()))
            .collect();
        f.sort();
        f
    }
}

const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A public key from PEM (`PUBLIC KEY` SPKI, or `RSA PUBLIC KEY`).
pub fn key_from_pem(pem_text: &[u8], kid: Option<String>) -> Result<Key, String> {
    let parsed = pem::parse(pem_text).map_err(|e| format!("not a PEM file: {e}"))?;
    let der = parsed.contents();
    let (kind, key) = match parsed.tag() {
        "RSA PUBLIC KEY" => (KeyKind::Rsa, DecodingKey::from_rsa_pem(pem_text)),
        "PUBLIC KEY" => {
            let header = &der[..der.len().min(32)];
            if contains(header, OID_RSA) {
                (KeyKind::Rsa, DecodingKey::from_rsa_pem(pem_text))
            } else if contains(header, OID_EC) && contains(header, OID_P256) {
                (KeyKind::EcP256, DecodingKey::from_ec_pem(pem_text))
            } else if contains(header, OID_EC) && contains(header, OID_P384) {
                (KeyKind::EcP384, DecodingKey::from_ec_pem(pem_text))
            } else if contains(header, OID_ED25519) {
                (KeyKind::Ed25519, DecodingKey::from_ed_pem(pem_text))
            } else {
                return Err(
                    "unsupported public key type (use RSA, EC P-256/P-384 or Ed25519)".into(),
                );
            }
        }
        tag => return Err(format!("a `{tag}` PEM is not a public key")),
    };
    let key = key.map_err(|e| format!("unreadable public key: {e}"))?;
    Ok(Key {
        kid,
        kind,
        alg: None,
        key,
        fingerprint: der.to_vec(),
    })
}

/// The static key set of an issuer (none for fetched sources).
pub fn static_keys(c: &IssuerConfig) -> Result<Option<KeySet>, String> {
    let mut keys = Vec::new();
    for path in &c.public_keys {
        let text = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let kid = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        keys.push(key_from_pem(&text, kid).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    if let Some(b64) = &c.decode_key_b64 {
        let pem_text = decode_b64(b64.expose()).ok_or("decode_key_b64 is not valid base64")?;
        keys.push(key_from_pem(&pem_text, None).map_err(|e| format!("decode_key_b64: {e}"))?);
    }
    if let Some(b64) = &c.hmac_secret_b64 {
        let secret = decode_b64(b64.expose()).ok_or("hmac_secret_b64 is not valid base64")?;
        use sha2::Digest;
        keys.push(Key {
            kid: None,
            kind: KeyKind::Hmac,
            alg: None,
            key: DecodingKey::from_secret(&secret),
            fingerprint: sha2::Sha256::digest(&secret).to_vec(),
        });
    }
    if keys.is_empty() {
        return Ok(None);
    }
    for k in &keys {
        if !c
            .algorithms
            .iter()
            .filter_map(|a| super::token::algorithm(a))
            .any(|a| k.kind.fits(a))
        {
            return Err(format!(
                "a {:?} key cannot verify any of the allowed algorithms {:?}",
                k.kind, c.algorithms
            ));
        }
    }
    Ok(Some(KeySet {
        keys,
        remote: false,
    }))
}

/// Reads a JWKS document. Symmetric (`oct`) keys and keys not for signatures
/// are skipped: a JWKS never supplies an HMAC secret.
pub fn parse_jwks(doc: &Value) -> Result<KeySet, String> {
    let list = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("the JWKS has no `keys` list")?;
    let mut keys = Vec::new();
    for jwk in list {
        match parse_jwk(jwk) {
            Ok(Some(k)) => keys.push(k),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = e, "skipping an unusable JWK"),
        }
    }
    Ok(KeySet { keys, remote: true })
}

fn parse_jwk(jwk: &Value) -> Result<Option<Key>, &'static str> {
    let s = |k: &str| jwk.get(k).and_then(Value::as_str);
    if jwk.get("use").is_some() && s("use") != Some("sig") {
        return Ok(None);
    }
    let kid = match jwk.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err("kid is not a string"),
    };
    let alg = match jwk.get("alg") {
        None => None,
        Some(Value::String(a)) => Some(super::token::algorithm(a).ok_or("unknown alg")?),
        Some(_) => return Err("alg is not a string"),
    };
    let part = |k: &str| -> Result<Vec<u8>, &'static str> {
        b64url(s(k).ok_or("a key component is missing")?)
            .map_err(|_| "a key component is not base64url")
    };
    let (kind, key, fingerprint) = match s("kty") {
        Some("RSA") => {
            let n = part("n")?;
            let e = part("e")?;
            let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
            if bits < 2048 {
                return Err("RSA key shorter than 2048 bits");
            }
            let fp = [n.as_slice(), e.as_slice()].concat();
            (
                KeyKind::Rsa,
                DecodingKey::from_rsa_raw_components(&n, &e),
                fp,
            )
        }
        Some("EC") => {
            let (kind, len) = match s("crv") {
                Some("P-256") => (KeyKind::EcP256, 32),
                Some("P-384") => (KeyKind::EcP384, 48),
                _ => return Err("unsupported EC curve"),
            };
            let (x, y) = (part("x")?, part("y")?);
            if x.len() != len || y.len() != len {
                return Err("EC coordinates of the wrong length");
            }
            let mut point = vec![0x04];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            (kind, DecodingKey::from_ec_der(&point), point)
        }
        Some("OKP") => {
            if s("crv") != Some("Ed25519") {
                return Err("unsupported OKP curve");
            }
            let x = part("x")?;
            if x.len() != 32 {
                return Err("Ed25519 key of the wrong length");
            }
            (KeyKind::Ed25519, DecodingKey::from_ed_der(&x), x)
        }
        Some("oct") => return Ok(None),
        _ => return Err("unsupported kty"),
    };
    if let Some(a) = alg {
        if !kind.fits(a) {
            return Err("the JWK's alg does not fit its key type");
        }
    }
    Ok(Some(Key {
        kid,
        kind,
        alg,
        key,
        fingerprint,
    }))
}

/// Where a fetched key set comes from.
#[derive(Debug, Clone)]
enum Remote {
    Jwks(String),
    Discovery(String),
}

/// Timing of an issuer's fetches.
#[derive(Debug, Default)]
struct FetchTimes {
    last_attempt: Option<Instant>,
    last_success: Option<Instant>,
}

/// An issuer's current keys, kept fresh.
pub struct KeyStore {
    name: String,
    issuer: String,
    remote: Option<Remote>,
    client: Option<reqwest::Client>,
    current: RwLock<Arc<KeySet>>,
    generation: AtomicU64,
    attempts: AtomicU64,
    fetches: AtomicU64,
    times: Mutex<FetchTimes>,
    refresh_lock: tokio::sync::Mutex<()>,
    loaded: AtomicBool,
    cache_lifetime: Duration,
    min_interval: Duration,
    grace: Duration,
    max_bytes: usize,
    allow_insecure_http: bool,
}

impl KeyStore {
    /// The store for one issuer; static keys are loaded here, fetched ones by [`KeyStore::refresh`].
    pub fn new(c: &IssuerConfig) -> Result<Self, String> {
        let statics = static_keys(c)?;
        let remote = match (&c.jwks_url, &c.discovery_url) {
            (Some(u), _) => Some(Remote::Jwks(u.clone())),
            (None, Some(u)) => Some(Remote::Discovery(u.clone())),
            _ => None,
        };
        let client = match &remote {
            None => None,
            Some(Remote::Jwks(u) | Remote::Discovery(u)) => {
                Some(http_client(u, c).map_err(|e| format!("building the HTTP client: {e}"))?)
            }
        };
        let loaded = statics.is_some();
        Ok(Self {
            name: c.name.clone(),
            issuer: c.issuer.clone(),
            remote,
            client,
            current: RwLock::new(Arc::new(statics.unwrap_or_default())),
            generation: AtomicU64::new(0),
            attempts: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
            times: Mutex::new(FetchTimes::default()),
            refresh_lock: tokio::sync::Mutex::new(()),
            loaded: AtomicBool::new(loaded),
            cache_lifetime: Duration::from_secs(c.jwks_cache_seconds),
            min_interval: Duration::from_secs(c.jwks_min_refresh_seconds),
            grace: Duration::from_secs(c.jwks_grace_seconds),
            max_bytes: c.max_document_bytes,
            allow_insecure_http: c.allow_insecure_http,
        })
    }

    /// Whether keys are fetched (and so refreshed).
    pub fn is_remote(&self) -> bool {
        self.remote.is_some()
    }

    /// The current keys.
    pub fn keys(&self) -> Arc<KeySet> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Bumped whenever the key set changes: verified tokens of an older generation are re-verified.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Number of fetches started.
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Whether the keys may be used: loaded, and for fetched keys refreshed
    /// within their lifetime plus the grace period.
    pub fn usable(&self) -> bool {
        if !self.loaded.load(Ordering::Acquire) {
            return false;
        }
        if self.remote.is_none() {
            return true;
        }
        let times = self.times.lock().unwrap_or_else(|e| e.into_inner());
        times
            .last_success
            .is_some_and(|t| t.elapsed() <= self.cache_lifetime + self.grace)
    }

    /// Fetches the keys again unless another caller just did (or tried) or
    /// the minimum interval has not passed: concurrent callers wait on one fetch.
    /// `force` skips the interval (start-up and the scheduled refresh).
    pub async fn refresh(&self, force: bool) {
        let Some(remote) = &self.remote else { return };
        let seen = self.attempts.load(Ordering::Acquire);
        let _guard = self.refresh_lock.lock().await;
        if self.attempts.load(Ordering::Acquire) != seen {
            return;
        }
        {
            let times = self.times.lock().unwrap_or_else(|e| e.into_inner());
            if !force
                && times
                    .last_attempt
                    .is_some_and(|t| t.elapsed() < self.min_interval)
            {
                return;
            }
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let result = self.fetch(remote).await;
        let now = Instant::now();
        {
            let mut times = self.times.lock().unwrap_or_else(|e| e.into_inner());
            times.last_attempt = Some(now);
            if result.is_ok() {
                times.last_success = Some(now);
            }
        }
        match result {
            Ok(set) => {
                let changed = {
                    let mut cur = self.current.write().unwrap_or_else(|e| e.into_inner());
                    let changed = cur.fingerprint() != set.fingerprint();
                    if changed {
                        *cur = Arc::new(set);
                    }
                    changed
                };
                if changed {
                    self.generation.fetch_add(1, Ordering::AcqRel);
                    tracing::info!(issuer = %self.name, "issuer keys loaded or changed");
                }
                self.loaded.store(true, Ordering::Release);
            }
            Err(e) => {
                tracing::warn!(issuer = %self.name, error = %e, "fetching issuer keys failed")
            }
        }
        self.attempts.fetch_add(1, Ordering::AcqRel);
    }

    /// Keeps fetched keys fresh: every cache lifetime, sooner after a failure.
    pub async fn refresh_loop(self: Arc<Self>) {
        loop {
            let wait = if self.usable_recently() {
                self.cache_lifetime
            } else {
                self.min_interval.max(Duration::from_secs(1))
            };
            tokio::time::sleep(wait).await;
            self.refresh(true).await;
        }
    }

    fn usable_recently(&self) -> bool {
        let times = self.times.lock().unwrap_or_else(|e| e.into_inner());
        match (times.last_success, times.last_attempt) {
            (Some(s), Some(a)) => s >= a,
            _ => false,
        }
    }

    async fn fetch(&self, remote: &Remote) -> Result<KeySet, String> {
        let jwks_url = match remote {
            Remote::Jwks(u) => u.clone(),
            Remote::Discovery(u) => {
                let doc = self.get_json(u).await?;
                let iss = doc.get("issuer").and_then(Value::as_str);
                if iss != Some(self.issuer.as_str()) {
                    return Err(
                        "the discovery document's issuer differs from the configured issuer".into(),
                    );
                }
                let uri = doc
                    .get("jwks_uri")
                    .and_then(Value::as_str)
                    .ok_or("the discovery document has no jwks_uri")?;
                check_url(uri, self.allow_insecure_http)?;
                uri.to_owned()
            }
        };
        let doc = self.get_json(&jwks_url).await?;
        parse_jwks(&doc)
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let client = self.client.as_ref().ok_or("no HTTP client")?;
        get_json(client, url, self.max_bytes).await
    }
}

/// GETs a JSON document of at most `max_bytes` (discovery documents, JWKS).
pub async fn get_json(
    client: &reqwest::Client,
    url: &str,
    max_bytes: usize,
) -> Result<Value, String> {
    fetch_json(client.get(url), url, max_bytes).await
}

/// Sends `request`, a GET of `url` (with whatever the caller added, e.g. a
/// bearer token), asking for JSON, and reads a JSON answer of at most
/// `max_bytes`. The error names the URL and what failed.
pub async fn fetch_json(
    request: reqwest::RequestBuilder,
    url: &str,
    max_bytes: usize,
) -> Result<Value, String> {
    let mut res = request
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    if !res.status().is_success() {
        return Err(format!("GET {url}: status {}", res.status()));
    }
    if res.content_length().is_some_and(|l| l > max_bytes as u64) {
        return Err(format!("GET {url}: document larger than {max_bytes} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| format!("GET {url}: {e}"))? {
        if body.len() + chunk.len() > max_bytes {
            return Err(format!("GET {url}: document larger than {max_bytes} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| format!("GET {url}: not JSON: {e}"))
}

/// A client with timeouts, redirects only to the same origin (at most 3),
/// and no proxy for loopback.
pub fn http_client(url: &str, c: &IssuerConfig) -> Result<reqwest::Client, String> {
    let parsed = check_url(url, c.allow_insecure_http)?;
    let timeout = Duration::from_secs(c.http_timeout_seconds);
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let same_origin = attempt.previous().first().is_some_and(|first| {
            first.scheme() == attempt.url().scheme()
                && first.host_str() == attempt.url().host_str()
                && first.port_or_known_default() == attempt.url().port_or_known_default()
        });
        if attempt.previous().len() > 3 || !same_origin {
            attempt.stop()
        } else {
            attempt.follow()
        }
    });
    let mut b = reqwest::Client::builder()
        .redirect(policy)
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent("tessera");
    if is_loopback(&parsed) {
        b = b.no_proxy();
    }
    b.build().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jwks_skips_symmetric_and_encryption_keys() {
        let set = parse_jwks(&json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "h"},
            {"kty": "OKP", "crv": "Ed25519", "use": "enc", "kid": "e",
             "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "s",
             "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty": "EC", "crv": "P-256", "kid": "bad", "x": "AA", "y": "AA"}
        ]}))
        .unwrap();
        assert_eq!(set.keys.len(), 1);
        assert_eq!(set.keys[0].kid.as_deref(), Some("s"));
        assert!(matches!(
            set.select(Algorithm::EdDSA, Some("s")),
            Selection::Found(_)
        ));
        assert!(matches!(
            set.select(Algorithm::EdDSA, Some("S")),
            Selection::UnknownKid
        ));
        assert!(matches!(
            set.select(Algorithm::ES256, Some("s")),
            Selection::Refused(_)
        ));
        assert!(matches!(
            set.select(Algorithm::EdDSA, None),
            Selection::Found(_)
        ));
        assert!(matches!(
            set.select(Algorithm::RS256, None),
            Selection::Refused(_)
        ));
    }

    #[test]
    fn hmac_keys_never_fit_asymmetric_algorithms() {
        for alg in [
            Algorithm::RS256,
            Algorithm::ES256,
            Algorithm::EdDSA,
            Algorithm::PS256,
        ] {
            assert!(!KeyKind::Hmac.fits(alg));
        }
        assert!(!KeyKind::Rsa.fits(Algorithm::HS256));
        assert!(!KeyKind::EcP256.fits(Algorithm::ES384));
    }
}
