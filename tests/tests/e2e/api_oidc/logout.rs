//! OpenID Connect Back-Channel Logout (issue #18) against the real provider:
//! a logout at the provider ends the Tessera sessions signed in through that
//! provider session on both of two replicas, and nothing else; logout tokens
//! that are replayed, carry a nonce, name another audience, are unsigned or
//! expired get 400 and end nothing; a logout of a user (`sub` only) ends
//! their sessions and refuses their IdP tokens issued before it.
use super::*;
use serde_json::json;
use std::time::Instant;
use tessera_tests::oidc::end_session;
use tessera_tests::redis::RedisServer;

const SHARED_SECRET: &str = "logout-replicas-share-this-session-secret-0123";
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
const ME: &str = "/api/v1/auths/";

fn logout_uri(url: &str) -> String {
    format!("{url}/oauth/{IDP}/backchannel-logout")
}

/// Posts `logout_token` to `server`'s back-channel logout endpoint: status,
/// `Cache-Control` and body.
async fn post_logout(server: &TestServer, logout_token: &str) -> (u16, String, Value) {
    let res = client()
        .post(logout_uri(&server.url))
        .form(&[("logout_token", logout_token)])
        .send()
        .await
        .expect("request");
    let cache = res
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let (status, body) = status_and_json(res).await;
    (status, cache, body)
}

