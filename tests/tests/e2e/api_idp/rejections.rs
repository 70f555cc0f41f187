//! A forged token for every rejection, and the admin's inspector explaining
//! refusals (to admins only).
use super::*;

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
