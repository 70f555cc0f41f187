//! Token injection at the HTTP level: a page request carrying an IdP token
//! gets it (or the reason it was refused) embedded as a data block; the
//! exchange endpoint; `[embed]` framing headers. Also the fixtures the
//! browser tests of injection share.
use serde_json::{json, Value};
use tessera_shared::injection::ELEMENT_ID;
use tessera_shared::routes;
use tessera_tests::keyserver::{now, KeyServer, KeyType, TestKey};
use tessera_tests::server::{client, TestServer};

/// The trusted issuer's `iss`.
pub(crate) const ISS: &str = "https://idp.test/realms/embed";
/// Its name in Tessera (`users.source`, the session's `issuer`).
pub(crate) const ISSUER_NAME: &str = "corp";

/// A trusted issuer whose keys the test serves.
pub(crate) struct Idp {
    key: TestKey,
    /// Serves the JWKS.
    pub keys: KeyServer,
}

impl Idp {
    /// A fresh key and its JWKS server.
    pub async fn start() -> Idp {
        let key = TestKey::generate(KeyType::P256, "embed-1");
        let keys = KeyServer::start(&[&key]).await;
        Idp { key, keys }
    }

    /// `[[issuers]]` trusting this key; no leeway, so expiry is exact.
    pub fn toml(&self) -> String {
        format!(
            "[[issuers]]\nname = \"{ISSUER_NAME}\"\nissuer = \"{ISS}\"\naudiences = [\"tessera\"]\n\
             algorithms = [\"ES256\"]\njwks_url = \"{}\"\nleeway_seconds = 0\nname_claim = \"name\"\n\
             groups_claim = \"groups\"\nclaim_mappings = {{ \"tenant\" = \"tenant\" }}\n",
            self.keys.jwks_url()
        )
    }

    /// A valid token for `sub` (`<sub>@example.com`), with `patch` applied
    /// (a `null` removes a claim).
    pub fn token(&self, sub: &str, patch: Value) -> String {
        let mut claims = json!({
            "iss": ISS, "sub": sub, "aud": "tessera", "iat": now(), "exp": now() + 600,
            "email": format!("{sub}@example.com"), "name": format!("{sub} from corp"),
            "groups": ["staff"], "tenant": "acme",
        });
        for (k, v) in patch.as_object().into_iter().flatten() {
            if v.is_null() {
                claims.as_object_mut().map(|o| o.remove(k));
            } else {
                claims[k] = v.clone();
            }
        }
        self.key.sign(json!({"typ": "JWT"}), &claims)
    }

    /// A token for `sub` signed by another key that claims the same `kid`.
    pub fn forged(&self, sub: &str) -> String {
        let other = TestKey::generate(KeyType::P256, &self.key.kid);
        let claims = json!({"iss": ISS, "sub": sub, "aud": "tessera", "iat": now(),
            "exp": now() + 600, "email": format!("{sub}@example.com")});
        other.sign(json!({"typ": "JWT"}), &claims)
    }
}

/// The decoded header of a compact JWT.
pub(crate) fn jwt_header(token: &str) -> Value {
    use base64::Engine;
    let header = token.split('.').next().unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("base64url header");
    serde_json::from_slice(&bytes).expect("JSON header")
}

