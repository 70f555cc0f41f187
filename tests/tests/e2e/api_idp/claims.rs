//! Accepted tokens: static keys of every type, HMAC, bound claims, JSON
//! pointers, claim mappings, roles and the groups that gate entry.
use super::*;

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
    every_key_type_with_and_without_kid(&server, &keys, &c).await;
    hmac_and_the_asymmetric_issuer(&server, &keys, &c, &secret).await;
    identity_is_never_normalised(&server, &keys, &c).await;
    // a session token is still a session
    let admin = admin_token(&server).await;
    let (code, me) = server.get(ME, Some(&admin)).await;
    assert_eq!(code, 200);
    assert_eq!(me["auth_method"], "session");
}

/// Each key type signs accepted tokens, with a kid and without; RSA keys
/// also sign PS256, and a key is only ever used with its own algorithm type.
async fn every_key_type_with_and_without_kid(server: &TestServer, keys: &[TestKey], c: &Value) {
    for k in keys {
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
                k.sign(h, c)
            } else {
                sign_raw(&h.to_string(), &c.to_string(), &k.encoding(), k.alg())
            };
            assert_eq!(
                status(server, &t).await,
                200,
                "{:?} kid={with_kid}\n{}",
                k.kind,
                server.log()
            );
        }
    }
    let ps = keys[0].sign_as(Algorithm::PS256, json!({}), c);
    assert_eq!(status(server, &ps).await, 200, "PS256 with the RSA key");
    // a key only ever used with its own algorithm type
    let es384_with_p256 =
        keys[1].sign_as(Algorithm::ES256, json!({"alg": "ES384", "kid": "p256"}), c);
    assert_eq!(status(server, &es384_with_p256).await, 401);
}

/// The HMAC issuer: its secret signs, another does not, and an HS token
/// under the asymmetric issuer is refused.
async fn hmac_and_the_asymmetric_issuer(
    server: &TestServer,
    keys: &[TestKey],
    c: &Value,
    secret: &[u8],
) {
    let hs = sign_raw(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &claims("https://hmac.test", "hank").to_string(),
        &EncodingKey::from_secret(secret),
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
    assert_eq!(status(server, &wrong_secret).await, 401);
    // a HS token under the asymmetric issuer: refused
    let hs_static = sign_raw(
        r#"{"alg":"HS256"}"#,
        &c.to_string(),
        &EncodingKey::from_secret(keys[0].public_pem.as_bytes()),
        Algorithm::HS256,
    );
    assert_eq!(status(server, &hs_static).await, 401);
}

/// Identity is never normalised: another case, or a fullwidth look-alike,
/// is another user; the id is stable per issuer and subject.
async fn identity_is_never_normalised(server: &TestServer, keys: &[TestKey], c: &Value) {
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
    let base = server.get(ME, Some(&keys[0].sign(json!({}), c))).await.1;
    assert_ne!(a["id"], base["id"]);
    assert_ne!(b["id"], base["id"]);
    assert_eq!(
        base["id"],
        server.get(ME, Some(&keys[2].sign(json!({}), c))).await.1["id"],
        "stable id per issuer+subject"
    );
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
    exact_issuer_claims_mappings_and_roles(&server, &k).await;
    glob_issuer_bound_claims(&server, &k).await;
}

/// The exact issuer: JSON pointers, claim mappings, roles from groups
/// (case-insensitively), and each bound claim that refuses a token.
async fn exact_issuer_claims_mappings_and_roles(server: &TestServer, k: &TestKey) {
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
        assert_eq!(status(server, &t).await, 401, "{why}");
    }
    // a bound list matches when any element does
    let admin_only = base(json!({"realm_access": {"roles": ["Admin"]}}));
    assert_eq!(status(server, &admin_only).await, 200);
}

/// The glob issuer: bound claims as globs, the bound subject, and
/// `email_verified` that must be JSON true.
async fn glob_issuer_bound_claims(server: &TestServer, k: &TestKey) {
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
        status(server, &glob("gil@corp.example", json!("ops"), None)).await,
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
        assert_eq!(status(server, &t).await, 401, "{why}");
    }
    let mut c = claims("https://glob.test", "x");
    c["email"] = json!("gil@corp.example");
    c["groups"] = json!(["ops"]);
    c["email_verified"] = json!("true");
    assert_eq!(
        status(server, &k.sign(json!({}), &c)).await,
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
