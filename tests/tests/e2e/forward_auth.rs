//! Forward auth through a real nginx (`auth_request` to
//! `GET /api/v1/auths/verify`) in front of a small upstream written here,
//! which trusts only an `X-Tessera-Assertion` that verifies against
//! Tessera's published JWKS (iss, aud per path, exp without leeway, ES256).
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tessera_shared::routes;
use tessera_tests::nginx::Nginx;
use tessera_tests::server::{client, TestServer};

const CONFIG: &str = r#"
[signup]
default_role = "user"

[assertion]
ttl = "2s"
rotate_every = "3s"
publish_ahead = "1s"
grace = "4s"

[[forward_auth.rules]]
path_prefix = "/admin"
role = "admin"
aud = "upstream-admin"

[[forward_auth.rules]]
path_prefix = "/"
aud = "upstream"
"#;

/// The upstream's view of Tessera: where its keys are, and the keys it has
/// fetched so far (fetched again when an assertion names an unknown kid).
struct Upstream {
    jwks_url: String,
    keys: Mutex<JwkSet>,
}

impl Upstream {
    async fn key(&self, kid: &str) -> Option<DecodingKey> {
        let cached = self.find(kid);
        if cached.is_some() {
            return cached;
        }
        let fresh: JwkSet = client()
            .get(&self.jwks_url)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        *self.keys.lock().unwrap() = fresh;
        self.find(kid)
    }

    fn find(&self, kid: &str) -> Option<DecodingKey> {
        let keys = self.keys.lock().unwrap();
        keys.find(kid).and_then(|k| DecodingKey::from_jwk(k).ok())
    }
}