/// The page's data block, parsed; `None` when there is none.
pub(crate) fn data_block(html: &str) -> Option<Value> {
    let open = format!(r#"<script type="application/json" id="{ELEMENT_ID}">"#);
    let start = html.find(&open)? + open.len();
    let end = start + html[start..].find("</script>")?;
    Some(serde_json::from_str(&html[start..end]).expect("the data block is JSON"))
}

/// `GET url` with an optional bearer: status, headers and body text.
async fn page(url: &str, token: Option<&str>) -> (u16, reqwest::header::HeaderMap, String) {
    let mut req = client().get(url);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let res = req.send().await.expect("page request");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.text().await.expect("page body"))
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_page_request_with_a_valid_token_embeds_it() {
    let idp = Idp::start().await;
    let server = TestServer::builder().toml(&idp.toml()).start().await;
    let token = idp.token("alice", json!({}));
    for path in ["/", "/index.html", "/dashboard", "/some/spa/route"] {
        let (status, headers, html) = page(&server.at(path), Some(&token)).await;
        assert_eq!(status, 200, "{path}: {html}");
        let block = data_block(&html).unwrap_or_else(|| panic!("{path}: no data block"));
        assert_eq!(block, json!({ "token": token }), "{path}");
        assert_eq!(header(&headers, "cache-control"), "no-store", "{path}");
        assert_eq!(header(&headers, "referrer-policy"), "no-referrer");
        assert_eq!(header(&headers, "x-frame-options"), "DENY");
        let csp = header(&headers, "content-security-policy");
        assert!(csp.ends_with("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("script-src 'self'"), "{csp}");
    }
    // without a token: the plain page
    let (status, headers, html) = page(&server.at("/"), None).await;
    assert_eq!(status, 200);
    assert!(data_block(&html).is_none());
    assert_eq!(header(&headers, "cache-control"), "no-store");
    assert!(
        !server.log().contains(&token),
        "the token reached the server log"
    );
}

#[tokio::test]
async fn refused_tokens_put_the_reason_in_the_page() {
    let idp = Idp::start().await;
    let server = TestServer::builder().toml(&idp.toml()).start().await;
    let cases = [
        ("forged", idp.forged("mallory"), "not valid here"),
        (
            "expired",
            idp.token("alice", json!({"exp": now() - 5, "iat": now() - 600})),
            "has expired",
        ),
        (
            "wrong audience",
            idp.token("alice", json!({"aud": "another-app"})),
            "another application",
        ),
        ("not a token", "garbage".to_owned(), "not valid here"),
    ];
    for (what, token, reason) in cases {
        let (status, headers, html) = page(&server.at("/dashboard"), Some(&token)).await;
        assert_eq!(status, 200, "{what}: the page still loads");
        let block = data_block(&html).unwrap_or_else(|| panic!("{what}: no data block"));
        assert!(block.get("token").is_none(), "{what}: {block}");
        let error = block["error"].as_str().unwrap_or_default();
        assert!(error.contains(reason), "{what}: {error:?}");
        assert_eq!(header(&headers, "cache-control"), "no-store");
        assert!(!server.log().contains(&token), "{what}: token logged");
    }
}

#[tokio::test]
async fn the_exchange_endpoint_mints_a_revocable_session() {
    let idp = Idp::start().await;
    let server = TestServer::builder().toml(&idp.toml()).start().await;
    let token = idp.token("alice", json!({}));
    let (status, body) = server
        .post(routes::TOKEN_EXCHANGE, Some(&token), &json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let session = body["token"].as_str().expect("a session token").to_owned();
    assert_ne!(session, token);
    assert_eq!(jwt_header(&session)["kid"], "tessera-session");
    assert_eq!(body["auth_method"], "session");
    assert_eq!(body["issuer"], ISSUER_NAME);
    assert_eq!(body["email"], "alice@example.com");
    assert_eq!(body["metadata"], json!({"tenant": "acme"}));

    let (status, me) = server.get(routes::SESSION, Some(&session)).await;
    assert_eq!(status, 200);
    assert_eq!(me["id"], body["id"]);
    assert_eq!(me["auth_method"], "session");
    assert_eq!(
        me["issuer"], ISSUER_NAME,
        "the session still says who vouched for the account"
    );
    assert_eq!(me["subject"], "alice");
    let (status, _) = server.get(routes::SIGNOUT, Some(&session)).await;
    assert_eq!(status, 200);
    let (status, _) = server.get(routes::SESSION, Some(&session)).await;
    assert_eq!(status, 401, "sign-out revokes the exchanged session");

    // only IdP tokens are exchanged
    let (status, body) = server.post(routes::TOKEN_EXCHANGE, None, &json!({})).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = server
        .post(
            routes::TOKEN_EXCHANGE,
            Some(&idp.forged("alice")),
            &json!({}),
        )
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["detail"], "Invalid token");
    let local = server
        .signup("Root", "root@example.com", "correct horse")
        .await;
    let (status, body) = server
        .post(routes::TOKEN_EXCHANGE, local["token"].as_str(), &json!({}))
        .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn exchange_mode_embeds_a_session_token() {
    let idp = Idp::start().await;
    let server = TestServer::builder()
        .toml(&idp.toml())
        .toml("[injection]\nexchange = true\n")
        .start()
        .await;
    let token = idp.token("alice", json!({}));
    let (status, _, html) = page(&server.at("/"), Some(&token)).await;
    assert_eq!(status, 200);
    let block = data_block(&html).expect("a data block");
    let session = block["token"].as_str().expect("a token");
    assert_ne!(session, token);
    assert_eq!(jwt_header(session)["kid"], "tessera-session");
    let (status, me) = server.get(routes::SESSION, Some(session)).await;
    assert_eq!(status, 200);
    assert_eq!(me["email"], "alice@example.com");
    let (_, config) = server.get(routes::PUBLIC_CONFIG, None).await;
    assert_eq!(config["injection_exchange"], true);
    assert_eq!(config["injection_query_param"], false);
}

#[tokio::test]
async fn allowed_origins_may_frame_pages_and_nothing_else() {
    let server = TestServer::builder()
        .toml(
            "[embed]\nallowed_origins = [\"http://127.0.0.2:8080\", \"https://portal.example.com\"]\n",
        )
        .start()
        .await;
    for path in ["/", "/dashboard"] {
        let (_, headers, _) = page(&server.at(path), None).await;
        let csp = header(&headers, "content-security-policy");
        assert!(
            csp.ends_with("frame-ancestors http://127.0.0.2:8080 https://portal.example.com"),
            "{csp}"
        );
        assert!(
            headers.get("x-frame-options").is_none(),
            "X-Frame-Options would forbid the allowed framing"
        );
        assert_eq!(header(&headers, "referrer-policy"), "no-referrer");
    }
    // API answers are never frameable
    let (_, headers, _) = page(&server.at(routes::PUBLIC_CONFIG), None).await;
    assert_eq!(header(&headers, "x-frame-options"), "DENY");
    assert!(header(&headers, "content-security-policy").contains("frame-ancestors 'none'"));
    assert_eq!(header(&headers, "referrer-policy"), "no-referrer");
    let (_, config) = server.get(routes::PUBLIC_CONFIG, None).await;
    assert_eq!(
        config["embed_allowed_origins"],
        json!(["http://127.0.0.2:8080", "https://portal.example.com"])
    );
}

#[tokio::test]
async fn embed_and_injection_mistakes_stop_the_server() {
    let (code, output) = TestServer::builder()
        .toml("[embed]\nallowed_origins = [\"https://portal.example.com/app\", \"*\"]\n[injection]\nexpired_redirect = \"/login\"\n")
        .start_expecting_failure()
        .await;
    assert_ne!(code, 0);
    assert!(
        output.contains("embed.allowed_origins: `https://portal.example.com/app`"),
        "{output}"
    );
    assert!(output.contains("embed.allowed_origins: `*`"), "{output}");
    assert!(output.contains("injection.expired_redirect"), "{output}");
}
