//! The IdP verifier per algorithm (Tessera's strict parse and checks plus
//! jsonwebtoken's cryptography) beside plain `jsonwebtoken::decode` of the
//! same token. Keys come from the `openssl` CLI.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
use base64::Engine;
use criterion::{criterion_group, criterion_main, Criterion};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::json;
use std::process::Command;
use tessera::auth::idp::Idp;
use tessera::config::IssuerConfig;
use tessera::config::Secret;

fn openssl(args: &[&str], input: Option<&str>) -> String {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    if let Some(i) = input {
        stdin.write_all(i.as_bytes()).unwrap();
    }
    drop(stdin);
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
}

struct Case {
    name: &'static str,
    alg: Algorithm,
    private_pem: Option<String>,
    public_pem: Option<String>,
}

fn case(name: &'static str, alg: Algorithm, genpkey: &[&str]) -> Case {
    let private_pem = openssl(genpkey, None);
    let public_pem = openssl(&["pkey", "-pubout"], Some(&private_pem));
    Case {
        name,
        alg,
        private_pem: Some(private_pem),
        public_pem: Some(public_pem),
    }
}

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef0123456789abcdef";
const ISS: &str = "https://bench.example/realms/app";

/// The key types measured.
fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "HS256",
            alg: Algorithm::HS256,
            private_pem: None,
            public_pem: None,
        },
        case(
            "RS256",
            Algorithm::RS256,
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ],
        ),
        case(
            "ES256",
            Algorithm::ES256,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ],
        ),
        case(
            "ES384",
            Algorithm::ES384,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-384",
            ],
        ),
        case(
            "EdDSA",
            Algorithm::EdDSA,
            &["genpkey", "-algorithm", "ED25519"],
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let cases = cases();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let now = 1_900_000_000 - 600;
    // a ~900-byte token, as in the measurements
    let claims = json!({
        "iss": ISS, "sub": "3f2a6c1e-7d1b-4c55-9a8e-0b4c2f9e1d77", "aud": ["app", "account"],
        "exp": 1_900_000_000i64, "iat": now, "jti": "0c8a7e3b-1d2f-4a6b-9c0d-5e4f3a2b1c0d",
        "email": "ada.lovelace@example.com", "email_verified": true, "name": "Ada Lovelace",
        "preferred_username": "ada", "azp": "app", "scope": "openid profile email",
        "realm_access": {"roles": ["offline_access", "uma_authorization", "default-roles-app", "trusted"]},
        "resource_access": {"account": {"roles": ["manage-account", "manage-account-links", "view-profile"]}},
        "groups": ["/engineering", "/engineering/platform", "/staff"], "session_state": "a3c1e0f2-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
    });
    let mut group = c.benchmark_group("verify");
    for k in &cases {
        let mut cfg = IssuerConfig::new("bench", ISS);
        cfg.audiences = vec!["app".into()];
        cfg.algorithms = vec![k.name.into()];
        let (enc, dec) = match (&k.private_pem, &k.public_pem) {
            (Some(private), Some(public)) => {
                cfg.decode_key_b64 = Some(Secret::new(
                    base64::engine::general_purpose::STANDARD.encode(public),
                ));
                let p = private.as_bytes();
                let q = public.as_bytes();
                match k.alg {
                    Algorithm::RS256 => (
                        EncodingKey::from_rsa_pem(p).unwrap(),
                        DecodingKey::from_rsa_pem(q).unwrap(),
                    ),
                    Algorithm::EdDSA => (
                        EncodingKey::from_ed_pem(p).unwrap(),
                        DecodingKey::from_ed_pem(q).unwrap(),
                    ),
                    _ => (
                        EncodingKey::from_ec_pem(p).unwrap(),
                        DecodingKey::from_ec_pem(q).unwrap(),
                    ),
                }
            }
            _ => {
                cfg.hmac_secret_b64 = Some(Secret::new(
                    base64::engine::general_purpose::STANDARD.encode(SECRET),
                ));
                (
                    EncodingKey::from_secret(SECRET),
                    DecodingKey::from_secret(SECRET),
                )
            }
        };
        let mut header = Header::new(k.alg);
        header.typ = Some("JWT".into());
        let token = jsonwebtoken::encode(&header, &claims, &enc).unwrap();
        let idp = Idp::new(&[cfg], 0).unwrap();
        assert!(rt.block_on(idp.verify(&token, now, false)).is_ok());
        group.bench_function(format!("tessera/{}", k.name), |b| {
            b.iter(|| rt.block_on(idp.verify(&token, now, false)).is_ok())
        });
        let mut validation = Validation::new(k.alg);
        validation.set_audience(&["app"]);
        validation.set_issuer(&[ISS]);
        group.bench_function(format!("jsonwebtoken/{}", k.name), |b| {
            b.iter(|| jsonwebtoken::decode::<serde_json::Value>(&token, &dec, &validation).is_ok())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
