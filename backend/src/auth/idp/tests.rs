//! Unit tests of the IdP verifier: each claim check at its boundary, on a
//! [`ManualClock`](crate::clock::ManualClock), with HMAC-signed tokens.
use super::Idp;
use crate::clock::{Clock, ManualClock};
use crate::config::IssuerConfig;
use crate::config::Secret;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef0123";
const ISS: &str = "https://idp.test";

fn issuer(patch: impl FnOnce(&mut IssuerConfig)) -> Idp {
    let mut c = IssuerConfig::new("t", ISS);
    c.audiences = vec!["app".into()];
    c.algorithms = vec!["HS256".into()];
    c.hmac_secret_b64 = Some(Secret::new(
        base64::engine::general_purpose::STANDARD.encode(SECRET),
    ));
    patch(&mut c);
    Idp::new(&[c], 100).unwrap()
}

fn token(claims: Value) -> String {
    let h = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#);
    let c = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{h}.{c}");
    let sig = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &EncodingKey::from_secret(SECRET),
        Algorithm::HS256,
    )
    .unwrap();
    format!("{input}.{sig}")
}

fn base(now: i64) -> Value {
    json!({"iss": ISS, "sub": "u", "aud": "app", "exp": now + 100, "iat": now})
}

async fn check(idp: &Idp, claims: Value, now: i64) -> Result<(), &'static str> {
    idp.verify(&token(claims), now, false).await.map(|_| ())
}

#[tokio::test]
async fn exp_is_expired_at_exactly_exp_plus_leeway() {
    let clock = ManualClock::new(1_000_000);
    let idp = issuer(|c| c.leeway_seconds = 0);
    let mut c = base(clock.now());
    c["exp"] = json!(clock.now() + 1);
    assert!(check(&idp, c.clone(), clock.now()).await.is_ok());
    clock.advance(1);
    assert_eq!(
        check(&idp, c.clone(), clock.now()).await,
        Err("token expired"),
        "exp == now"
    );
    let idp = issuer(|c| c.leeway_seconds = 60);
    assert!(check(&idp, c.clone(), clock.now() + 59).await.is_ok());
    assert_eq!(check(&idp, c, clock.now() + 60).await, Err("token expired"));
}

#[tokio::test]
async fn nbf_iat_and_max_age() {
    let now = 1_000_000;
    let idp = issuer(|c| {
        c.leeway_seconds = 10;
        c.max_token_age_seconds = Some(300);
    });
    let mut c = base(now);
    c["nbf"] = json!(now + 11);
    assert_eq!(check(&idp, c, now).await, Err("token not yet valid (nbf)"));
    let mut c = base(now);
    c["nbf"] = json!(now + 10);
    assert!(check(&idp, c, now).await.is_ok(), "within leeway");
    let mut c = base(now);
    c["iat"] = json!(now + 11);
    assert_eq!(check(&idp, c, now).await, Err("iat in the future"));
    let mut c = base(now);
    c["iat"] = json!(now - 311);
    assert_eq!(
        check(&idp, c, now).await,
        Err("token older than max_token_age_seconds")
    );
    let mut c = base(now);
    c.as_object_mut().unwrap().remove("iat");
    assert!(check(&idp, c, now).await.is_err(), "max age needs iat");
}

#[tokio::test]
async fn required_claims_and_audiences() {
    let now = 1_000_000;
    let idp = issuer(|c| {
        c.required_claims = Some(vec![
            "iss".into(),
            "sub".into(),
            "exp".into(),
            "aud".into(),
            "jti".into(),
        ])
    });
    assert_eq!(
        check(&idp, base(now), now).await,
        Err("a required claim is missing")
    );
    let idp = issuer(|_| {});
    let mut c = base(now);
    c["aud"] = json!(["x", "app"]);
    assert!(
        check(&idp, c, now).await.is_ok(),
        "aud list containing an audience"
    );
    let mut c = base(now);
    c["aud"] = json!([]);
    assert!(check(&idp, c, now).await.is_err());
    let idp = issuer(|c| {
        c.audiences.clear();
        c.allow_any_audience = true;
    });
    let mut c = base(now);
    c.as_object_mut().unwrap().remove("aud");
    assert!(check(&idp, c, now).await.is_ok(), "allow_any_audience");
    let mut c = base(now);
    c["aud"] = json!(5);
    assert!(
        check(&idp, c, now).await.is_err(),
        "a wrongly typed aud fails even unchecked"
    );
}

