//! The ID token's checks, with tokens signed by a key made here, and the
//! key fetches a burst of forged tokens may cause.
use super::*;

fn verifier(s: &Signer) -> IdTokenVerifier {
    let mut cfg = OidcProviderConfig::new("kc");
    cfg.client_id = CLIENT.into();
    let mut ic = issuer_config(&cfg, ISS, None, vec!["EdDSA".into(), "RS256".into()]);
    ic.decode_key_b64 = Some(Secret::new(
        base64::engine::general_purpose::STANDARD.encode(&s.spki_pem),
    ));
    let keys = KeyStore::new(&ic).unwrap();
    IdTokenVerifier::new(ic, Arc::new(keys))
}

async fn check(c: Value) -> std::result::Result<Map<String, Value>, &'static str> {
    let s = signer();
    verifier(&s).verify(&sign(&s, &c), NOW, Some("n-1")).await
}

#[tokio::test]
async fn a_good_id_token_passes() {
    let c = check(claims()).await.unwrap();
    assert_eq!(c["sub"], "s1");
}

#[tokio::test]
async fn nonce_must_match() {
    let mut c = claims();
    c["nonce"] = json!("n-2");
    assert_eq!(
        check(c).await.unwrap_err(),
        "nonce does not match the sign-in"
    );
    let mut c = claims();
    c.as_object_mut().unwrap().remove("nonce");
    assert_eq!(
        check(c).await.unwrap_err(),
        "nonce missing from the ID token"
    );
}

#[tokio::test]
async fn aud_azp_iss_and_expiry_go_through_the_idp_checks() {
    let mut c = claims();
    c["aud"] = json!("another-client");
    assert_eq!(
        check(c).await.unwrap_err(),
        "aud does not contain an accepted audience"
    );
    let mut c = claims();
    c["aud"] = json!([CLIENT, "other"]);
    assert_eq!(
        check(c.clone()).await.unwrap_err(),
        "azp missing while aud has several values"
    );
    c["azp"] = json!(CLIENT);
    assert!(check(c).await.is_ok());
    let mut c = claims();
    c["azp"] = json!("other");
    assert_eq!(check(c).await.unwrap_err(), "azp is not the client id");
    let mut c = claims();
    c["iss"] = json!("https://evil.test");
    assert_eq!(check(c).await.unwrap_err(), "iss does not match the issuer");
    let mut c = claims();
    c["exp"] = json!(NOW - 61);
    assert_eq!(check(c).await.unwrap_err(), "token expired");
    let mut c = claims();
    c.as_object_mut().unwrap().remove("iat");
    assert_eq!(check(c).await.unwrap_err(), "a required claim is missing");
}

#[tokio::test]
async fn forged_and_unsigned_tokens_are_refused() {
    let s = signer();
    let v = verifier(&s);
    // another key
    let other = signer();
    assert_eq!(
        v.verify(&sign(&other, &claims()), NOW, Some("n-1"))
            .await
            .unwrap_err(),
        "bad signature"
    );
    // alg none
    let b64 = |x: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(x);
    let none = format!(
        "{}.{}.",
        b64(r#"{"alg":"none"}"#),
        b64(&claims().to_string())
    );
    assert!(v.verify(&none, NOW, Some("n-1")).await.is_err());
    // HS256 keyed with the public key (algorithm confusion)
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(s.spki_pem.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        v.verify(&hs, NOW, Some("n-1")).await.unwrap_err(),
        "alg not allowed for this issuer"
    );
}

/// Issue 15: a forged ID token with a `kid` the provider never had must not
/// make Tessera fetch the provider's keys once per token — neither while the
/// keys are loaded nor while the provider fails to serve them.
#[tokio::test]
async fn a_burst_of_unknown_kid_id_tokens_fetches_keys_at_most_once_per_interval() {
    let s = signer();
    let idp = FakeIdp::start(json!({"keys": [s.jwk("k1")]})).await;
    let token = |kid: &str| {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.into());
        let mut c = claims();
        c["iss"] = json!(idp.url);
        jsonwebtoken::encode(&header, &c, &s.key).unwrap()
    };
    let v = idp.verifier().await;
    assert_eq!(idp.fetches(), 1, "loaded once, as discovery does");
    assert!(v.verify(&token("k1"), NOW, Some("n-1")).await.is_ok());
    for i in 0..20 {
        assert_eq!(
            v.verify(&token(&format!("forged-{i}")), NOW, Some("n-1"))
                .await
                .unwrap_err(),
            "kid unknown to the provider"
        );
    }
    assert!(idp.fetches() <= 2, "{} fetches", idp.fetches());

    // the provider's keys cannot be loaded: each token must not force a fetch
    idp.keys_fail.store(true, Ordering::SeqCst);
    let v = idp.verifier().await;
    let before = idp.fetches();
    for i in 0..20 {
        assert!(v
            .verify(&token(&format!("forged-{i}")), NOW, Some("n-1"))
            .await
            .is_err());
    }
    assert!(
        idp.fetches() - before <= 1,
        "{} fetches for 20 tokens within the minimum interval",
        idp.fetches() - before
    );
}
