//! The logout token's checks (Back-Channel Logout 1.0, §2.6): a good token
//! passes, and every check has a forged or wrong token that fails it.
use super::*;
use crate::auth::oidc::logout::{LogoutClaims, BACKCHANNEL_LOGOUT_EVENT};

fn verifier(s: &Signer) -> IdTokenVerifier {
    let mut cfg = OidcProviderConfig::new("kc");
    cfg.client_id = CLIENT.into();
    let mut ic = issuer_config(&cfg, ISS, None, vec!["EdDSA".into()]);
    ic.decode_key_b64 = Some(Secret::new(
        base64::engine::general_purpose::STANDARD.encode(&s.spki_pem),
    ));
    let keys = Arc::new(KeyStore::new(&ic).unwrap());
    IdTokenVerifier::new(ic, keys)
}

fn logout_claims() -> Value {
    json!({
        "iss": ISS, "aud": CLIENT, "iat": NOW - 5, "exp": NOW + 120, "jti": "j-1",
        "sub": "s1", "sid": "sid-1",
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}}
    })
}

async fn check(c: Value) -> std::result::Result<LogoutClaims, &'static str> {
    let s = signer();
    verifier(&s).verify_logout(&sign(&s, &c), NOW).await
}

fn without(key: &str) -> Value {
    let mut c = logout_claims();
    c.as_object_mut().unwrap().remove(key);
    c
}

fn with(key: &str, v: Value) -> Value {
    let mut c = logout_claims();
    c[key] = v;
    c
}

#[tokio::test]
async fn a_good_logout_token_passes() {
    let l = check(logout_claims()).await.unwrap();
    assert_eq!(l.sid.as_deref(), Some("sid-1"));
    assert_eq!(l.sub.as_deref(), Some("s1"));
    assert_eq!(l.jti, "j-1");
    assert!(l.replayable_until >= NOW + 120, "remembered until its exp");
    // sid alone, sub alone
    assert!(check(without("sub")).await.is_ok());
    assert!(check(without("sid")).await.is_ok());
    // no exp: accepted for five minutes after iat, and remembered as long
    let l = check(without("exp")).await.unwrap();
    assert!(l.replayable_until >= NOW - 5 + 300);
}

#[tokio::test]
async fn every_check_refuses_a_wrong_token() {
    let cases: Vec<(&str, Value)> = vec![
        ("another issuer", with("iss", json!("https://evil.test"))),
        ("another audience", with("aud", json!("someone-else"))),
        ("no audience", without("aud")),
        ("no iat", without("iat")),
        ("iat in the future", with("iat", json!(NOW + 3600))),
        ("expired", with("exp", json!(NOW - 60))),
        ("no exp and old", {
            let mut c = without("exp");
            c["iat"] = json!(NOW - 3600);
            c
        }),
        ("carries a nonce (an ID token)", with("nonce", json!("n-1"))),
        ("no events", without("events")),
        (
            "events without the logout event",
            with("events", json!({"http://example.com/other": {}})),
        ),
        (
            "the event is not an object",
            with("events", json!({BACKCHANNEL_LOGOUT_EVENT: "yes"})),
        ),
        ("neither sid nor sub", {
            let mut c = without("sid");
            c.as_object_mut().unwrap().remove("sub");
            c
        }),
        ("sid not a string", with("sid", json!(7))),
        ("empty sid", with("sid", json!(""))),
        ("no jti", without("jti")),
        ("jti not a string", with("jti", json!(["j"]))),
    ];
    for (label, c) in cases {
        assert!(check(c).await.is_err(), "{label}: accepted");
    }
}

#[tokio::test]
async fn a_forged_signature_or_no_signature_is_refused() {
    let s = signer();
    let v = verifier(&s);
    // signed by another key
    let other = signer();
    assert!(v
        .verify_logout(&sign(&other, &logout_claims()), NOW)
        .await
        .is_err());
    // alg none, unsigned
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&logout_claims())
    );
    assert!(v.verify_logout(&unsigned, NOW).await.is_err());
    // a good token with one claim changed after signing
    let good = sign(&s, &logout_claims());
    let parts: Vec<&str> = good.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(&with("sid", json!("sid-2"))),
        parts[2]
    );
    assert!(v.verify_logout(&tampered, NOW).await.is_err());
    assert!(v.verify_logout(&good, NOW).await.is_ok());
}

#[tokio::test]
async fn typ_must_be_a_logout_tokens() {
    let s = signer();
    let v = verifier(&s);
    let typed = |typ: &str| {
        let mut h = Header::new(Algorithm::EdDSA);
        h.typ = Some(typ.into());
        jsonwebtoken::encode(&h, &logout_claims(), &s.key).unwrap()
    };
    assert!(v.verify_logout(&typed("logout+jwt"), NOW).await.is_ok());
    assert!(v.verify_logout(&typed("JWT"), NOW).await.is_ok());
    for typ in ["at+jwt", "application/at+jwt", "secevent+jwt"] {
        assert!(v.verify_logout(&typed(typ), NOW).await.is_err(), "{typ}");
    }
}