#[tokio::test]
async fn mapped_pointer_claims_and_identity() {
    let now = 1_000_000;
    let idp = issuer(|c| {
        c.user_claim = "/ext/uid".into();
        c.groups_claim = Some("/realm/roles".into());
        c.claim_mappings.insert("/org/name".into(), "org".into());
    });
    let mut c = base(now);
    c["ext"] = json!({"uid": "U-1"});
    c["realm"] = json!({"roles": ["a", "b"]});
    c["org"] = json!({"name": "Acme"});
    let a = idp.verify(&token(c.clone()), now, false).await.unwrap();
    assert_eq!(a.identity.subject, "U-1");
    assert_eq!(a.identity.groups, vec!["a", "b"]);
    assert_eq!(a.identity.metadata["org"], "Acme");
    c["org"] = json!({});
    assert_eq!(
        idp.verify(&token(c.clone()), now, false).await.err(),
        Some("a mapped claim is missing")
    );
    c["org"] = json!({"name": "Acme"});
    c["realm"] = json!({"roles": ["a", 1]});
    assert!(idp.verify(&token(c), now, false).await.is_err());
}

#[tokio::test]
async fn inspector_lists_every_failure() {
    let now = 1_000_000;
    let idp = issuer(|_| {});
    let mut c = base(now);
    c["exp"] = json!(now - 1000);
    c["aud"] = json!("nope");
    let r = idp.inspect(&token(c), now);
    assert!(!r.valid);
    let failed: Vec<&str> = r.checks.iter().filter(|c| !c.ok).map(|c| c.name).collect();
    assert_eq!(failed, vec!["aud", "exp"]);
    assert!(idp.inspect(&token(base(now)), now).valid);
}

#[tokio::test]
async fn cache_hits_recheck_time_and_key_generation() {
    use crate::auth::verified_cache::Entry;
    use std::sync::Arc;
    const T: &str = "a.cached.token";
    // near real time: the cache's own eviction runs on the system clock
    let clock = ManualClock::new(crate::clock::SystemClock.now());
    let start = clock.now();
    let idp = issuer(|c| {
        c.leeway_seconds = 5;
        c.max_token_age_seconds = Some(100);
    });
    let entry = |generation| {
        Entry::new(
            T,
            super::Verified {
                issuer: 0,
                generation,
                user_id: "ext-1".into(),
                subject: "u".into(),
                exp: Some(start + 50),
                nbf: Some(start + 10),
                not_after: Some(start + 30),
                iat: Some(start),
                jti: "j".into(),
                ended_by: None,
                metadata: Arc::default(),
                memo: Arc::default(),
            },
        )
    };
    let cache = idp.0.cache.as_ref().unwrap();
    let key = cache.slot(T);
    cache.insert(key, entry(0));
    assert_eq!(
        idp.cached(key, T, clock.now()).unwrap().err(),
        Some("token not yet valid (nbf)")
    );
    cache.insert(key, entry(0));
    clock.advance(6);
    assert!(
        idp.cached(key, T, clock.now()).unwrap().is_ok(),
        "nbf within leeway"
    );
    clock.advance(30);
    assert_eq!(
        idp.cached(key, T, clock.now()).unwrap().err(),
        Some("token older than max_token_age_seconds")
    );
    assert!(
        idp.cached(key, T, clock.now()).is_none(),
        "a refused entry is dropped"
    );
    let idp = issuer(|c| c.leeway_seconds = 0);
    let cache = idp.0.cache.as_ref().unwrap();
    let key = cache.slot(T);
    let mut e = entry(0).value.clone();
    e.nbf = None;
    e.not_after = None;
    cache.insert(key, Entry::new(T, e.clone()));
    clock.advance(50 - 36 - 1);
    assert!(idp.cached(key, T, clock.now()).unwrap().is_ok());
    clock.advance(1);
    assert_eq!(
        idp.cached(key, T, clock.now()).unwrap().err(),
        Some("token expired"),
        "exp == now"
    );
    // an entry verified under another key generation is re-verified
    e.exp = Some(clock.now() + 100);
    e.generation = 7;
    cache.insert(key, Entry::new(T, e.clone()));
    assert!(idp.cached(key, T, clock.now()).is_none());
    // an entry is trusted for its own token only, even found by its slot
    e.generation = 0;
    cache.insert(key, Entry::new(T, e));
    assert!(idp.cached(key, T, clock.now()).unwrap().is_ok());
    assert!(idp.cached(key, "another.token.x", clock.now()).is_none());
}