/// The upstream app: 200 with the assertion's claims and kid, 401 when the
/// assertion is missing or does not verify.
async fn upstream_app(
    State(up): State<Arc<Upstream>>,
    uri: Uri,
    headers: HeaderMap,
) -> (StatusCode, String) {
    let refuse = |why: String| (StatusCode::UNAUTHORIZED, why);
    let Some(token) = headers
        .get("x-tessera-assertion")
        .and_then(|v| v.to_str().ok())
    else {
        return refuse("no assertion".into());
    };
    let Ok(header) = jsonwebtoken::decode_header(token) else {
        return refuse("not a JWT".into());
    };
    let Some(kid) = header.kid else {
        return refuse("no kid".into());
    };
    let Some(key) = up.key(&kid).await else {
        return refuse(format!("unknown kid {kid}"));
    };
    let aud = if uri.path().starts_with("/admin") {
        "upstream-admin"
    } else {
        "upstream"
    };
    let mut v = Validation::new(Algorithm::ES256);
    v.set_issuer(&["tessera"]);
    v.set_audience(&[aud]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v.leeway = 0;
    match jsonwebtoken::decode::<Value>(token, &key, &v) {
        Ok(data) => {
            let mut claims = data.claims;
            claims["kid"] = json!(kid);
            claims["x_user"] = json!(headers.get("x-tessera-user").and_then(|v| v.to_str().ok()));
            (StatusCode::OK, claims.to_string())
        }
        Err(e) => refuse(format!("{e}")),
    }
}

struct Setup {
    server: TestServer,
    proxy: Nginx,
    upstream_url: String,
    admin: String,
    user: String,
}

async fn setup() -> Setup {
    let server = TestServer::builder().toml(CONFIG).start().await;
    let admin = server
        .signup("Root", "root@example.org", "correct horse battery")
        .await;
    let user = server
        .signup("Zoë Ann", "ann@example.org", "correct horse battery")
        .await;
    let up = Arc::new(Upstream {
        jwks_url: server.at(routes::ASSERTION_JWKS),
        keys: Mutex::new(JwkSet { keys: vec![] }),
    });
    let app = axum::Router::new().fallback(upstream_app).with_state(up);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let verify = server.at(routes::FORWARD_AUTH_VERIFY);
    let directives = format!(
        "auth_request /_tessera_verify;
            auth_request_set $tessera_assertion $upstream_http_x_tessera_assertion;
            auth_request_set $tessera_user $upstream_http_x_tessera_user;
            proxy_set_header X-Tessera-Assertion $tessera_assertion;
            proxy_set_header X-Tessera-User $tessera_user;
            location = /_tessera_verify {{
                internal;
                auth_request off;
                proxy_pass {verify};
                proxy_pass_request_body off;
                proxy_set_header Content-Length \"\";
                proxy_set_header X-Original-URI $request_uri;
                proxy_set_header X-Forwarded-Host $host;
            }}"
    );
    let proxy = Nginx::start(&upstream_url, &directives).await;
    Setup {
        server,
        proxy,
        upstream_url,
        admin: admin["token"].as_str().unwrap().to_owned(),
        user: user["token"].as_str().unwrap().to_owned(),
    }
}

async fn get(url: &str, token: Option<&str>, headers: &[(&str, &str)]) -> (u16, String) {
    let mut req = client().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.expect("request");
    (res.status().as_u16(), res.text().await.unwrap_or_default())
}

/// A fresh assertion straight from Tessera, for `path`.
async fn assertion(s: &Setup, token: &str, path: &str) -> String {
    let res = client()
        .get(s.server.at(routes::FORWARD_AUTH_VERIFY))
        .bearer_auth(token)
        .header("X-Original-URI", path)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.headers()["x-tessera-assertion"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn forward_auth_lets_through_whom_the_rules_allow() {
    let s = setup().await;
    let (status, body) = get(&s.proxy.at("/hello"), Some(&s.user), &[]).await;
    assert_eq!(status, 200, "{body}\nnginx: {}", s.proxy.log());
    let claims: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(claims["email"], "ann@example.org");
    assert_eq!(claims["name"], "Zoë Ann");
    assert_eq!(claims["role"], "user");
    assert_eq!(claims["aud"], "upstream");
    assert_eq!(claims["x_user"], claims["sub"]);
    assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 60);
    let (status, body) = get(&s.proxy.at("/admin/panel"), Some(&s.admin), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["aud"],
        "upstream-admin"
    );
    // nginx asks with the original method: a POST passes the same way
    let res = client()
        .post(s.proxy.at("/hello"))
        .bearer_auth(&s.user)
        .header("content-type", "text/plain")
        .body("a form")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "nginx: {}", s.proxy.log());
    // Envoy's ext_authz: the original path after the check's own
    let (status, _) = get(
        &s.server
            .at(&format!("{}/admin/x", routes::FORWARD_AUTH_VERIFY)),
        Some(&s.user),
        &[],
    )
    .await;
    assert_eq!(status, 403);
    // refused by the rule; no credential; a bad one
    let (status, _) = get(&s.proxy.at("/admin/panel"), Some(&s.user), &[]).await;
    assert_eq!(status, 403);
    let (status, _) = get(&s.proxy.at("/hello"), None, &[]).await;
    assert_eq!(status, 401);
    let (status, _) = get(&s.proxy.at("/hello"), Some("not-a-token"), &[]).await;
    assert_eq!(status, 401);
    // a client's own X-Tessera-* headers never reach the upstream
    let (status, body) = get(
        &s.proxy.at("/hello"),
        Some(&s.user),
        &[("X-Tessera-User", "someone-else")],
    )
    .await;
    assert_eq!(status, 200);
    let claims: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(claims["x_user"], claims["sub"]);
    // straight to Tessera: the headers, percent-encoded where needed
    let res = client()
        .get(s.server.at(routes::FORWARD_AUTH_VERIFY))
        .bearer_auth(&s.user)
        .header("X-Forwarded-Uri", "/x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-tessera-name"], "Zo%C3%AB Ann");
    assert_eq!(res.headers()["x-tessera-role"], "user");
    assert_eq!(res.headers()["x-tessera-email"], "ann@example.org");
    // an ambiguous path is refused, not matched
    let (status, body) = get(
        &s.server.at(routes::FORWARD_AUTH_VERIFY),
        Some(&s.user),
        &[("X-Original-URI", "/x/../admin")],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("detail"));
}

