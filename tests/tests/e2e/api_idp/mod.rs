//! IdP-issued JWTs against the real server: real keys, a real JWKS and
//! discovery server on loopback, and a forged token for every rejection.
use crate::support::{token, PW};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};
use std::time::Duration;
use tessera_tests::keyserver::{b64, now, sign_raw, KeyServer, KeyType, TestKey};
use tessera_tests::server::{binary, client, TestServer};

mod claims;
mod config;
mod keys;
mod rejections;

const ME: &str = "/api/v1/auths/";

fn claims(iss: &str, sub: &str) -> Value {
    json!({"iss": iss, "sub": sub, "aud": "app", "exp": now() + 600, "iat": now(),
           "email": format!("{sub}@example.com"), "jti": format!("jti-{sub}-{}", rand_suffix())})
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

fn issuer_toml(name: &str, iss: &str, source: &str, extra: &str) -> String {
    format!("[[issuers]]\nname = \"{name}\"\nissuer = \"{iss}\"\naudiences = [\"app\"]\n{source}\n{extra}\n")
}

async fn status(server: &TestServer, token: &str) -> u16 {
    server.get(ME, Some(token)).await.0
}

/// A session admin (the first sign-up), for the admin endpoints.
async fn admin_token(server: &TestServer) -> String {
    let a = server.signup("Root", "root@example.com", PW).await;
    token(&a).to_owned()
}
