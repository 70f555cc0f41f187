//! IdP-issued JWTs against the real server: real keys, a real JWKS and
//! discovery server on loopback, and a forged token for every rejection.
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};
use std::time::Duration;
use tessera_tests::keyserver::{b64, now, sign_raw, KeyServer, KeyType, TestKey};
use tessera_tests::server::{binary, client, TestServer};

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
    let a = server
        .signup("Root", "root@example.com", "correct horse")
        .await;
    a["token"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn every_rejection_with_a_forged_token() {
    let rsa = TestKey::generate(KeyType::Rsa, "rsa-1");
    let ec = TestKey::generate(KeyType::P256, "ec-1");
    let other = TestKey::generate(KeyType::Rsa, "rsa-1");
    let idp = KeyServer::start(&[&rsa, &ec]).await;
    let b = TestKey::generate(KeyType::Rsa, "b-1");
    let idp_b = KeyServer::start(&[&b]).await;
    let iss = "https://idp.test/realms/a";
    let server = TestServer::builder()
        .toml(&issuer_toml(
            "a",
            iss,
            &format!("jwks_url = \"{}\"", idp.jwks_url()),
            "algorithms = [\"RS256\", \"ES256\"]\nmax_token_bytes = 4096\njwks_min_refresh_seconds = 0",
        ))
        .toml(&issuer_toml(
            "b",
            "https://idp.test/realms/b",
            &format!("jwks_url = \"{}\"", idp_b.jwks_url()),
            "",
        ))
        .start()
        .await;
    let good = claims(iss, "alice");
    let ok = rsa.sign(json!({"typ": "JWT"}), &good);
    assert_eq!(status(&server, &ok).await, 200, "{}", server.log());
    let ok_ec = ec.sign(json!({}), &good);
    assert_eq!(status(&server, &ok_ec).await, 200);
    let with = |patch: Value| {
        let mut c = good.clone();
        for (k, v) in patch.as_object().into_iter().flatten() {
            if v.is_null() {
                c.as_object_mut().map(|o| o.remove(k));
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    let (h, p, _) = split(&ok);
    let hs_with_public_key = sign_raw(
        r#"{"alg":"HS256","kid":"rsa-1"}"#,
        &good.to_string(),
        &EncodingKey::from_secret(rsa.public_pem.as_bytes()),
        Algorithm::HS256,
    );
    let mut forged: Vec<(&str, String)> = vec![
        (
            "signed by another key with the same kid",
            other.sign(json!({}), &good),
        ),
        (
            "tampered payload",
            format!(
                "{h}.{}.{}",
                b64(with(json!({"sub": "admin"})).to_string()),
                split(&ok).2
            ),
        ),
        (
            "alg none",
            format!("{}.{p}.", b64(r#"{"alg":"none","kid":"rsa-1"}"#)),
        ),
        (
            "alg None with a signature",
            format!("{}.{p}.{}", b64(r#"{"alg":"None"}"#), split(&ok).2),
        ),
        ("alg NONE", format!("{}.{p}.", b64(r#"{"alg":"NONE"}"#))),
        (
            "HS256 signed with the RSA public key (alg confusion)",
            hs_with_public_key,
        ),
        (
            "alg not allowed (RS512)",
            rsa.sign_as(Algorithm::RS512, json!({}), &good),
        ),
        (
            "PS256 not allowed",
            rsa.sign_as(Algorithm::PS256, json!({}), &good),
        ),
        (
            "ES256 token naming an RSA kid",
            ec.sign(json!({"kid": "rsa-1"}), &good),
        ),
        (
            "missing iss",
            rsa.sign(json!({}), &with(json!({"iss": null}))),
        ),
        (
            "wrong iss",
            rsa.sign(json!({}), &with(json!({"iss": "https://evil.test"}))),
        ),
        (
            "iss of another trusted issuer",
            rsa.sign(
                json!({}),
                &with(json!({"iss": "https://idp.test/realms/b"})),
            ),
        ),
        (
            "missing aud",
            rsa.sign(json!({}), &with(json!({"aud": null}))),
        ),
        (
            "wrong aud",
            rsa.sign(json!({}), &with(json!({"aud": ["other", "x"]}))),
        ),
        (
            "expired",
            rsa.sign(json!({}), &with(json!({"exp": now() - 61}))),
        ),
        (
            "not yet valid",
            rsa.sign(json!({}), &with(json!({"nbf": now() + 120}))),
        ),
        (
            "iat in the future",
            rsa.sign(json!({}), &with(json!({"iat": now() + 120}))),
        ),
        (
            "missing exp",
            rsa.sign(json!({}), &with(json!({"exp": null}))),
        ),
        (
            "missing sub",
            rsa.sign(json!({}), &with(json!({"sub": null}))),
        ),
        ("unknown kid", rsa.sign(json!({"kid": "nope"}), &good)),
        (
            "kid differing only in case",
            rsa.sign(json!({"kid": "RSA-1"}), &good),
        ),
        (
            "string exp",
            rsa.sign(json!({}), &with(json!({"exp": (now() + 600).to_string()}))),
        ),
        ("numeric iss", rsa.sign(json!({}), &with(json!({"iss": 7})))),
        (
            "aud object",
            rsa.sign(json!({}), &with(json!({"aud": {"app": true}}))),
        ),
        (
            "aud list with a number",
            rsa.sign(json!({}), &with(json!({"aud": ["app", 1]}))),
        ),
        (
            "sub with a control character",
            rsa.sign(json!({}), &with(json!({"sub": "alice\u{0}"}))),
        ),
        ("crit header", rsa.sign(json!({"crit": ["exp"]}), &good)),
        (
            "typ JOSE+JSON",
            rsa.sign(json!({"typ": "JOSE+JSON"}), &good),
        ),
        ("typ dpop+jwt", rsa.sign(json!({"typ": "dpop+jwt"}), &good)),
        (
            "JWE",
            format!("{}.a.b.c.d", b64(r#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#)),
        ),
        (
            "JWS JSON serialisation",
            format!(r#"{{"payload":"{p}","signatures":[]}}"#),
        ),
        ("malformed base64", format!("{h}.{p}!.{}", split(&ok).2)),
        ("padding", format!("{h}=.{p}.{}", split(&ok).2)),
        (
            "standard alphabet",
            format!(
                "{}.{}.{}",
                h,
                p,
                split(&ok).2.replace('-', "+").replace('_', "/")
            ),
        ),
        (
            "malformed JSON",
            sign_raw(
                r#"{"alg":"RS256","kid":"rsa-1"}"#,
                r#"{"iss":"#,
                &rsa.encoding(),
                Algorithm::RS256,
            ),
        ),
        (
            "duplicate key in claims",
            sign_raw(
                r#"{"alg":"RS256","kid":"rsa-1"}"#,
                &format!(
                    r#"{{"iss":"{iss}","sub":"alice","sub":"root","aud":"app","exp":{}}}"#,
                    now() + 600
                ),
                &rsa.encoding(),
                Algorithm::RS256,
            ),
        ),
        (
            "duplicate key in header",
            sign_raw(
                r#"{"alg":"RS256","kid":"x","kid":"rsa-1"}"#,
                &good.to_string(),
                &rsa.encoding(),
                Algorithm::RS256,
            ),
        ),
        (
            "over the size limit",
            rsa.sign(json!({}), &with(json!({"pad": "x".repeat(4000)}))),
        ),
        (
            "psychic ECDSA signature (r = s = 0)",
            format!("{}.{}.{}", split(&ok_ec).0, split(&ok_ec).1, b64([0u8; 64])),
        ),
        (
            "token of issuer b under issuer a's settings",
            b.sign(json!({"kid": "rsa-1"}), &good),
        ),
    ];
    // stray bits: flip the lowest bit of the last signature character
    let sig = split(&ok).2;
    let last = sig.chars().last().unwrap_or('A');
    if let Some(flipped) = flip_low_bit(last) {
        forged.push((
            "stray bits",
            format!("{h}.{p}.{}{flipped}", &sig[..sig.len() - 1]),
        ));
    }
    for (why, token) in &forged {
        let (code, body) = server.get(ME, Some(token)).await;
        assert_eq!(code, 401, "{why} must be refused");
        assert_eq!(body["detail"], "Invalid token", "{why}");
    }
    assert_eq!(
        status(&server, &ok).await,
        200,
        "the good token still works"
    );
    let log = server.log();
    assert!(!log.contains(&ok), "tokens never reach the log");
    assert!(
        log.contains("alg none is never accepted"),
        "reasons are logged at debug"
    );
}

fn flip_low_bit(c: char) -> Option<char> {
    const A: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let i = A.find(c)?;
    A.chars().nth(i ^ 1)
}

fn split(t: &str) -> (String, String, String) {
    let mut it = t.splitn(3, '.');
    (
        it.next().unwrap_or_default().into(),
        it.next().unwrap_or_default().into(),
        it.next().unwrap_or_default().into(),
    )
}

#[tokio::test]
async fn static_keys_of_every_type_hmac_and_the_session_user() {
    let dir = tempfile::tempdir().unwrap();
    let keys = [
        TestKey::generate(KeyType::Rsa, "rsa"),
        TestKey::generate(KeyType::P256, "p256"),
        TestKey::generate(KeyType::P384, "p384"),
        TestKey::generate(KeyType::Ed25519, "ed"),
    ];
    let files: Vec<String> = keys
        .iter()
        .map(|k| {
            let path = dir.path().join(format!("{}.pem", k.kid));
            std::fs::write(&path, &k.public_pem).unwrap();
            format!("{:?}", path.display().to_string())
        })
        .collect();
    let secret = [7u8; 48];
    use base64::Engine;
    let secret_b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    let server = TestServer::builder()
        .toml(&issuer_toml(
            "static",
            "https://static.test",
            &format!("public_keys = [{}]", files.join(", ")),
            "algorithms = [\"RS256\", \"PS256\", \"ES256\", \"ES384\", \"EdDSA\"]\ngroups_claim = \"groups\"",
        ))
        .toml(&issuer_toml(
            "hmac",
            "https://hmac.test",
            &format!("hmac_secret_b64 = \"{secret_b64}\""),
            "algorithms = [\"HS256\"]",
        ))
        .start()
        .await;
    let c = claims("https://static.test", "sam");
    for k in &keys {
        for with_kid in [true, false] {
            let header = if with_kid {
                json!({})
            } else {
                json!({"kid": null})
            };
            let mut h = header.clone();
            if !with_kid {
                h = json!({"alg": format!("{:?}", k.alg())});
            }
            let t = if with_kid {
                k.sign(h, &c)
            } else {
                sign_raw(&h.to_string(), &c.to_string(), &k.encoding(), k.alg())
            };
            assert_eq!(
                status(&server, &t).await,
                200,
                "{:?} kid={with_kid}\n{}",
                k.kind,
                server.log()
            );
        }
    }
    let ps = keys[0].sign_as(Algorithm::PS256, json!({}), &c);
    assert_eq!(status(&server, &ps).await, 200, "PS256 with the RSA key");
    // a key only ever used with its own algorithm type
    let es384_with_p256 =
        keys[1].sign_as(Algorithm::ES256, json!({"alg": "ES384", "kid": "p256"}), &c);
    assert_eq!(status(&server, &es384_with_p256).await, 401);
    let hs = sign_raw(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &claims("https://hmac.test", "hank").to_string(),
        &EncodingKey::from_secret(&secret),
        Algorithm::HS256,
    );
    let (code, me) = server.get(ME, Some(&hs)).await;
    assert_eq!(code, 200);
    assert_eq!(me["auth_method"], "jwt");
    assert_eq!(me["issuer"], "hmac");
    assert_eq!(me["subject"], "hank");
    assert_eq!(me["email"], "hank@example.com");
    let wrong_secret = sign_raw(
        r#"{"alg":"HS256"}"#,
        &claims("https://hmac.test", "hank").to_string(),
        &EncodingKey::from_secret(&[8u8; 48]),
        Algorithm::HS256,
    );
    assert_eq!(status(&server, &wrong_secret).await, 401);
    // a HS token under the asymmetric issuer: refused
    let hs_static = sign_raw(
        r#"{"alg":"HS256"}"#,
        &c.to_string(),
        &EncodingKey::from_secret(keys[0].public_pem.as_bytes()),
        Algorithm::HS256,
    );
    assert_eq!(status(&server, &hs_static).await, 401);
    // identity is never normalised: another case, or a fullwidth look-alike, is another user
    let a = server
        .get(
            ME,
            Some(&keys[0].sign(json!({}), &claims("https://static.test", "Sam"))),
        )
        .await
        .1;
    let b = server
        .get(
            ME,
            Some(&keys[0].sign(json!({}), &claims("https://static.test", "ｓam"))),
        )
        .await
        .1;
    let base = server.get(ME, Some(&keys[0].sign(json!({}), &c))).await.1;
    assert_ne!(a["id"], base["id"]);
    assert_ne!(b["id"], base["id"]);
    assert_eq!(
        base["id"],
        server.get(ME, Some(&keys[2].sign(json!({}), &c))).await.1["id"],
        "stable id per issuer+subject"
    );
    // a session token is still a session
    let admin = admin_token(&server).await;
    let (code, me) = server.get(ME, Some(&admin)).await;
    assert_eq!(code, 200);
    assert_eq!(me["auth_method"], "session");
}

#[tokio::test]
async fn bound_claims_json_pointers_mappings_and_roles() {
    let k = TestKey::generate(KeyType::P256, "k");
    let idp = KeyServer::start(&[&k]).await;
    let src = format!(
        "jwks_url = \"{}\"\nalgorithms = [\"ES256\"]",
        idp.jwks_url()
    );
    let server = TestServer::builder()
        .toml(&issuer_toml(
            "exact",
            "https://exact.test",
            &src,
            r#"groups_claim = "/realm_access/roles"
name_claim = "/profile/display"
admin_groups = ["Admin"]
user_groups = ["trusted"]
claim_mappings = { "tenant" = "tenant", "/org/id" = "org_id" }
[issuers.bound_claims]
tenant = "acme"
"/realm_access/roles" = ["trusted", "Admin"]
email_verified = true"#,
        ))
        .toml(&issuer_toml(
            "glob",
            "https://glob.test",
            &src,
            r#"user_claim = "email"
email_claim = "email"
bound_claims_type = "glob"
bound_subject = "gil@corp.example"
[issuers.bound_claims]
email = "*@corp.example"
"/groups" = ["eng-*", "ops"]"#,
        ))
        .start()
        .await;
    let base = |extra: Value| {
        let mut c = claims("https://exact.test", "eve");
        c["tenant"] = json!("acme");
        c["email_verified"] = json!(true);
        c["org"] = json!({"id": 42});
        c["profile"] = json!({"display": "Eve E."});
        c["realm_access"] = json!({"roles": ["trusted", "other"]});
        for (key, v) in extra.as_object().into_iter().flatten() {
            if v.is_null() {
                c.as_object_mut().map(|o| o.remove(key));
            } else {
                c[key] = v.clone();
            }
        }
        k.sign(json!({}), &c)
    };
    let (code, me) = server.get(ME, Some(&base(json!({})))).await;
    assert_eq!(code, 200, "{}", server.log());
    assert_eq!(me["role"], "user");
    assert_eq!(me["name"], "Eve E.");
    assert_eq!(me["issuer"], "exact");
    assert_eq!(me["metadata"]["tenant"], "acme");
    assert_eq!(me["metadata"]["org_id"], "42");
    let groups: Vec<String> = serde_json::from_value(me["groups"].clone()).unwrap();
    assert!(groups.contains(&"trusted".to_string()), "{groups:?}");
    let (code, me) = server
        .get(
            ME,
            Some(&base(
                json!({"realm_access": {"roles": ["ADMIN", "trusted"]}}),
            )),
        )
        .await;
    assert_eq!(
        (code, me["role"].clone()),
        (200, json!("admin")),
        "groups compare case-insensitively in the role mapping"
    );
    for (why, t) in [
        (
            "bound claim of another value",
            base(json!({"tenant": "evil"})),
        ),
        ("bound claim missing", base(json!({"tenant": null}))),
        (
            "bound claim exact, not case-folded",
            base(json!({"tenant": "ACME"})),
        ),
        (
            "bound list claim without a match",
            base(json!({"realm_access": {"roles": ["other"]}})),
        ),
        (
            "bound bool claim false",
            base(json!({"email_verified": false})),
        ),
        (
            "bound bool claim as a string",
            base(json!({"email_verified": "true"})),
        ),
        ("mapped claim missing", base(json!({"org": {"name": "x"}}))),
    ] {
        assert_eq!(status(&server, &t).await, 401, "{why}");
    }
    // a bound list matches when any element does
    let admin_only = base(json!({"realm_access": {"roles": ["Admin"]}}));
    assert_eq!(status(&server, &admin_only).await, 200);
    // glob issuer
    let glob = |email: &str, groups: Value, verified: Option<bool>| {
        let mut c = claims("https://glob.test", "ignored");
        c["email"] = json!(email);
        c["groups"] = groups;
        if let Some(v) = verified {
            c["email_verified"] = json!(v);
        }
        k.sign(json!({}), &c)
    };
    let (code, me) = server
        .get(
            ME,
            Some(&glob("gil@corp.example", json!(["eng-web"]), Some(true))),
        )
        .await;
    assert_eq!(code, 200, "{}", server.log());
    assert_eq!(me["subject"], "gil@corp.example");
    assert_eq!(
        status(&server, &glob("gil@corp.example", json!("ops"), None)).await,
        200,
        "a string claim matches a list"
    );
    for (why, t) in [
        (
            "glob mismatch",
            glob("gil@corp.example.evil", json!(["eng-web"]), None),
        ),
        (
            "bound_subject mismatch",
            glob("other@corp.example", json!(["eng-web"]), None),
        ),
        (
            "no group matches",
            glob("gil@corp.example", json!(["sales"]), None),
        ),
        (
            "email_verified false with user_claim = email",
            glob("gil@corp.example", json!(["ops"]), Some(false)),
        ),
    ] {
        assert_eq!(status(&server, &t).await, 401, "{why}");
    }
    let mut c = claims("https://glob.test", "x");
    c["email"] = json!("gil@corp.example");
    c["groups"] = json!(["ops"]);
    c["email_verified"] = json!("true");
    assert_eq!(
        status(&server, &k.sign(json!({}), &c)).await,
        401,
        "email_verified must be JSON true"
    );
}

#[tokio::test]
async fn user_groups_gate_entry_with_403() {
    let k = TestKey::generate(KeyType::Ed25519, "ed");
    let idp = KeyServer::start(&[&k]).await;
    let server = TestServer::builder()
        .toml(&issuer_toml(
            "gate",
            "https://gate.test",
            &format!("discovery_url = \"{}\"", idp.discovery_url()),
            "algorithms = [\"EdDSA\"]\ngroups_claim = \"groups\"\nadmin_groups = [\"admin\"]\nuser_groups = [\"trusted\"]",
        ))
        .start()
        .await;
    let _ = &server;
    // discovery names the key server's URL as issuer, not gate.test: no keys load
    let mut c = claims("https://gate.test", "u");
    c["groups"] = json!(["trusted"]);
    assert_eq!(
        status(&server, &k.sign(json!({}), &c)).await,
        401,
        "discovery issuer mismatch means no keys"
    );
    let (code, body) = server.get("/readyz", None).await;
    assert_eq!(code, 503);
    assert_eq!(body["unready_issuers"], json!(["gate"]));

    let server = TestServer::builder()
        .toml(&issuer_toml(
            "gate",
            &idp.url,
            &format!("discovery_url = \"{}\"", idp.discovery_url()),
            "algorithms = [\"EdDSA\"]\ngroups_claim = \"groups\"\nadmin_groups = [\"admin\"]\nuser_groups = [\"trusted\"]",
        ))
        .start()
        .await;
    let token = |groups: Value| {
        let mut c = claims(&idp.url, "gus");
        c["groups"] = groups;
        k.sign(json!({}), &c)
    };
    assert_eq!(server.get("/readyz", None).await.0, 200);
    assert_eq!(
        server.get(ME, Some(&token(json!(["untrusted"])))).await,
        (403, json!({"detail": "Access prohibited"}))
    );
    assert_eq!(server.get(ME, Some(&token(json!([])))).await.0, 403);
    assert_eq!(
        server.get(ME, Some(&token(json!(["TRUSTED"])))).await.1["role"],
        "user"
    );
    assert_eq!(
        server.get(ME, Some(&token(json!(["admin"])))).await.1["role"],
        "admin"
    );
}

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
async fn inspector_explains_refusals_to_admins_only() {
    let k = TestKey::generate(KeyType::Rsa, "k");
    let idp = KeyServer::start(&[&k]).await;
    let server = TestServer::builder()
        .toml(&issuer_toml(
            "kc",
            "https://kc.test",
            &format!("jwks_url = \"{}\"", idp.jwks_url()),
            "",
        ))
        .start()
        .await;
    let admin = admin_token(&server).await;
    let mut c = claims("https://kc.test", "ivy");
    c["exp"] = json!(now() - 3600);
    c["aud"] = json!("other");
    let token = k.sign(json!({}), &c);
    let inspect = |bearer: String, token: String| {
        let url = server.at("/api/v1/auths/jwt/inspect");
        async move {
            let res = client()
                .post(url)
                .bearer_auth(bearer)
                .json(&json!({"token": token}))
                .send()
                .await
                .unwrap();
            (
                res.status().as_u16(),
                res.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (code, report) = inspect(admin.clone(), token.clone()).await;
    assert_eq!(code, 200);
    assert_eq!(report["valid"], false);
    assert_eq!(report["issuer"], "kc");
    assert_eq!(report["claims"]["sub"], "ivy");
    assert!(
        !report.to_string().contains(&split(&token).2),
        "no signature in the report"
    );
    let failed: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed, vec!["aud", "exp"], "{report}");
    let good = k.sign(json!({}), &claims("https://kc.test", "ivy"));
    assert_eq!(inspect(admin.clone(), good.clone()).await.1["valid"], true);
    assert_eq!(
        inspect(admin.clone(), "x.y".into()).await.1["checks"][0]["ok"],
        false
    );
    assert_eq!(inspect(good.clone(), good).await.0, 403, "admins only");
}

#[tokio::test]
async fn opengpts_environment_shorthand() {
    let k = TestKey::generate(KeyType::P256, "k");
    use base64::Engine;
    let key_b64 = base64::engine::general_purpose::STANDARD.encode(&k.public_pem);
    let server = TestServer::builder()
        .env("AUTH_TYPE", "jwt_local")
        .env("JWT_ISS", "https://opengpts.test")
        .env("JWT_AUD", "app, other")
        .env("JWT_ALG", "ES256")
        .env("JWT_DECODE_KEY_B64", &key_b64)
        .start()
        .await;
    let t = k.sign(json!({}), &claims("https://opengpts.test", "olga"));
    let (code, me) = server.get(ME, Some(&t)).await;
    assert_eq!(code, 200, "{}", server.log());
    assert_eq!(me["issuer"], "jwt");
    let idp = KeyServer::start(&[&k]).await;
    let server = TestServer::builder()
        .env("AUTH_TYPE", "jwt_oidc")
        .env("JWT_ISS", &idp.url)
        .env("JWT_AUD", "app")
        .env("JWT_ALG", "ES256")
        .start()
        .await;
    let t = k.sign(json!({}), &claims(&idp.url, "olga"));
    assert_eq!(status(&server, &t).await, 200, "{}", server.log());
}

#[tokio::test]
async fn bad_issuer_config_fails_start_up_with_a_message() {
    for (toml, says) in [
        ("[[issuers]]\nname = \"x\"\nissuer = \"https://x\"\naudiences = [\"a\"]\n", "set one key source"),
        ("[[issuers]]\nname = \"x\"\nissuer = \"https://x\"\naudiences = [\"a\"]\njwks_url = \"https://x/j\"\ndiscovery_url = \"https://x/d\"\n", "exactly one"),
        ("[[issuers]]\nname = \"x\"\nissuer = \"https://x\"\naudiences = [\"a\"]\njwks_url = \"https://x/j\"\nalgorithms = [\"none\"]\n", "`none`"),
        ("[[issuers]]\nname = \"x\"\nissuer = \"https://x\"\naudiences = [\"a\"]\njwks_url = \"https://x/j\"\nalgorithms = [\"RS256\", \"HS256\"]\n", "mixes HMAC"),
        ("[[issuers]]\nname = \"x\"\nissuer = \"https://x\"\njwks_url = \"https://x/j\"\n", "allow_any_audience"),
        ("[[issuers]]\nname = \"x\"\nissuer = \"tessera\"\naudiences = [\"a\"]\njwks_url = \"https://x/j\"\n", "session issuer"),
        ("[[issuers]]\nname = \"x\"\nissuer = \"https://x\"\naudiences = [\"a\"]\njwks_url = \"http://x.example/j\"\n", "https://"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tessera.toml");
        std::fs::write(&path, format!("[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = {:?}\n{toml}", dir.path().join("data"))).unwrap();
        let out = tokio::process::Command::new(binary())
            .arg("--config")
            .arg(&path)
            .output()
            .await
            .unwrap();
        assert!(!out.status.success(), "{toml}");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(text.contains(says), "{says} not in: {text}");
    }
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
