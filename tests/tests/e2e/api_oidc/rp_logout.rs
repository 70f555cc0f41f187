//! OpenID Connect RP-Initiated Logout (issue #18) against the real provider:
//! signing out of an SSO session answers the provider's logout URL (its
//! `end_session_endpoint` with the ID token as `id_token_hint`, Tessera's
//! `/signin` as `post_logout_redirect_uri`, a `state` and the client id);
//! following it ends the provider session and comes back to `/signin` with
//! that `state`. A password session, and a provider with `rp_logout = false`,
//! get no logout URL. The ID token never reaches the log.
use super::*;
use crate::support::jwt_payload;
use tessera_tests::oidc::end_session;

const ME: &str = "/api/v1/auths/";

/// Tessera's client at the provider also accepts `{url}/signin` (the URL
/// read from its callback) after a logout.
fn accepting_post_logout(c: ClientSpec) -> ClientSpec {
    let url = c.redirect_uris[0]
        .trim_end_matches(&format!("/oauth/{IDP}/callback"))
        .to_owned();
    c.post_logout_redirect_uri(&format!("{url}/signin"))
}

/// A full SSO sign-in of Alice in a fresh browser: the session token and
/// that browser (its cookies hold the provider session).
async fn sign_in(server: &TestServer) -> (String, reqwest::Client) {
    let landing = sign_in_at(server, IDP, "alice-sub", "alice-password").await;
    let (status, body) = complete(server, &landing).await;
    assert_eq!(status, 200, "{body}\n{}", server.log());
    (token(&body).to_owned(), landing.browser)
}

/// Whether `browser` still holds a provider session: a sign-in through it
/// with a wrong password gets through only when the provider asks for no
/// password.
async fn provider_session_alive(server: &TestServer, browser: &reqwest::Client) -> bool {
    let start = server.at(&routes::oauth_login(IDP));
    match sign_in_via_provider(browser, &start, "alice-sub", "not-the-password").await {
        Ok(location) => Url::parse(&location).is_ok_and(|u| u.path() == "/oauth/complete"),
        Err(_) => false,
    }
}

/// The query of `url` as pairs.
fn query(url: &Url) -> std::collections::HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

#[tokio::test]
async fn signing_out_of_an_sso_session_ends_the_provider_session_and_comes_back() {
    let (provider, server) = sso(vec![alice()], accepting_post_logout, "", "").await;
    let root = root(&server).await;
    let end_session_endpoint = provider.discovery().await["end_session_endpoint"]
        .as_str()
        .expect("end_session_endpoint")
        .to_owned();
    let (session, browser) = sign_in(&server).await;
    assert!(
        provider_session_alive(&server, &browser).await,
        "the provider session lets a second sign-in through without a password"
    );

    let (status, answer) = server.get(routes::SIGNOUT, Some(&session)).await;
    assert_eq!(status, 200, "{answer}\n{}", server.log());
    assert_eq!(answer["status"], true, "{answer}");
    let logout_url = answer["logout_url"]
        .as_str()
        .unwrap_or_else(|| panic!("no logout_url: {answer}\n{}", server.log()))
        .to_owned();
    let parsed = Url::parse(&logout_url).expect("logout_url");
    assert_eq!(
        format!("{}{}", parsed.origin().ascii_serialization(), parsed.path()),
        end_session_endpoint,
        "{logout_url}"
    );
    let q = query(&parsed);
    assert_eq!(
        q.get("post_logout_redirect_uri").map(String::as_str),
        Some(format!("{}/signin", server.url).as_str()),
        "{logout_url}"
    );
    assert_eq!(q.get("client_id").map(String::as_str), Some(CLIENT_ID));
    let state = q.get("state").cloned().unwrap_or_default();
    assert!(state.len() >= 32, "a random state: {logout_url}");
    let hint = q.get("id_token_hint").expect("id_token_hint").clone();
    let claims = jwt_payload(&hint);
    assert_eq!(claims["iss"], provider.issuer(), "{claims}");
    assert!(
        claims["aud"] == CLIENT_ID
            || claims["aud"]
                .as_array()
                .is_some_and(|a| a.contains(&json!(CLIENT_ID))),
        "{claims}"
    );
    assert_eq!(claims["sub"], "alice-sub", "{claims}");
    assert!(
        claims.get("nonce").is_some(),
        "the sign-in's ID token: {claims}"
    );

    // the session is over, on Tessera at once
    assert_eq!(server.get(ME, Some(&session)).await.0, 401);
    // and at the provider once the browser went there
    let landed = end_session(&browser, &logout_url)
        .await
        .unwrap_or_else(|e| panic!("logout at the provider: {e:#}\n{}", provider.log()));
    let landed = Url::parse(&landed).expect("landing");
    assert_eq!(
        landed.origin().ascii_serialization(),
        server.url,
        "{landed}"
    );
    assert_eq!(landed.path(), "/signin", "{landed}");
    assert_eq!(query(&landed).get("state"), Some(&state), "{landed}");
    assert!(
        !provider_session_alive(&server, &browser).await,
        "after the logout the provider asks for the password again"
    );
    // the right password still signs in
    let (again, _) = sign_in(&server).await;
    assert_eq!(server.get(ME, Some(&again)).await.0, 200);

    // a password session has nothing to end elsewhere
    let (status, answer) = server.get(routes::SIGNOUT, Some(&root)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({ "status": true }));

    // the ID token is never logged
    let signature = hint.rsplit('.').next().unwrap_or_default();
    assert!(!signature.is_empty());
    let log = server.log();
    assert!(!log.contains(&hint), "the ID token is in the log");
    assert!(
        !log.contains(signature),
        "the ID token's signature is in the log"
    );
}

#[tokio::test]
async fn each_sso_session_signs_out_with_its_own_id_token_once() {
    let (_provider, server) = sso(vec![alice()], accepting_post_logout, "", "").await;
    let (first, _first_browser) = sign_in(&server).await;
    let (second, _second_browser) = sign_in(&server).await;
    let mut seen = Vec::new();
    for session in [&first, &second] {
        let (status, answer) = server.get(routes::SIGNOUT, Some(session)).await;
        assert_eq!(status, 200, "{answer}");
        let url = Url::parse(answer["logout_url"].as_str().expect("logout_url")).expect("URL");
        let q = query(&url);
        seen.push((q["id_token_hint"].clone(), q["state"].clone()));
        // revoked: the token cannot sign out (or fetch its URL) again
        assert_eq!(server.get(routes::SIGNOUT, Some(session)).await.0, 401);
    }
    assert_ne!(seen[0].0, seen[1].0, "each session its own ID token");
    assert_ne!(seen[0].1, seen[1].1, "each logout its own state");
}

#[tokio::test]
async fn a_provider_with_rp_logout_off_gives_no_logout_url() {
    let (_provider, server) = sso(
        vec![alice()],
        accepting_post_logout,
        "rp_logout = false",
        "",
    )
    .await;
    let root = root(&server).await;
    let (status, settings) = server.get(routes::ADMIN_OIDC_PROVIDERS, Some(&root)).await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings[0]["rp_logout"], false, "{settings}");
    let (session, browser) = sign_in(&server).await;
    let (status, answer) = server.get(routes::SIGNOUT, Some(&session)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({ "status": true }), "no logout URL");
    assert_eq!(server.get(ME, Some(&session)).await.0, 401);
    assert!(
        provider_session_alive(&server, &browser).await,
        "the provider session is left as it was"
    );
}
