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
    let forgery = Forgery {
        rsa: &rsa,
        ec: &ec,
        other: &other,
        b: &b,
        iss,
        good: &good,
        ok: &ok,
        ok_ec: &ok_ec,
    };
    let mut forged = forgery.signatures_and_algorithms();
    forged.extend(forgery.claims());
    forged.extend(forgery.encodings_and_headers());
    forged.extend(forgery.stray_bits());
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

/// What the forged tokens are made from: the issuer's keys, another key
/// with the same kid, issuer b's key, and the good claims and tokens.
struct Forgery<'a> {
    rsa: &'a TestKey,
    ec: &'a TestKey,
    other: &'a TestKey,
    b: &'a TestKey,
    iss: &'a str,
    good: &'a Value,
    ok: &'a str,
    ok_ec: &'a str,
}

impl Forgery<'_> {
    /// The good claims with `patch` applied (a null removes the claim).
    fn with(&self, patch: Value) -> Value {
        let mut c = self.good.clone();
        for (k, v) in patch.as_object().into_iter().flatten() {
            if v.is_null() {
                c.as_object_mut().map(|o| o.remove(k));
            } else {
                c[k] = v.clone();
            }
        }
        c
    }

    /// Wrong keys, tampering, and algorithms that are never or not here
    /// accepted.
    fn signatures_and_algorithms(&self) -> Vec<(&'static str, String)> {
        let (h, p, _) = split(self.ok);
        let hs_with_public_key = sign_raw(
            r#"{"alg":"HS256","kid":"rsa-1"}"#,
            &self.good.to_string(),
            &EncodingKey::from_secret(self.rsa.public_pem.as_bytes()),
            Algorithm::HS256,
        );
        vec![
            (
                "signed by another key with the same kid",
                self.other.sign(json!({}), self.good),
            ),
            (
                "tampered payload",
                format!(
                    "{h}.{}.{}",
                    b64(self.with(json!({"sub": "admin"})).to_string()),
                    split(self.ok).2
                ),
            ),
            (
                "alg none",
                format!("{}.{p}.", b64(r#"{"alg":"none","kid":"rsa-1"}"#)),
            ),
            (
                "alg None with a signature",
                format!("{}.{p}.{}", b64(r#"{"alg":"None"}"#), split(self.ok).2),
            ),
            ("alg NONE", format!("{}.{p}.", b64(r#"{"alg":"NONE"}"#))),
            (
                "HS256 signed with the RSA public key (alg confusion)",
                hs_with_public_key,
            ),
            (
                "alg not allowed (RS512)",
                self.rsa.sign_as(Algorithm::RS512, json!({}), self.good),
            ),
            (
                "PS256 not allowed",
                self.rsa.sign_as(Algorithm::PS256, json!({}), self.good),
            ),
            (
                "ES256 token naming an RSA kid",
                self.ec.sign(json!({"kid": "rsa-1"}), self.good),
            ),
        ]
    }

    /// Missing, wrong and mistyped claims.
    fn claims(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "missing iss",
                self.rsa.sign(json!({}), &self.with(json!({"iss": null}))),
            ),
            (
                "wrong iss",
                self.rsa
                    .sign(json!({}), &self.with(json!({"iss": "https://evil.test"}))),
            ),
            (
                "iss of another trusted issuer",
                self.rsa.sign(
                    json!({}),
                    &self.with(json!({"iss": "https://idp.test/realms/b"})),
                ),
            ),
            (
                "missing aud",
                self.rsa.sign(json!({}), &self.with(json!({"aud": null}))),
            ),
            (
                "wrong aud",
                self.rsa
                    .sign(json!({}), &self.with(json!({"aud": ["other", "x"]}))),
            ),
            (
                "expired",
                self.rsa
                    .sign(json!({}), &self.with(json!({"exp": now() - 61}))),
            ),
            (
                "not yet valid",
                self.rsa
                    .sign(json!({}), &self.with(json!({"nbf": now() + 120}))),
            ),
            (
                "iat in the future",
                self.rsa
                    .sign(json!({}), &self.with(json!({"iat": now() + 120}))),
            ),
            (
                "missing exp",
                self.rsa.sign(json!({}), &self.with(json!({"exp": null}))),
            ),
            (
                "missing sub",
                self.rsa.sign(json!({}), &self.with(json!({"sub": null}))),
            ),
            (
                "unknown kid",
                self.rsa.sign(json!({"kid": "nope"}), self.good),
            ),
            (
                "kid differing only in case",
                self.rsa.sign(json!({"kid": "RSA-1"}), self.good),
            ),
            (
                "string exp",
                self.rsa.sign(
                    json!({}),
                    &self.with(json!({"exp": (now() + 600).to_string()})),
                ),
            ),
            (
                "numeric iss",
                self.rsa.sign(json!({}), &self.with(json!({"iss": 7}))),
            ),
            (
                "aud object",
                self.rsa
                    .sign(json!({}), &self.with(json!({"aud": {"app": true}}))),
            ),
            (
                "aud list with a number",
                self.rsa
                    .sign(json!({}), &self.with(json!({"aud": ["app", 1]}))),
            ),
            (
                "sub with a control character",
                self.rsa
                    .sign(json!({}), &self.with(json!({"sub": "alice\u{0}"}))),
            ),
        ]
    }

    /// Headers, serialisations and encodings that are refused, and tokens
    /// of the wrong size or issuer.
    fn encodings_and_headers(&self) -> Vec<(&'static str, String)> {
        let (h, p, _) = split(self.ok);
        vec![
            (
                "crit header",
                self.rsa.sign(json!({"crit": ["exp"]}), self.good),
            ),
            (
                "typ JOSE+JSON",
                self.rsa.sign(json!({"typ": "JOSE+JSON"}), self.good),
            ),
            (
                "typ dpop+jwt",
                self.rsa.sign(json!({"typ": "dpop+jwt"}), self.good),
            ),
            (
                "JWE",
                format!("{}.a.b.c.d", b64(r#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#)),
            ),
            (
                "JWS JSON serialisation",
                format!(r#"{{"payload":"{p}","signatures":[]}}"#),
            ),
            ("malformed base64", format!("{h}.{p}!.{}", split(self.ok).2)),
            ("padding", format!("{h}=.{p}.{}", split(self.ok).2)),
            (
                "standard alphabet",
                format!(
                    "{}.{}.{}",
                    h,
                    p,
                    split(self.ok).2.replace('-', "+").replace('_', "/")
                ),
            ),
            (
                "malformed JSON",
                sign_raw(
                    r#"{"alg":"RS256","kid":"rsa-1"}"#,
                    r#"{"iss":"#,
                    &self.rsa.encoding(),
                    Algorithm::RS256,
                ),
            ),
            (
                "duplicate key in claims",
                sign_raw(
                    r#"{"alg":"RS256","kid":"rsa-1"}"#,
                    &format!(
                        r#"{{"iss":"{}","sub":"alice","sub":"root","aud":"app","exp":{}}}"#,
                        self.iss,
                        now() + 600
                    ),
                    &self.rsa.encoding(),
                    Algorithm::RS256,
                ),
            ),
            (
                "duplicate key in header",
                sign_raw(
                    r#"{"alg":"RS256","kid":"x","kid":"rsa-1"}"#,
                    &self.good.to_string(),
                    &self.rsa.encoding(),
                    Algorithm::RS256,
                ),
            ),
            (
                "over the size limit",
                self.rsa
                    .sign(json!({}), &self.with(json!({"pad": "x".repeat(4000)}))),
            ),
            (
                "psychic ECDSA signature (r = s = 0)",
                format!(
                    "{}.{}.{}",
                    split(self.ok_ec).0,
                    split(self.ok_ec).1,
                    b64([0u8; 64])
                ),
            ),
            (
                "token of issuer b under issuer a's settings",
                self.b.sign(json!({"kid": "rsa-1"}), self.good),
            ),
        ]
    }

    /// Stray bits: the lowest bit of the last signature character flipped.
    fn stray_bits(&self) -> Vec<(&'static str, String)> {
        let mut forged = Vec::new();
        let sig = split(self.ok).2;
        let last = sig.chars().last().unwrap_or('A');
        let (h, p, _) = split(self.ok);
        if let Some(flipped) = flip_low_bit(last) {
            forged.push((
                "stray bits",
                format!("{h}.{p}.{}{flipped}", &sig[..sig.len() - 1]),
            ));
        }
        forged
    }
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
