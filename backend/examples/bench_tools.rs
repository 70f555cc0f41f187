//! Helpers for `scripts/bench.sh`: `mint` signs a test token; `serve` runs
//! the baseline the issue compares against — bare axum with one endpoint that
//! verifies a bearer JWT with `jsonwebtoken` (signature, `exp`, `iss`, `aud`).
//!
//! ```text
//! bench_tools mint <RS256|ES256> <private.pem> <iss> <sub>
//! bench_tools serve <127.0.0.1:port> <RS256|ES256> <public.pem> <iss>
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{json, Value};
use std::sync::Arc;

fn alg(name: &str) -> Algorithm {
    match name {
        "RS256" => Algorithm::RS256,
        "ES256" => Algorithm::ES256,
        other => panic!("unsupported alg {other}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("mint") => mint(&args[2], &args[3], &args[4], &args[5]),
        Some("serve") => serve(&args[2], &args[3], &args[4], &args[5]),
        _ => eprintln!("usage: bench_tools mint|serve ..."),
    }
}

fn mint(alg_name: &str, private: &str, iss: &str, sub: &str) {
    let pem = std::fs::read(private).unwrap();
    let a = alg(alg_name);
    let key = match a {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem),
        _ => EncodingKey::from_ec_pem(&pem),
    }
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({
        "iss": iss, "sub": sub, "aud": ["app", "account"], "exp": now + 86_400, "iat": now,
        "jti": format!("bench-{sub}-{now}"), "email": format!("{sub}@example.com"), "email_verified": true,
        "name": "Bench User", "preferred_username": sub, "azp": "app", "scope": "openid profile email",
        "realm_access": {"roles": ["offline_access", "uma_authorization", "default-roles-app"]},
        "resource_access": {"account": {"roles": ["manage-account", "view-profile"]}},
        "groups": ["/engineering", "/staff"], "session_state": "a3c1e0f2-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
    });
    let mut header = Header::new(a);
    header.typ = Some("JWT".into());
    println!("{}", jsonwebtoken::encode(&header, &claims, &key).unwrap());
}

struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

fn serve(listen: &str, alg_name: &str, public: &str, iss: &str) {
    let pem = std::fs::read(public).unwrap();
    let a = alg(alg_name);
    let key = match a {
        Algorithm::RS256 => DecodingKey::from_rsa_pem(&pem),
        _ => DecodingKey::from_ec_pem(&pem),
    }
    .unwrap();
    let mut validation = Validation::new(a);
    validation.set_audience(&["app"]);
    validation.set_issuer(&[iss]);
    let v = Arc::new(Verifier { key, validation });
    let app = Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route(
            "/verify",
            get(move |headers: HeaderMap| {
                let v = v.clone();
                async move {
                    let token = headers
                        .get(header::AUTHORIZATION)
                        .and_then(|h| h.to_str().ok())
                        .and_then(|h| h.strip_prefix("Bearer "))
                        .unwrap_or_default();
                    match jsonwebtoken::decode::<Value>(token, &v.key, &v.validation) {
                        Ok(data) => (StatusCode::OK, Json(json!({"sub": data.claims["sub"]}))),
                        Err(_) => (
                            StatusCode::UNAUTHORIZED,
                            Json(json!({"detail": "Invalid token"})),
                        ),
                    }
                }
            }),
        );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await.unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}
