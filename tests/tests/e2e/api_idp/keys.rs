//! Fetching the issuer's keys: rotation, the IdP being down, one fetch for
//! a flood of unknown kids, rechecked cached tokens, and refused documents.
use super::*;

#[tokio::test]
async fn key_rotation_new_kid_and_removed_kid() {
    let k1 = TestKey::generate(KeyType::Rsa, "k1");
    let k2 = TestKey::generate(KeyType::Rsa, "k2");
    let idp = KeyServer::start(&[&k1]).await;
    let server = TestServer::builder()
        .toml(&issuer_toml(
            "rot",
            "https://rot.test",
            &format!("jwks_url = \"{}\"", idp.jwks_url()),
            "jwks_min_refresh_seconds = 1",
        ))
        .start()
        .await;
    let t1 = k1.sign(json!({}), &claims("https://rot.test", "rita"));
    let t2 = k2.sign(json!({}), &claims("https://rot.test", "rita"));
    assert_eq!(status(&server, &t1).await, 200);
    assert_eq!(status(&server, &t1).await, 200, "cached");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = idp.fetches();
    assert_eq!(status(&server, &t2).await, 401, "k2 unknown yet");
    assert_eq!(
        idp.fetches(),
        before + 1,
        "one refetch for the unknown kid: {}",
        server.log()
    );
    idp.set_keys(&[&k1, &k2]);
    assert_eq!(status(&server, &t2).await, 401, "refetch is rate limited");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(status(&server, &t2).await, 200, "the new kid is picked up");
    assert_eq!(status(&server, &t1).await, 200);
    idp.set_keys(&[&k2]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let t3 = k2.sign(json!({"kid": "k3"}), &claims("https://rot.test", "rita"));
    assert_eq!(
        status(&server, &t3).await,
        401,
        "unknown kid prompts a refetch"
    );
    assert_eq!(
        status(&server, &t1).await,
        401,
        "the removed kid's cached token stops at once"
    );
    assert_eq!(status(&server, &t2).await, 200);
}

#[tokio::test]
async fn idp_down_after_start_up_and_grace_period() {
    let k = TestKey::generate(KeyType::P256, "k");
    let idp = KeyServer::start(&[&k]).await;
    let server = TestServer::builder()
        .toml(&issuer_toml(
            "flaky",
            &idp.url,
            &format!("discovery_url = \"{}\"", idp.discovery_url()),
            "algorithms = [\"ES256\"]\njwks_cache_seconds = 1\njwks_min_refresh_seconds = 0\njwks_grace_seconds = 3",
        ))
        .toml("[cache]\nverified_tokens = 0")
        .start()
        .await;
    let t = k.sign(json!({}), &claims(&idp.url, "fred"));
    assert_eq!(status(&server, &t).await, 200, "{}", server.log());
    idp.set_down(true);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        status(&server, &t).await,
        200,
        "cached keys keep working while the IdP is down"
    );
    let fresh = k.sign(json!({}), &claims(&idp.url, "fred"));
    assert_eq!(
        status(&server, &fresh).await,
        200,
        "a new token with a known kid too"
    );
    let unknown = k.sign(json!({"kid": "new"}), &claims(&idp.url, "fred"));
    assert_eq!(
        status(&server, &unknown).await,
        401,
        "an unknown kid is refused"
    );
    assert_eq!(
        server.get("/readyz", None).await.0,
        200,
        "within the grace period"
    );
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(
        status(&server, &t).await,
        401,
        "after the grace period keys are no longer trusted"
    );
    assert_eq!(server.get("/readyz", None).await.0, 503);
    idp.set_down(false);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(status(&server, &t).await, 200, "back once the IdP is");
    assert_eq!(server.get("/readyz", None).await.0, 200);
}

#[tokio::test]
async fn idp_down_at_start_up_is_unready_not_fatal() {
    let k = TestKey::generate(KeyType::Rsa, "k");
    let idp = KeyServer::start(&[&k]).await;
    idp.set_down(true);
    let server = TestServer::builder()
        .toml(&issuer_toml(
            "late",
            "https://late.test",
            &format!("jwks_url = \"{}\"", idp.jwks_url()),
            "jwks_min_refresh_seconds = 1",
        ))
        .start()
        .await;
    let (code, body) = server.get("/readyz", None).await;
    assert_eq!(code, 503);
    assert_eq!(body["unready_issuers"], json!(["late"]));
    let t = k.sign(json!({}), &claims("https://late.test", "lee"));
    assert_eq!(status(&server, &t).await, 401);
    idp.set_down(false);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(server.get("/readyz", None).await.0, 200);
    assert_eq!(status(&server, &t).await, 200);
}