#[tokio::test]
async fn forward_auth_forged_assertions_are_refused_by_the_upstream() {
    let s = setup().await;
    let direct = |path: &str| format!("{}{path}", s.upstream_url);
    // none at all
    let (status, _) = get(&direct("/hello"), None, &[]).await;
    assert_eq!(status, 401);
    let good = assertion(&s, &s.user, "/hello").await;
    let (status, body) = get(&direct("/hello"), None, &[("X-Tessera-Assertion", &good)]).await;
    assert_eq!(status, 200, "{body}");
    // for another audience
    let (status, body) = get(&direct("/admin/x"), None, &[("X-Tessera-Assertion", &good)]).await;
    assert_eq!(status, 401, "{body}");
    // signed by another key under Tessera's kid
    let kid = jsonwebtoken::decode_header(&good).unwrap().kid.unwrap();
    let rng = foreign_key();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.clone());
    let now = unix_now();
    let forged_claims = json!({
        "iss": "tessera", "sub": "root", "aud": "upstream-admin", "role": "admin",
        "email": "root@example.org", "name": "Root", "groups": [],
        "iat": now, "exp": now + 30, "jti": "x"
    });
    let forged = jsonwebtoken::encode(&header, &forged_claims, &rng).unwrap();
    let (status, _) = get(
        &direct("/admin/x"),
        None,
        &[("X-Tessera-Assertion", &forged)],
    )
    .await;
    assert_eq!(status, 401);
    // the payload changed under Tessera's signature
    let parts: Vec<&str> = good.split('.').collect();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let tampered_payload = base64::Engine::encode(&b64, forged_claims.to_string());
    let tampered = format!("{}.{}.{}", parts[0], tampered_payload, parts[2]);
    let (status, _) = get(
        &direct("/admin/x"),
        None,
        &[("X-Tessera-Assertion", &tampered)],
    )
    .await;
    assert_eq!(status, 401);
    // alg none
    let none_header = base64::Engine::encode(&b64, json!({"alg": "none", "kid": kid}).to_string());
    let unsigned = format!("{none_header}.{tampered_payload}.");
    let (status, _) = get(
        &direct("/admin/x"),
        None,
        &[("X-Tessera-Assertion", &unsigned)],
    )
    .await;
    assert_eq!(status, 401);
    // stale: a captured assertion after its 2 s
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let (status, body) = get(&direct("/hello"), None, &[("X-Tessera-Assertion", &good)]).await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn forward_auth_key_rotation_fails_no_request() {
    let s = setup().await;
    let mut kids = std::collections::BTreeSet::new();
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(8) {
        let (status, body) = get(&s.proxy.at("/stream"), Some(&s.user), &[]).await;
        assert_eq!(status, 200, "request {n}: {body}\nnginx: {}", s.proxy.log());
        let claims: Value = serde_json::from_str(&body).unwrap();
        kids.insert(claims["kid"].as_str().unwrap().to_owned());
        n += 1;
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    assert!(kids.len() >= 2, "keys seen in {n} requests: {kids:?}");
    let jwks: Value = client()
        .get(s.server.at(routes::ASSERTION_JWKS))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let published = jwks["keys"].as_array().unwrap().len();
    assert!((1..=3).contains(&published), "{jwks}");
}

/// A P-256 key that is not Tessera's (a fixed test key).
fn foreign_key() -> EncodingKey {
    const PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgRKJlM026AefPV9St
LnVMlrPFnIinSHpdI3PmMpEElkOhRANCAARKosIS7Wwt90/fLhZ3ZjyaW6fvDokr
VBuzdM8uU2/ZQ0AiVkOFgc0TzjZgQhSCfZFmSGShVd8h//3KGZTOSImp
-----END PRIVATE KEY-----";
    EncodingKey::from_ec_pem(PEM.as_bytes()).unwrap()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Two replicas on one PostgreSQL sign with the same keys: the key made by
/// the first is the one the second publishes and signs with, and an
/// assertion of either verifies against the other's JWKS.
#[tokio::test]
async fn forward_auth_replicas_on_postgres_share_the_keys() {
    use tessera_tests::postgres::PgServer;
    use tessera_tests::server::Builder;
    let pg = PgServer::shared();
    let url = pg.create_database();
    let toml = "[session]\nsecret = \"a-session-secret-shared-by-both-replicas-0123456789\"\n";
    let a = Builder::default()
        .postgres(pg.clone(), &url)
        .toml(toml)
        .start()
        .await;
    let b = Builder::default()
        .postgres(pg.clone(), &url)
        .toml(toml)
        .start()
        .await;
    let ann = a
        .signup("Ann", "ann@example.org", "correct horse battery")
        .await;
    let token = ann["token"].as_str().unwrap();
    let jwks = |s: &TestServer| {
        let url = s.at(routes::ASSERTION_JWKS);
        async move {
            client()
                .get(url)
                .send()
                .await
                .unwrap()
                .json::<JwkSet>()
                .await
                .unwrap()
        }
    };
    let (ja, jb) = (jwks(&a).await, jwks(&b).await);
    let kids = |j: &JwkSet| {
        j.keys
            .iter()
            .map(|k| k.common.key_id.clone().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(kids(&ja), kids(&jb));
    assert_eq!(kids(&ja).len(), 1);
    for (signer, other) in [(&a, &jb), (&b, &ja)] {
        let res = client()
            .get(signer.at(routes::FORWARD_AUTH_VERIFY))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let assertion = res.headers()["x-tessera-assertion"].to_str().unwrap();
        let kid = jsonwebtoken::decode_header(assertion).unwrap().kid.unwrap();
        let key = DecodingKey::from_jwk(other.find(&kid).unwrap()).unwrap();
        let mut v = Validation::new(Algorithm::ES256);
        v.set_issuer(&["tessera"]);
        v.set_audience(&["tessera"]);
        let claims = jsonwebtoken::decode::<Value>(assertion, &key, &v)
            .unwrap()
            .claims;
        assert_eq!(claims["sub"], ann["id"]);
    }
}
