//! What each kind of credential may do (README "Credential kinds"), against
//! the real server: the whole kind × action table walked cell by cell, and
//! the outside review's findings — a page request that turned any
//! credential into a never-expiring session, a deleted user's credentials
//! coming back with the identity, minting without limits, sign-outs that did
//! nothing — each as an attacker would try it.
use crate::api_injection::{data_block, Idp};
use crate::api_trusted_header::{trusted_header_toml, PROXY_HEADERS};
use crate::support::{token, PW};
use serde_json::{json, Value};
use tessera_shared::routes;
use tessera_tests::keyserver::now;
use tessera_tests::nginx::Nginx;
use tessera_tests::server::{client, send, TestServer};

/// `GET /` with a bearer: the page's data block.
async fn page_block(server: &TestServer, path: &str, bearer: &str) -> Value {
    let res = client()
        .get(server.at(path))
        .bearer_auth(bearer)
        .send()
        .await
        .expect("page");
    assert_eq!(res.status(), 200);
    data_block(&res.text().await.expect("html")).expect("a data block")
}

/// `POST url` with `{}`, a bearer and headers.
async fn post_with(url: &str, bearer: Option<&str>, headers: &[(&str, &str)]) -> (u16, Value) {
    send(client().post(url).json(&json!({})), bearer, headers).await
}

/// `GET url` with a bearer and headers.
async fn get_with(url: &str, bearer: Option<&str>, headers: &[(&str, &str)]) -> (u16, Value) {
    send(client().get(url), bearer, headers).await
}

async fn delete(server: &TestServer, path: &str, bearer: &str) -> (u16, Value) {
    send(client().delete(server.at(path)), Some(bearer), &[]).await
}

/// An IdP whose `admins` group maps to Tessera admins.
fn admin_issuer_toml(idp: &Idp) -> String {
    format!("{}admin_groups = [\"admins\"]\n", idp.toml())
}

// ---- finding 1: the page path -------------------------------------------

#[tokio::test]
async fn a_page_request_never_turns_a_key_or_a_session_into_a_new_session() {
    let idp = Idp::start().await;
    let server = TestServer::builder()
        .toml(&idp.toml())
        .toml("[injection]\nexchange = true\n[api_keys]\nenabled = true\n")
        .start()
        .await;
    let root = server.signup("Root", "root@example.com", PW).await;
    let session = token(&root).to_owned();
    let (status, created) = server
        .post(routes::API_KEY, Some(&session), &json!({}))
        .await;
    assert_eq!(status, 200, "{created}");
    let key = created["api_key"].as_str().expect("key").to_owned();

    // an API key on a page request: no token reaches the page
    for path in ["/", "/dashboard"] {
        let block = page_block(&server, path, &key).await;
        assert!(block.get("token").is_none(), "{path}: a key minted {block}");
        assert!(
            block["error"].as_str().unwrap_or("").contains("API key"),
            "{block}"
        );
    }
    // a session on a page request comes back as it is, every time
    for _ in 0..2 {
        let block = page_block(&server, "/dashboard", &session).await;
        assert_eq!(block["token"], session, "a session was renewed: {block}");
    }
    // so the key can still not be managed by anything it minted
    let (status, _) = post_with(&server.at(routes::API_KEY), Some(&key), &[]).await;
    assert_eq!(status, 403);
    assert!(!server.log().contains(&key), "the key reached the log");
}

