//! A test identity provider: real key pairs (RSA, EC P-256/P-384, Ed25519,
//! generated with the `openssl` CLI), tokens signed with them (including
//! hand-built, malformed ones), and a JWKS / OIDC discovery server on
//! `127.0.0.1:<ephemeral>` that counts fetches and can be taken down.
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Key types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// RSA 2048.
    Rsa,
    /// EC P-256.
    P256,
    /// EC P-384.
    P384,
    /// Ed25519.
    Ed25519,
}

/// A private key with its public half.
#[derive(Clone)]
pub struct TestKey {
    /// Its `kid`.
    pub kid: String,
    /// Its type.
    pub kind: KeyType,
    /// PKCS#8 private key PEM.
    pub private_pem: String,
    /// SPKI public key PEM.
    pub public_pem: String,
}

fn openssl(args: &[&str], input: Option<&str>) -> String {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl");
    if let Some(input) = input {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write");
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().expect("openssl output");
    assert!(out.status.success(), "openssl {args:?} failed");
    String::from_utf8(out.stdout).expect("utf-8")
}

impl TestKey {
    /// A fresh key pair.
    pub fn generate(kind: KeyType, kid: &str) -> Self {
        let private_pem = match kind {
            KeyType::Rsa => openssl(
                &[
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                ],
                None,
            ),
            KeyType::P256 => openssl(
                &[
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                ],
                None,
            ),
            KeyType::P384 => openssl(
                &[
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-384",
                ],
                None,
            ),
            KeyType::Ed25519 => openssl(&["genpkey", "-algorithm", "ED25519"], None),
        };
        let public_pem = openssl(&["pkey", "-pubout"], Some(&private_pem));
        Self {
            kid: kid.into(),
            kind,
            private_pem,
            public_pem,
        }
    }

    /// The algorithm this key signs with by default.
    pub fn alg(&self) -> Algorithm {
        match self.kind {
            KeyType::Rsa => Algorithm::RS256,
            KeyType::P256 => Algorithm::ES256,
            KeyType::P384 => Algorithm::ES384,
            KeyType::Ed25519 => Algorithm::EdDSA,
        }
    }

    /// The signing key.
    pub fn encoding(&self) -> EncodingKey {
        let pem = self.private_pem.as_bytes();
        match self.kind {
            KeyType::Rsa => EncodingKey::from_rsa_pem(pem),
            KeyType::P256 | KeyType::P384 => EncodingKey::from_ec_pem(pem),
            KeyType::Ed25519 => EncodingKey::from_ed_pem(pem),
        }
        .expect("encoding key")
    }

    /// The public JWK (with `kid`, `use: sig`).
    pub fn jwk(&self) -> Value {
        if self.kind == KeyType::Ed25519 {
            // jsonwebtoken cannot derive an Ed25519 JWK: the SPKI ends with the 32-byte key
            let body: String = self
                .public_pem
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(body)
                .expect("pem body");
            let x = &der[der.len() - 32..];
            return json!({"kty": "OKP", "crv": "Ed25519", "x": b64(x), "kid": self.kid, "use": "sig"});
        }
        let jwk = Jwk::from_encoding_key(&self.encoding(), self.alg()).expect("jwk");
        let mut v = serde_json::to_value(jwk).expect("jwk json");
        v["kid"] = json!(self.kid);
        v["use"] = json!("sig");
        if let Some(o) = v.as_object_mut() {
            o.remove("alg");
        }
        v
    }

    /// A token: `header` gets `alg` and `kid` unless it sets them.
    pub fn sign(&self, header: Value, claims: &Value) -> String {
        self.sign_as(self.alg(), header, claims)
    }

    /// A token signed with `alg`.
    pub fn sign_as(&self, alg: Algorithm, mut header: Value, claims: &Value) -> String {
        if header.get("alg").is_none() {
            header["alg"] = json!(format!("{alg:?}"));
        }
        if header.get("kid").is_none() {
            header["kid"] = json!(self.kid);
        }
        sign_raw(
            &header.to_string(),
            &claims.to_string(),
            &self.encoding(),
            alg,
        )
    }
}

/// base64url without padding.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Signs exactly these header and claims texts (duplicates and all).
pub fn sign_raw(header: &str, claims: &str, key: &EncodingKey, alg: Algorithm) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).expect("sign");
    format!("{input}.{sig}")
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[derive(Default)]
struct Shared {
    base: Mutex<String>,
    issuer: Mutex<String>,
    keys: Mutex<Vec<Value>>,
    fetches: AtomicU64,
    discovery_fetches: AtomicU64,
    down: AtomicBool,
    delay_ms: AtomicU64,
}

/// A JWKS and discovery server on loopback.
pub struct KeyServer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl KeyServer {
    /// Serves `keys` at `/jwks`, and discovery at `/.well-known/openid-configuration`
    /// naming the issuer `<url>` (or the one set by [`KeyServer::set_issuer`]).
    pub async fn start(keys: &[&TestKey]) -> Self {
        let shared = Arc::new(Shared::default());
        *shared.keys.lock().expect("lock") = keys.iter().map(|k| k.jwk()).collect();
        let app = Router::new()
            .route("/jwks", get(jwks))
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/redirect", get(redirect))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        *shared.issuer.lock().expect("lock") = url.clone();
        *shared.base.lock().expect("lock") = url.clone();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, shared, task }
    }

    /// The JWKS URL.
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.url)
    }

    /// The discovery URL.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.url)
    }

    /// The issuer the discovery document names.
    pub fn set_issuer(&self, iss: &str) {
        *self.shared.issuer.lock().expect("lock") = iss.into();
    }

    /// Replaces the served keys.
    pub fn set_keys(&self, keys: &[&TestKey]) {
        *self.shared.keys.lock().expect("lock") = keys.iter().map(|k| k.jwk()).collect();
    }

    /// Replaces the served JWKs with raw JSON.
    pub fn set_raw_keys(&self, keys: Vec<Value>) {
        *self.shared.keys.lock().expect("lock") = keys;
    }

    /// Answers 503 to everything while `down`.
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// Delays each JWKS answer.
    pub fn set_delay(&self, d: Duration) {
        self.shared
            .delay_ms
            .store(d.as_millis() as u64, Ordering::SeqCst);
    }

    /// JWKS fetches served so far.
    pub fn fetches(&self) -> u64 {
        self.shared.fetches.load(Ordering::SeqCst)
    }

    /// Discovery fetches served so far.
    pub fn discovery_fetches(&self) -> u64 {
        self.shared.discovery_fetches.load(Ordering::SeqCst)
    }
}

impl Drop for KeyServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn jwks(State(s): State<Arc<Shared>>) -> Response {
    s.fetches.fetch_add(1, Ordering::SeqCst);
    let delay = s.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if s.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let keys = s.keys.lock().map(|k| k.clone()).unwrap_or_default();
    Json(json!({ "keys": keys })).into_response()
}

async fn discovery(State(s): State<Arc<Shared>>) -> Response {
    s.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    if s.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let iss = s.issuer.lock().map(|i| i.clone()).unwrap_or_default();
    let base = s.base.lock().map(|b| b.clone()).unwrap_or_default();
    Json(json!({ "issuer": iss, "jwks_uri": format!("{base}/jwks") })).into_response()
}

async fn redirect() -> Response {
    (
        StatusCode::FOUND,
        [(axum::http::header::LOCATION, "http://example.invalid/jwks")],
    )
        .into_response()
}