/// Polls `GET /api/v1/auths/` on `server` until it answers `want`; how
/// long that took, or `None` after `within`.
async fn answers(
    server: &TestServer,
    token: &str,
    want: u16,
    within: Duration,
) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if server.get(ME, Some(token)).await.0 == want {
            return Some(start.elapsed());
        }
        if start.elapsed() > within {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A full SSO sign-in at `server` in a fresh browser: the session token
/// and that browser (its cookies hold the provider session).
async fn sign_in(server: &TestServer) -> (String, reqwest::Client) {
    let landing = sign_in_at(server, IDP, "alice-sub", "alice-password").await;
    let (status, body) = complete(server, &landing).await;
    assert_eq!(status, 200, "{body}\n{}", server.log());
    (token(&body).to_owned(), landing.browser)
}

#[tokio::test]
async fn a_logout_at_the_provider_ends_its_sessions_on_both_replicas_within_a_second() {
    let redis = RedisServer::start().await;
    let shared = tempfile::tempdir().expect("temp dir");
    let (url_a, url_b) = (reserve_url(), reserve_url());
    let spec = ProviderSpec::new().account(alice()).client(
        ClientSpec::new(CLIENT_ID, SECRET)
            .redirect_uri(&callback(&url_a, IDP))
            // the provider tells replica B; A hears it through Redis
            .backchannel_logout_uri(&logout_uri(&url_b)),
    );
    let provider = OidcProvider::start(spec).await;
    let toml = format!(
        "{}\n[redis]\nurl = \"{}\"\ntimeout = \"1s\"\n[session]\nsecret = \"{SHARED_SECRET}\"\n",
        provider_toml(IDP, LABEL, &provider.discovery_url(), CLIENT_ID, ""),
        redis.url
    );
    let a = tessera_on(TestServer::builder().data_dir(shared.path()), &url_a, &toml).await;
    // replicas share one public URL (the session issuer); B listens elsewhere
    let b = TestServer::builder()
        .data_dir(shared.path())
        .env("TESSERA_SERVER_LISTEN", url_b.trim_start_matches("http://"))
        .env("TESSERA_SERVER_PUBLIC_URL", &url_a)
        .toml(&toml)
        .start()
        .await;
    let end_session_endpoint = provider.discovery().await["end_session_endpoint"]
        .as_str()
        .expect("end_session_endpoint")
        .to_owned();
    // a password session and a second provider session of the same user
    // (another browser) are not what the provider ended
    let root = root(&a).await;
    let (other, _other_browser) = sign_in(&a).await;

    let mut took = Vec::new();
    for i in 0..50 {
        let (session, browser) = sign_in(&a).await;
        for (name, server) in [("A", &a), ("B", &b)] {
            assert_eq!(
                server.get(ME, Some(&session)).await.0,
                200,
                "try {i}: {name}"
            );
        }
        let start = Instant::now();
        let landed = end_session(&browser, &end_session_endpoint)
            .await
            .unwrap_or_else(|e| panic!("logout at the provider: {e:#}\n{}", provider.log()));
        assert!(landed.contains("/session/end/success"), "{landed}");
        if i < 3 {
            println!("end_session took {:?}", start.elapsed());
        }
        for (name, server) in [("A", &a), ("B", &b)] {
            if answers(server, &session, 401, Duration::from_secs(5))
                .await
                .is_none()
            {
                panic!(
                    "try {i}: replica {name} still accepts the session 5 s after the logout\n{}\n{}",
                    server.log(),
                    provider.log()
                );
            }
        }
        took.push(start.elapsed());
    }
    assert!(
        !provider.log().contains("backchannel.error"),
        "the provider's logout token was refused:\n{}\n{}",
        provider.log(),
        b.log()
    );
    took.sort();
    let p99 = took[(took.len() * 99).div_ceil(100) - 1];
    println!(
        "back-channel logout to 401 on both replicas: median {:?}, p99 {p99:?}",
        took[took.len() / 2]
    );
    assert!(p99 <= Duration::from_secs(1), "p99 {p99:?}: {took:?}");
    for (name, server) in [("A", &a), ("B", &b)] {
        assert_eq!(
            server.get(ME, Some(&other)).await.0,
            200,
            "{name}: another provider session"
        );
        assert_eq!(
            server.get(ME, Some(&root)).await.0,
            200,
            "{name}: a password session"
        );
    }
}

/// A provider whose client has a back-channel logout URI, and a Tessera
/// that also trusts the provider's ID tokens presented directly
/// (`[[issuers]]` named `direct`, same issuer URL).
async fn single() -> (OidcProvider, TestServer, String) {
    let url = reserve_url();
    let direct_redirect = "http://127.0.0.1:9/direct";
    let spec = ProviderSpec::new().account(alice()).client(
        ClientSpec::new(CLIENT_ID, SECRET)
            .redirect_uri(&callback(&url, IDP))
            .redirect_uri(direct_redirect)
            .backchannel_logout_uri(&logout_uri(&url)),
    );
    let provider = OidcProvider::start(spec).await;
    let toml = format!(
        "{}\n[[issuers]]\nname = \"direct\"\nissuer = \"{iss}\"\naudiences = [\"{CLIENT_ID}\"]\ndiscovery_url = \"{disc}\"\nallow_insecure_http = true\nalgorithms = [\"RS256\"]\n",
        provider_toml(IDP, LABEL, &provider.discovery_url(), CLIENT_ID, ""),
        iss = provider.issuer(),
        disc = provider.discovery_url(),
    );
    let server = tessera_at(&url, &toml).await;
    (provider, server, direct_redirect.to_owned())
}

/// A logout token for alice from the provider's key, `edit`ed.
async fn logout_token(provider: &OidcProvider, edit: impl FnOnce(&mut Value)) -> String {
    let now = chrono_now();
    let mut claims = json!({
        "iss": provider.issuer(), "aud": CLIENT_ID, "iat": now, "exp": now + 120,
        "jti": random_token(), "sub": "alice-sub", "events": {EVENT: {}}
    });
    edit(&mut claims);
    provider.sign(json!({"typ": "logout+jwt"}), claims).await
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Logout tokens a provider should never send, each named: signed with its
/// key but wrong, signed with another key, unsigned, an ID token, garbage.
async fn refused_tokens(
    provider: &OidcProvider,
    other_key: &OidcProvider,
    id_token: &str,
) -> Vec<(&'static str, String)> {
    vec![
        (
            "nonce-carrying",
            logout_token(provider, |c| c["nonce"] = json!("n")).await,
        ),
        (
            "wrong aud",
            logout_token(provider, |c| c["aud"] = json!("someone-else")).await,
        ),
        (
            "expired",
            logout_token(provider, |c| {
                c["iat"] = json!(chrono_now() - 600);
                c["exp"] = json!(chrono_now() - 300);
            })
            .await,
        ),
        (
            "no event",
            logout_token(provider, |c| c["events"] = json!({})).await,
        ),
        ("another issuer's key", {
            let now = chrono_now();
            other_key
                .sign(
                    json!({}),
                    json!({
                        "iss": provider.issuer(), "aud": CLIENT_ID, "iat": now, "exp": now + 120,
                        "jti": random_token(), "sub": "alice-sub", "events": {EVENT: {}}
                    }),
                )
                .await
        }),
        ("unsigned", {
            let good = logout_token(provider, |_| {}).await;
            let payload = good.split('.').nth(1).expect("payload").to_owned();
            let header = base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                br#"{"alg":"none","typ":"logout+jwt"}"#,
            );
            format!("{header}.{payload}.")
        }),
        ("an ID token", id_token.to_owned()),
        ("garbage", "not-a-jwt".to_owned()),
    ]
}

#[tokio::test]
async fn refused_logout_tokens_end_nothing_and_a_good_one_ends_the_users_sessions() {
    let (provider, server, direct) = single().await;
    let (session, _browser) = sign_in(&server).await;
    let client_spec = ClientSpec::new(CLIENT_ID, SECRET);
    let tokens = provider
        .code_flow(&client_spec, &direct, "alice-sub", "alice-password", true)
        .await
        .expect("code flow");
    let id_token = tokens["id_token"].as_str().expect("id_token").to_owned();
    assert_eq!(
        server.get(ME, Some(&id_token)).await.0,
        200,
        "{}",
        server.log()
    );

    let other_key = OidcProvider::start(ProviderSpec::new()).await;
    let refused = refused_tokens(&provider, &other_key, &id_token).await;
    for (what, t) in &refused {
        let (status, cache, body) = post_logout(&server, t).await;
        assert_eq!(status, 400, "{what}: {body}");
        assert_eq!(cache, "no-store", "{what}");
        assert!(body["detail"].is_string(), "{what}: {body}");
        assert_eq!(
            server.get(ME, Some(&session)).await.0,
            200,
            "{what} ended the session"
        );
        assert_eq!(
            server.get(ME, Some(&id_token)).await.0,
            200,
            "{what} ended the IdP token"
        );
    }
    // not a form
    let res = client()
        .post(logout_uri(&server.url))
        .json(&json!({"logout_token": "x"}))
        .send()
        .await
        .expect("request");
    assert_eq!(status_and_json(res).await.0, 400);

    // a good one (sub only): the user's session and IdP tokens issued
    // before it end; 200, never cached
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let good = logout_token(&provider, |_| {}).await;
    let (status, cache, body) = post_logout(&server, &good).await;
    assert_eq!(
        (status, cache.as_str()),
        (200, "no-store"),
        "{body}\n{}",
        server.log()
    );
    assert_eq!(
        server.get(ME, Some(&session)).await.0,
        401,
        "the session lives on"
    );
    assert_eq!(
        server.get(ME, Some(&id_token)).await.0,
        401,
        "the IdP token lives on"
    );

    // signed in again, a replay of the same token ends nothing
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (again, _browser) = sign_in(&server).await;
    let (status, _, body) = post_logout(&server, &good).await;
    assert_eq!(status, 400, "a replayed logout token: {body}");
    assert_eq!(
        server.get(ME, Some(&again)).await.0,
        200,
        "the replay ended the new session"
    );
    let log = server.log();
    for secret in [good.as_str(), session.as_str(), id_token.as_str()] {
        assert!(!log.contains(secret), "a token in the log");
    }
}

#[tokio::test]
async fn a_provider_session_logout_ends_idp_tokens_of_that_session() {
    let (provider, server, direct) = single().await;
    let client_spec = ClientSpec::new(CLIENT_ID, SECRET);
    let tokens = provider
        .code_flow(&client_spec, &direct, "alice-sub", "alice-password", true)
        .await
        .expect("code flow");
    let id_token = tokens["id_token"].as_str().expect("id_token").to_owned();
    let sid = crate::support::jwt_payload(&id_token)["sid"]
        .as_str()
        .expect("the provider puts sid in ID tokens of a back-channel client")
        .to_owned();
    assert_eq!(server.get(ME, Some(&id_token)).await.0, 200);
    // another session of the same user at the provider
    let (session, _browser) = sign_in(&server).await;
    let t = logout_token(&provider, |c| {
        c.as_object_mut().expect("claims").remove("sub");
        c["sid"] = json!(sid);
    })
    .await;
    let (status, _, body) = post_logout(&server, &t).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        server.get(ME, Some(&id_token)).await.0,
        401,
        "an IdP token of the ended session"
    );
    assert_eq!(
        server.get(ME, Some(&session)).await.0,
        200,
        "a session of another provider session"
    );
}