#[tokio::test]
async fn five_hundred_concurrent_unknown_kids_cause_at_most_one_fetch() {
    let k = TestKey::generate(KeyType::Rsa, "k");
    let idp = KeyServer::start(&[&k]).await;
    let server = TestServer::builder()
        .toml(&issuer_toml(
            "busy",
            "https://busy.test",
            &format!("jwks_url = \"{}\"", idp.jwks_url()),
            "jwks_min_refresh_seconds = 2",
        ))
        .start()
        .await;
    // past the minimum interval since the start-up fetch: one refetch is due
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let before = idp.fetches();
    idp.set_delay(Duration::from_millis(300));
    let token = k.sign(
        json!({"kid": "unknown"}),
        &claims("https://busy.test", "bo"),
    );
    let c = client();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..500 {
        let c = c.clone();
        let url = server.at(ME);
        let token = token.clone();
        tasks.spawn(async move {
            c.get(url)
                .bearer_auth(token)
                .send()
                .await
                .map(|r| r.status().as_u16())
        });
    }
    while let Some(r) = tasks.join_next().await {
        assert_eq!(r.unwrap().unwrap(), 401);
    }
    assert!(
        idp.fetches() - before == 1,
        "{} fetches",
        idp.fetches() - before
    );
}

#[tokio::test]
async fn cached_tokens_are_rechecked() {
    let k = TestKey::generate(KeyType::Rsa, "k");
    let idp = KeyServer::start(&[&k]).await;
    let server = TestServer::builder()
        .toml(&issuer_toml(
            "c",
            "https://c.test",
            &format!("jwks_url = \"{}\"", idp.jwks_url()),
            "leeway_seconds = 0\ngroups_claim = \"groups\"\nadmin_groups = [\"admins\"]",
        ))
        .start()
        .await;
    let admin = admin_token(&server).await;
    // expiry
    let mut c = claims("https://c.test", "short");
    c["exp"] = json!(now() + 2);
    let short = k.sign(json!({}), &c);
    assert_eq!(status(&server, &short).await, 200);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(
        status(&server, &short).await,
        401,
        "a cached token expires on time"
    );
    // revocation
    let t = k.sign(json!({}), &claims("https://c.test", "rev"));
    assert_eq!(status(&server, &t).await, 200);
    assert_eq!(server.get("/api/v1/auths/signout", Some(&t)).await.0, 200);
    assert_eq!(
        status(&server, &t).await,
        401,
        "a revoked cached token is refused"
    );
    // role change and deletion
    let mut c = claims("https://c.test", "dora");
    c["groups"] = json!(["admins"]);
    let t = k.sign(json!({}), &c);
    // verified, then cached: the account and the answer are remembered
    for _ in 0..3 {
        let (code, me) = server.get(ME, Some(&t)).await;
        assert_eq!((code, me["role"].clone()), (200, json!("admin")));
    }
    let me = server.get(ME, Some(&t)).await.1;
    assert_eq!(server.get("/api/v1/users/", Some(&t)).await.0, 200);
    let id = me["id"].as_str().unwrap().to_owned();
    let res = client()
        .post(server.at("/api/v1/users/update/role"))
        .bearer_auth(&admin)
        .json(&json!({"id": id, "role": "user"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        server.get("/api/v1/users/", Some(&t)).await.0,
        403,
        "the role change applies to the cached token"
    );
    assert_eq!(
        server.get(ME, Some(&t)).await.1["role"],
        "user",
        "the answer shows the new role at once"
    );
    let res = client()
        .delete(server.at(&format!("/api/v1/users/{id}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        status(&server, &t).await,
        401,
        "a deleted user's cached token is refused"
    );
}

#[tokio::test]
async fn key_fetches_refuse_foreign_redirects_and_oversized_documents() {
    let k = TestKey::generate(KeyType::Rsa, "k");
    let idp = KeyServer::start(&[&k]).await;
    let server = TestServer::builder()
        .toml(&issuer_toml(
            "redirected",
            "https://redirected.test",
            &format!("jwks_url = \"{}/redirect\"", idp.url),
            "",
        ))
        .toml(&issuer_toml(
            "big",
            "https://big.test",
            &format!("jwks_url = \"{}\"", idp.jwks_url()),
            "max_document_bytes = 200",
        ))
        .start()
        .await;
    let (code, body) = server.get("/readyz", None).await;
    assert_eq!(code, 503);
    assert_eq!(body["unready_issuers"], json!(["redirected", "big"]));
    for iss in ["https://redirected.test", "https://big.test"] {
        let t = k.sign(json!({}), &claims(iss, "x"));
        assert_eq!(status(&server, &t).await, 401, "{iss}");
    }
    // symmetric keys in a JWKS are never used, even for an HS token naming them
    idp.set_raw_keys(vec![
        json!({"kty": "oct", "kid": "h", "k": b64(b"0123456789abcdef0123456789abcdef")}),
    ]);
    let server = TestServer::builder()
        .toml(&issuer_toml(
            "oct",
            "https://oct.test",
            &format!("jwks_url = \"{}\"", idp.jwks_url()),
            "",
        ))
        .start()
        .await;
    let hs = sign_raw(
        r#"{"alg":"HS256","kid":"h"}"#,
        &claims("https://oct.test", "x").to_string(),
        &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        Algorithm::HS256,
    );
    assert_eq!(status(&server, &hs).await, 401);
}
