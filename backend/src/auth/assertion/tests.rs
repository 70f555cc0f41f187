use super::*;

const T: Timing = Timing {
    rotate_every: 100,
    publish_ahead: 10,
    grace: 30,
};

fn k(kid: &str, created_at: i64, sign_from: i64) -> KeyTimes {
    KeyTimes {
        kid: kid.into(),
        created_at,
        sign_from,
    }
}

#[test]
fn rotation_bookkeeping() {
    // no key: the first signs at once
    let p = plan(&[], 1000, T);
    assert_eq!(p.make_new, Some(1000));
    assert_eq!(p.signing, None);
    let a = k("a", 1000, 1000);
    // a signs; nothing due until 1000 + 100 - 10
    let p = plan(std::slice::from_ref(&a), 1089, T);
    assert_eq!(p.signing.as_deref(), Some("a"));
    assert_eq!(p.published, ["a"]);
    assert_eq!(p.make_new, None);
    let p = plan(std::slice::from_ref(&a), 1090, T);
    assert_eq!(p.make_new, Some(1100), "published 10 s before it signs");
    let b = k("b", 1090, 1100);
    // b published, a still signs; no second new key while b waits
    let p = plan(&[b.clone(), a.clone()], 1099, T);
    assert_eq!(p.signing.as_deref(), Some("a"));
    assert_eq!(p.published, ["a", "b"]);
    assert_eq!(p.make_new, None);
    // b signs; a stays published for the grace period, then is retired
    let p = plan(&[a.clone(), b.clone()], 1100, T);
    assert_eq!(p.signing.as_deref(), Some("b"));
    assert_eq!(p.published, ["a", "b"]);
    let p = plan(&[a.clone(), b.clone()], 1129, T);
    assert_eq!(p.published, ["a", "b"]);
    assert!(p.retired.is_empty());
    let p = plan(&[a.clone(), b.clone()], 1130, T);
    assert_eq!(p.published, ["b"]);
    assert_eq!(p.retired, ["a"]);
    // two replicas made a key at once: both published, one signs
    let c = k("c", 1090, 1100);
    let p = plan(&[a, b, c], 1100, T);
    assert_eq!(p.signing.as_deref(), Some("c"));
    assert_eq!(p.published, ["a", "b", "c"]);
    assert_eq!(p.make_new, None);
}

#[test]
fn the_signing_key_is_always_published() {
    for now in 0..400 {
        let keys = [k("a", 0, 0), k("b", 90, 100), k("c", 190, 200)];
        let p = plan(&keys, now, T);
        if let Some(s) = &p.signing {
            assert!(p.published.contains(s), "{now}");
        }
        // a key that signed within `grace` is still published
        for key in &keys {
            let next = keys.iter().find(|n| n.sign_from > key.sign_from);
            if next.is_none_or(|n| now < n.sign_from + T.grace) {
                assert!(p.published.contains(&key.kid), "{now} {}", key.kid);
            }
        }
    }
}

mod signed {
    use super::super::*;
    use crate::clock::ManualClock;
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{DecodingKey, Validation};

    const NOW: i64 = 1_700_000_000;

    fn config() -> AssertionConfig {
        AssertionConfig {
            ttl: Duration::from_secs(60),
            rotate_every: Duration::from_secs(3600),
            publish_ahead: Duration::from_secs(300),
            grace: Duration::from_secs(600),
        }
    }

    async fn keys(dir: &tempfile::TempDir) -> (AssertionKeys, Arc<ManualClock>, Db) {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = Db::connect(&url).await.unwrap();
        let clock = Arc::new(ManualClock::new(NOW));
        let keys = AssertionKeys::load(
            db.clone(),
            b"a session secret of enough length",
            &config(),
            "https://tessera.example".into(),
            clock.clone(),
        )
        .await
        .unwrap();
        (keys, clock, db)
    }

    fn user() -> User {
        crate::auth::forward::tests::user(Role::User, &["ops"])
    }

    fn jwks(keys: &AssertionKeys) -> JwkSet {
        serde_json::from_slice(&keys.jwks()).unwrap()
    }