#[tokio::test]
async fn an_exchanged_session_never_outlives_its_idp_token_and_dies_with_it() {
    let idp = Idp::start().await;
    let server = TestServer::builder()
        .toml(&idp.toml())
        .toml("[injection]\nexchange = true\n")
        .start()
        .await;
    let exp = now() + 120;
    let idp_token = idp.token("alice", json!({"exp": exp, "jti": "idp-alice-1"}));
    // by the exchange endpoint and by a page request
    let (status, body) = server
        .post(routes::TOKEN_EXCHANGE, Some(&idp_token), &json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_at"], exp, "capped by the IdP token's exp");
    let by_api = token(&body).to_owned();
    let by_page = page_block(&server, "/", &idp_token).await["token"]
        .as_str()
        .expect("a minted session")
        .to_owned();
    assert_ne!(by_page, idp_token);
    let (status, me) = server.get(routes::SESSION, Some(&by_page)).await;
    assert_eq!(status, 200);
    assert_eq!(me["expires_at"], exp);
    // a minted session mints nothing more, on either path
    let (status, _) = server
        .post(routes::TOKEN_EXCHANGE, Some(&by_api), &json!({}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(page_block(&server, "/", &by_page).await["token"], by_page);

    // signing out the IdP token ends every session minted from it
    let (status, _) = server.get(routes::SIGNOUT, Some(&idp_token)).await;
    assert_eq!(status, 200);
    for t in [&idp_token, &by_api, &by_page] {
        assert_eq!(server.get(routes::SESSION, Some(t)).await.0, 401);
    }
}

// ---- finding 2: deletion ------------------------------------------------

#[tokio::test]
async fn a_deleted_users_key_sessions_and_grants_stay_dead_when_the_identity_returns() {
    let idp = Idp::start().await;
    let server = TestServer::builder()
        .toml(&idp.toml())
        .toml("[api_keys]\nenabled = true\n")
        .start()
        .await;
    let root = token(&server.signup("Root", "root@example.com", PW).await).to_owned();
    let first = idp.token("ida", json!({}));
    let (status, session) = server
        .post(routes::TOKEN_EXCHANGE, Some(&first), &json!({}))
        .await;
    assert_eq!(status, 200, "{session}");
    let id = session["id"].as_str().expect("id").to_owned();
    let session = token(&session).to_owned();
    let (status, _) = client()
        .put(server.at(&format!("/api/v1/users/{id}/permissions")))
        .bearer_auth(&root)
        .json(&json!({"api_keys": true}))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .expect("grant");
    assert_eq!(status, 200);
    let (status, created) = server
        .post(routes::API_KEY, Some(&session), &json!({}))
        .await;
    assert_eq!(status, 200, "{created}");
    let key = created["api_key"].as_str().expect("key").to_owned();
    // both used once, so every cache holds them
    for t in [&session, &key] {
        assert_eq!(server.get(routes::SESSION, Some(t)).await.0, 200);
    }

    assert_eq!(
        delete(&server, &format!("/api/v1/users/{id}"), &root)
            .await
            .0,
        200
    );
    for t in [&session, &key] {
        assert_eq!(server.get(routes::SESSION, Some(t)).await.0, 401);
    }
    // the same person comes back with a new IdP token: a new account, the
    // same id, and nothing of the old one
    let again = idp.token("ida", json!({"again": true}));
    let (status, me) = server.get(routes::SESSION, Some(&again)).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["id"], id);
    for t in [&session, &key] {
        assert_eq!(
            server.get(routes::SESSION, Some(t)).await.0,
            401,
            "an old credential came back"
        );
    }
    let (status, _) = server.get(routes::API_KEY, Some(&again)).await;
    assert_eq!(status, 404);
    let (status, body) = post_with(&server.at(routes::API_KEY), Some(&again), &[]).await;
    assert_eq!(status, 403, "the old grant survived: {body}");
}

// ---- sign out everywhere ------------------------------------------------

#[tokio::test]
async fn signing_a_user_out_everywhere_ends_sessions_keys_and_idp_tokens() {
    let idp = Idp::start().await;
    let server = TestServer::builder()
        .toml(&admin_issuer_toml(&idp))
        .toml("[api_keys]\nenabled = true\n")
        .start()
        .await;
    let root = token(&server.signup("Root", "root@example.com", PW).await).to_owned();
    let idp_token = idp.token("ida", json!({"groups": ["admins"]}));
    let (status, minted) = server
        .post(routes::TOKEN_EXCHANGE, Some(&idp_token), &json!({}))
        .await;
    assert_eq!(status, 200);
    let id = minted["id"].as_str().expect("id").to_owned();
    let minted = token(&minted).to_owned();
    let (_, created) = server
        .post(routes::API_KEY, Some(&minted), &json!({}))
        .await;
    let key = created["api_key"].as_str().expect("key").to_owned();
    for t in [&idp_token, &minted, &key] {
        assert_eq!(server.get(routes::SESSION, Some(t)).await.0, 200);
    }
    // only admins; a missing user is 404
    let (status, _) = post_with(&server.at(&routes::user_signout(&id)), Some(&key), &[]).await;
    assert_eq!(status, 200, "an admin's key may call admin endpoints");
    let (status, body) = post_with(
        &server.at(&routes::user_signout("nobody")),
        Some(&root),
        &[],
    )
    .await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (404, Some("User not found"))
    );
    for t in [&idp_token, &minted, &key] {
        assert_eq!(server.get(routes::SESSION, Some(t)).await.0, 401);
    }
    assert_eq!(
        server.get(routes::API_KEY, Some(&root)).await.0,
        404,
        "root has none"
    );
    // a token the IdP issues afterwards works again
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let fresh = idp.token("ida", json!({"groups": ["admins"]}));
    assert_eq!(server.get(routes::SESSION, Some(&fresh)).await.0, 200);
    assert_eq!(
        server.get(routes::SESSION, Some(&root)).await.0,
        200,
        "others unaffected"
    );
}

// ---- findings 6 and 7: minting limits, sign-outs that say what they do ----

#[tokio::test]
async fn minting_is_rate_limited_and_minted_sessions_always_expire() {
    let idp = Idp::start().await;
    let server = TestServer::builder()
        .toml(&idp.toml())
        .toml("[rate_limit]\nmint_per_account_per_minute = 5\n")
        .start()
        .await;
    // a month-long IdP token: the session minted from it still ends in 8h
    let idp_token = idp.token("alice", json!({"exp": now() + 30 * 86400}));
    let mut minted = 0;
    let mut limited = None;
    for i in 0..8 {
        let (status, body) = server
            .post(routes::TOKEN_EXCHANGE, Some(&idp_token), &json!({}))
            .await;
        match status {
            200 => {
                minted += 1;
                let exp = body["expires_at"].as_i64().expect("an expiry");
                assert!(exp <= now() + 8 * 3600 + 1 && exp > now(), "{exp}");
            }
            429 => {
                limited = Some(i);
                break;
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!((minted, limited), (5, Some(5)));
}

#[tokio::test]
async fn sign_out_revokes_idp_tokens_without_jti_and_refuses_keys_clearly() {
    let idp = Idp::start().await;
    let server = TestServer::builder()
        .toml(&idp.toml())
        .toml("[api_keys]\nenabled = true\n")
        .start()
        .await;
    let root = token(&server.signup("Root", "root@example.com", PW).await).to_owned();
    let no_jti = idp.token("bob", json!({"jti": null}));
    assert_eq!(server.get(routes::SESSION, Some(&no_jti)).await.0, 200);
    let (status, _) = server.get(routes::SIGNOUT, Some(&no_jti)).await;
    assert_eq!(status, 200);
    assert_eq!(
        server.get(routes::SESSION, Some(&no_jti)).await.0,
        401,
        "signed out, yet still working"
    );
    let other = idp.token("bob", json!({"jti": null, "another": true}));
    assert_eq!(
        server.get(routes::SESSION, Some(&other)).await.0,
        200,
        "only that token"
    );

    let (_, created) = server.post(routes::API_KEY, Some(&root), &json!({})).await;
    let key = created["api_key"].as_str().expect("key").to_owned();
    let (status, body) = server.get(routes::SIGNOUT, Some(&key)).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["detail"].as_str().unwrap_or("").contains("revoke it"),
        "{body}"
    );
    assert_eq!(
        server.get(routes::SESSION, Some(&key)).await.0,
        200,
        "and says so"
    );
}

// ---- the whole table ----------------------------------------------------

/// One cell: `Some(true)` allowed, `Some(false)` refused, in the order of
/// the README: mint or exchange, open the web app, manage API keys, sign
/// out, admin endpoints, be renewed.
type Row = (&'static str, [bool; 6]);

/// The README's table, written out here independently of the code.
const TABLE: [Row; 6] = [
    ("session", [false, true, true, true, true, false]),
    ("single-use session", [false, true, true, true, true, false]),
    ("exchanged session", [false, true, true, true, true, false]),
    ("IdP JWT", [true, true, true, true, true, false]),
    ("API key", [false, false, false, false, true, false]),
    ("trusted header", [true, true, true, false, true, false]),
];

/// What one credential did for each action, as the table's cells.
struct Walk<'a> {
    server: &'a TestServer,
    /// Where requests go (the proxy for proxy-header callers).
    base: String,
    headers: Vec<(&'a str, &'a str)>,
}

impl Walk<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Every cell for the credential `fresh()` gives (a new one per action:
    /// some actions use a credential up), with the source's end for caps.
    async fn row<F, Fut>(&self, kind: &str, mut fresh: F) -> [bool; 6]
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = (Option<String>, Option<i64>)>,
    {
        let h = &self.headers;
        let mut cells = [false; 6];
        // mint or exchange
        let (cred, ends) = fresh().await;
        let (status, body) = post_with(&self.url(routes::TOKEN_EXCHANGE), cred.as_deref(), h).await;
        cells[0] = status == 200;
        if cells[0] {
            let exp = body["expires_at"]
                .as_i64()
                .expect("a minted session expires");
            assert!(
                exp <= ends.unwrap_or(i64::MAX) && exp <= now() + 8 * 3600 + 1,
                "{kind}: {body}"
            );
        } else {
            assert!(matches!(status, 400 | 403), "{kind} mint: {status} {body}");
        }
        // open the web app: a page request (proxy-header callers: the SPA's
        // first call)
        let (cred, _) = fresh().await;
        cells[1] = match &cred {
            Some(c) => {
                let block = page_block(self.server, "/dashboard", c).await;
                block.get("token").is_some()
            }
            None => get_with(&self.url(routes::SESSION), None, h).await.0 == 200,
        };
        // manage API keys
        let (cred, _) = fresh().await;
        let (status, body) = post_with(&self.url(routes::API_KEY), cred.as_deref(), h).await;
        cells[2] = status == 200;
        assert!(matches!(status, 200 | 403), "{kind} keys: {status} {body}");
        // admin endpoints
        let (cred, _) = fresh().await;
        let (status, body) = get_with(&self.url(routes::USERS), cred.as_deref(), h).await;
        cells[4] = status == 200;
        assert!(matches!(status, 200 | 403), "{kind} admin: {status} {body}");
        // be renewed: a page request with exchange on hands back the same
        // credential, or a session that ends no later than it
        let (cred, ends) = fresh().await;
        cells[5] = match &cred {
            Some(c) => match page_block(self.server, "/", c).await["token"].as_str() {
                Some(t) if t == c => false,
                Some(t) => {
                    let (status, me) = self.server.get(routes::SESSION, Some(t)).await;
                    assert_eq!(status, 200);
                    me["expires_at"]
                        .as_i64()
                        .is_none_or(|exp| exp > ends.unwrap_or(i64::MAX))
                }
                None => false,
            },
            None => false, // each answer is minted anew, capped (cell 0)
        };
        // sign out, last: it ends the credential
        let (cred, _) = fresh().await;
        let (status, body) = get_with(&self.url(routes::SIGNOUT), cred.as_deref(), h).await;
        cells[3] = status == 200;
        if cells[3] {
            let cred = cred.as_deref().expect("a credential");
            assert_eq!(
                self.server.get(routes::SESSION, Some(cred)).await.0,
                401,
                "{kind}"
            );
        } else {
            assert_eq!(status, 400, "{kind} sign-out: {body}");
        }
        cells
    }
}

async fn walk(single_use: bool) -> Vec<(String, [bool; 6])> {
    let idp = Idp::start().await;
    let mut builder = TestServer::builder()
        .toml(&admin_issuer_toml(&idp))
        .toml(&trusted_header_toml())
        .toml("[injection]\nexchange = true\n[api_keys]\nenabled = true\n[rate_limit]\nper_account_per_minute = 100\nper_ip_per_minute = 1000\n");
    if single_use {
        builder = builder.toml("[session]\nexpires_in = 0\n");
    }
    let server = builder.start().await;
    let direct = Walk {
        server: &server,
        base: server.url.clone(),
        headers: vec![],
    };
    server.signup("Root", "root@example.com", PW).await;
    let signin = || async {
        let (status, body) = server.signin("root@example.com", PW).await;
        assert_eq!(status, 200, "{body}");
        (Some(token(&body).to_owned()), body["expires_at"].as_i64())
    };
    let mut rows = Vec::new();
    if single_use {
        rows.push((
            "single-use session".to_owned(),
            direct.row("single-use session", signin).await,
        ));
        return rows;
    }
    rows.push(("session".to_owned(), direct.row("session", signin).await));
    let idp_token = || {
        let t = idp.token(
            "ida",
            json!({"groups": ["admins"], "jti": rand::random::<u64>().to_string()}),
        );
        async move { (Some(t), Some(now() + 600)) }
    };
    let exchanged = || async {
        let t = idp.token(
            "ida",
            json!({"groups": ["admins"], "jti": rand::random::<u64>().to_string()}),
        );
        let (status, body) = server
            .post(routes::TOKEN_EXCHANGE, Some(&t), &json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
        (Some(token(&body).to_owned()), body["expires_at"].as_i64())
    };
    rows.push((
        "exchanged session".to_owned(),
        direct.row("exchanged session", exchanged).await,
    ));
    rows.push(("IdP JWT".to_owned(), direct.row("IdP JWT", idp_token).await));
    // an admin's key: kim, made admin by root
    let (_, root) = server.signin("root@example.com", PW).await;
    let kim = server.signup("Kim", "kim@example.com", PW).await;
    let (status, _) = server
        .post(
            routes::UPDATE_ROLE,
            root["token"].as_str(),
            &json!({"id": kim["id"], "role": "admin"}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, created) = server
        .post(routes::API_KEY, kim["token"].as_str(), &json!({}))
        .await;
    let key = created["api_key"].as_str().expect("key").to_owned();
    let api_key = || {
        let k = key.clone();
        async move { (Some(k), None) }
    };
    rows.push(("API key".to_owned(), direct.row("API key", api_key).await));
    // proxy headers, through a real nginx that the server trusts
    let proxy = Nginx::start(&server.url, PROXY_HEADERS).await;
    let through_proxy = Walk {
        server: &server,
        base: proxy.at(""),
        headers: vec![
            ("X-Test-Email", "dana@example.org"),
            ("X-Test-Name", "Dana"),
            ("X-Test-Groups", "admins"),
        ],
    };
    let none = || async { (None, None) };
    rows.push((
        "trusted header".to_owned(),
        through_proxy.row("trusted header", none).await,
    ));
    rows
}

#[tokio::test]
async fn every_credential_kind_does_exactly_what_the_table_says() {
    let mut rows = walk(false).await;
    rows.extend(walk(true).await);
    for (kind, want) in TABLE {
        let got = rows
            .iter()
            .find(|(k, _)| k == kind)
            .unwrap_or_else(|| panic!("{kind} not walked"))
            .1;
        assert_eq!(
            got, want,
            "{kind}: mint, web app, keys, sign out, admin, renew"
        );
    }
    assert_eq!(rows.len(), TABLE.len());
}
