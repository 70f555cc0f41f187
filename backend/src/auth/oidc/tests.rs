//! Unit tests of SSO sign-in without a provider: the ID token's checks with
//! tokens signed by a key made here (through the IdP machinery), nonce
//! replay, account linking, the settings round trip and the hand-over code.
//! This file holds what both kinds share: the signing key, the claims, and
//! a provider on loopback.
mod id_token;
mod logout;
mod refresh;
mod rp_logout;
mod sign_in;

use super::flow::{issuer_config, IdTokenVerifier};
use super::*;
use crate::auth::idp::keys::KeyStore;
use crate::config::OidcProviderConfig;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

const ISS: &str = "https://idp.test/realms/x";
const CLIENT: &str = "tessera";
const NOW: i64 = 1_700_000_000;
const SESSION_SECRET: &[u8] = b"a-session-secret-of-at-least-32-bytes";

struct Signer {
    key: EncodingKey,
    spki_pem: String,
    /// The raw public key, base64url (a JWK's `x`).
    x: String,
}

impl Signer {
    /// The public key as a JWK with `kid`.
    fn jwk(&self, kid: &str) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": kid, "x": self.x})
    }
}

fn signer() -> Signer {
    let doc = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new()).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap();
    let mut spki = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    spki.extend_from_slice(pair.public_key().as_ref());
    let b64 = base64::engine::general_purpose::STANDARD.encode(&spki);
    Signer {
        key: EncodingKey::from_ed_der(doc.as_ref()),
        spki_pem: format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n"),
        x: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
    }
}

fn claims() -> Value {
    json!({"iss": ISS, "sub": "s1", "aud": CLIENT, "exp": NOW + 300, "iat": NOW, "nonce": "n-1"})
}

fn sign(s: &Signer, c: &Value) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), c, &s.key).unwrap()
}

/// A provider on loopback: discovery (naming an `end_session_endpoint`), its keys (every fetch counted; they
/// fail while `keys_fail` is set) and a token endpoint refusing every code.
struct FakeIdp {
    url: String,
    fetches: Arc<AtomicUsize>,
    keys_fail: Arc<AtomicBool>,
}

impl FakeIdp {
    async fn start(jwks: Value) -> FakeIdp {
        use axum::http::StatusCode;
        use axum::routing::{get, post};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let fetches = Arc::new(AtomicUsize::new(0));
        let keys_fail = Arc::new(AtomicBool::new(false));
        let doc = json!({
            "issuer": url,
            "authorization_endpoint": format!("{url}/authorize"),
            "token_endpoint": format!("{url}/token"),
            "jwks_uri": format!("{url}/jwks"),
            "end_session_endpoint": format!("{url}/logout"),
            "id_token_signing_alg_values_supported": ["EdDSA"],
        });
        let (count, failing) = (fetches.clone(), keys_fail.clone());
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || {
                    let doc = doc.clone();
                    async move { axum::Json(doc) }
                }),
            )
            .route(
                "/jwks",
                get(move || {
                    count.fetch_add(1, Ordering::SeqCst);
                    let answer = if failing.load(Ordering::SeqCst) {
                        (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({})))
                    } else {
                        (StatusCode::OK, axum::Json(jwks.clone()))
                    };
                    async move { answer }
                }),
            )
            .route(
                "/token",
                post(|| async {
                    (
                        StatusCode::BAD_REQUEST,
                        axum::Json(json!({"error": "invalid_grant"})),
                    )
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeIdp {
            url,
            fetches,
            keys_fail,
        }
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// An ID-token verifier over this provider's keys, loaded (or not) as
    /// discovery loads them.
    async fn verifier(&self) -> IdTokenVerifier {
        let mut cfg = OidcProviderConfig::new("kc");
        cfg.client_id = CLIENT.into();
        let jwks = format!("{}/jwks", self.url);
        let ic = issuer_config(&cfg, &self.url, Some(&jwks), vec!["EdDSA".into()]);
        let keys = Arc::new(KeyStore::new(&ic).unwrap());
        keys.refresh(true).await;
        IdTokenVerifier::new(ic, keys)
    }
}