    /// What an upstream checks, with no leeway at `now`.
    fn verify(set: &JwkSet, token: &str, aud: &str, now: i64) -> Result<serde_json::Value, String> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
        let kid = header.kid.ok_or("no kid")?;
        let jwk = set.find(&kid).ok_or("unknown kid")?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
        let mut v = Validation::new(Algorithm::ES256);
        v.set_issuer(&["https://tessera.example"]);
        v.set_audience(&[aud]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.leeway = 0;
        v.validate_exp = false; // the test's clock, not the system's
        let claims = jsonwebtoken::decode::<serde_json::Value>(token, &key, &v)
            .map_err(|e| e.to_string())?
            .claims;
        if claims["exp"].as_i64().ok_or("no exp")? <= now {
            return Err("expired".into());
        }
        Ok(claims)
    }

    #[tokio::test]
    async fn assertions_verify_and_forgeries_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let (keys, clock, db) = keys(&dir).await;
        let set = jwks(&keys);
        assert_eq!(set.keys.len(), 1);
        let token = keys.assertion(&user(), Some("app")).unwrap().token.clone();
        let claims = verify(&set, &token, "app", NOW).unwrap();
        assert_eq!(claims["sub"], "u1");
        assert_eq!(claims["iss"], "https://tessera.example");
        assert_eq!(claims["email"], "ann@example.com");
        assert_eq!(claims["groups"], serde_json::json!(["ops"]));
        assert_eq!(claims["role"], "user");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            60
        );
        assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
        // the default audience is the issuer
        let default = keys.assertion(&user(), None).unwrap().token.clone();
        assert!(verify(&set, &default, "https://tessera.example", NOW).is_ok());
        // wrong audience, expired, wrong issuer, unknown key, tampered, unsigned
        assert!(verify(&set, &token, "other", NOW).is_err());
        assert!(verify(&set, &token, "app", NOW + 60).is_err());
        let mut other_iss = Validation::new(Algorithm::ES256);
        other_iss.set_issuer(&["https://evil.example"]);
        other_iss.set_audience(&["app"]);
        let jwk = &set.keys[0];
        assert!(jsonwebtoken::decode::<serde_json::Value>(
            token.as_bytes(),
            &DecodingKey::from_jwk(jwk).unwrap(),
            &other_iss
        )
        .is_err());
        let dir2 = tempfile::tempdir().unwrap();
        let (stranger, _, _) = super::signed::keys(&dir2).await;
        let foreign = stranger
            .assertion(&user(), Some("app"))
            .unwrap()
            .token
            .clone();
        assert!(verify(&set, &foreign, "app", NOW).is_err(), "another key");
        let parts: Vec<&str> = token.split('.').collect();
        let admin = serde_json::json!({"iss": "https://tessera.example", "sub": "u1",
            "aud": "app", "role": "admin", "exp": NOW + 60});
        let payload = URL_SAFE_NO_PAD.encode(admin.to_string());
        let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
        assert!(verify(&set, &tampered, "app", NOW).is_err(), "tampered");
        let none = URL_SAFE_NO_PAD.encode(
            serde_json::json!({"alg": "none", "kid": set.keys[0].common.key_id}).to_string(),
        );
        assert!(verify(&set, &format!("{none}.{payload}."), "app", NOW).is_err());
        let hs = URL_SAFE_NO_PAD.encode(
            serde_json::json!({"alg": "HS256", "kid": set.keys[0].common.key_id}).to_string(),
        );
        assert!(verify(&set, &format!("{hs}.{payload}.{}", parts[2]), "app", NOW).is_err());
        // the same assertion is handed out again for half its life, then a new one
        assert_eq!(
            keys.assertion(&user(), Some("app")).unwrap().token.clone(),
            token
        );
        clock.advance(31);
        assert_ne!(
            keys.assertion(&user(), Some("app")).unwrap().token.clone(),
            token
        );
        // a changed account gets a new one at once
        let mut renamed = user();
        renamed.name = "Ann B".into();
        let fresh = keys.assertion(&renamed, Some("app")).unwrap().token.clone();
        assert_eq!(
            verify(&set, &fresh, "app", NOW + 31).unwrap()["name"],
            "Ann B"
        );
        // the identity headers travel with it, encoded
        let mut zoe = user();
        zoe.name = "Zoë\r\nX: y".into();
        let issued = keys.assertion(&zoe, Some("app")).unwrap();
        let header = |n: &str| {
            issued
                .headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.to_str().unwrap().to_owned())
        };
        assert_eq!(
            header("x-tessera-name").as_deref(),
            Some("Zo%C3%AB%0D%0AX: y")
        );
        assert_eq!(header("x-tessera-groups").as_deref(), Some("ops"));
        assert_eq!(header("x-tessera-role").as_deref(), Some("user"));
        assert_eq!(
            header("x-tessera-assertion").as_deref(),
            Some(&*issued.token)
        );
        // the private key is sealed in the database
        let stored = db.assertion_keys().await.unwrap();
        assert_eq!(stored.len(), 1);
        assert!(!format!("{:?}", stored[0]).contains(&stored[0].sealed_key));
        assert!(!stored[0].sealed_key.starts_with("MIG"), "not plain PKCS#8");
    }

    #[tokio::test]
    async fn a_new_key_is_published_before_it_signs() {
        let dir = tempfile::tempdir().unwrap();
        let (keys, clock, db) = keys(&dir).await;
        let first = jwks(&keys).keys[0].common.key_id.clone().unwrap();
        // due at 3600 - 300: made, published, not yet signing
        clock.advance(3300);
        keys.refresh().await.unwrap();
        let set = jwks(&keys);
        assert_eq!(set.keys.len(), 2);
        let token = keys.assertion(&user(), Some("a")).unwrap().token.clone();
        let kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid.unwrap();
        assert_eq!(kid(&token), first);
        // another replica sharing the database sees both
        let other = AssertionKeys::load(
            db.clone(),
            b"a session secret of enough length",
            &config(),
            "https://tessera.example".into(),
            clock.clone(),
        )
        .await
        .unwrap();
        assert_eq!(jwks(&other).keys.len(), 2);
        // it signs from 300 s later; the old one stays published for grace
        clock.advance(300);
        keys.refresh().await.unwrap();
        let token = keys.assertion(&user(), Some("a")).unwrap().token.clone();
        assert_ne!(kid(&token), first);
        assert!(verify(&jwks(&keys), &token, "a", NOW + 3600).is_ok());
        assert_eq!(jwks(&keys).keys.len(), 2);
        clock.advance(600);
        keys.refresh().await.unwrap();
        let set = jwks(&keys);
        assert_eq!(set.keys.len(), 1);
        assert!(set.find(&first).is_none());
        assert_eq!(db.assertion_keys().await.unwrap().len(), 1, "deleted");
        // keys sealed under another session secret are skipped, not used
        let stranger = AssertionKeys::load(
            db.clone(),
            b"another session secret, long enough",
            &config(),
            "https://tessera.example".into(),
            clock.clone(),
        )
        .await
        .unwrap();
        assert_eq!(jwks(&stranger).keys.len(), 1);
        assert_ne!(
            jwks(&stranger).keys[0].common.key_id,
            set.keys[0].common.key_id
        );
    }

    #[tokio::test]
    async fn stale_keys_sign_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (keys, clock, _db) = keys(&dir).await;
        clock.advance(31);
        // no reload for longer than grace - ttl: another replica may have
        // retired the key, so nothing is signed (fail closed) until one works
        clock.advance(540 - 31);
        assert!(keys.assertion(&user(), Some("app")).is_ok());
        clock.advance(1);
        assert!(matches!(
            keys.assertion(&user(), Some("app")),
            Err(Error::Unavailable(STALE_KEYS))
        ));
        keys.refresh().await.unwrap();
        assert!(keys.assertion(&user(), Some("app")).is_ok());
    }
}
