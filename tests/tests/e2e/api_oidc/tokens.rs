//! Provider access tokens: exchanged for a session, and the session ending
//! with the access token.
use super::*;

#[tokio::test]
async fn token_exchange_of_a_provider_access_token() {
    let (provider, server) = sso(vec![alice()], |c| c, "", "").await;
    root(&server).await;
    let cb = callback(&server.url, IDP);
    let tessera = ClientSpec::new(CLIENT_ID, SECRET).redirect_uri(&cb);
    let tokens = provider
        .code_flow(&tessera, &cb, "alice-sub", "alice-password", true)
        .await
        .expect("tokens");
    let path = routes::OAUTH_TOKEN_EXCHANGE.replace("{provider}", IDP);
    let (status, user) = server
        .post(&path, None, &json!({"token": tokens["access_token"]}))
        .await;
    assert_eq!(status, 200, "{user}\n{}", server.log());
    assert_eq!(user["email"], "alice@example.com");
    let (status, me) = server.get(routes::SESSION, Some(token(&user))).await;
    assert_eq!(status, 200);
    assert_eq!(me["email"], "alice@example.com");
    // the same person as through the browser flow
    let browser = sso_session(&server, IDP, "alice-sub", "alice-password").await;
    assert_eq!(browser["id"], user["id"]);

    for garbage in [
        "garbage",
        "",
        &format!("{}x", tokens["access_token"].as_str().unwrap_or("")),
    ] {
        let (status, body) = server.post(&path, None, &json!({"token": garbage})).await;
        assert_eq!(status, 401, "{garbage:?}: {body}");
        assert_eq!(body["detail"], "Invalid token");
    }
    let (status, _) = server
        .post(
            &routes::OAUTH_TOKEN_EXCHANGE.replace("{provider}", "nope"),
            None,
            &json!({"token": tokens["access_token"]}),
        )
        .await;
    assert!(
        (400..500).contains(&status),
        "an unknown provider: {status}"
    );
}

#[tokio::test]
async fn the_session_does_not_outlive_the_access_token() {
    let (_provider, server) = sso_from(
        ProviderSpec::new().access_token_ttl(4),
        vec![alice()],
        |c| c,
        "",
        "",
    )
    .await;
    root(&server).await;
    let before = tessera_tests::keyserver::now();
    let user = sso_session(&server, IDP, "alice-sub", "alice-password").await;
    let expires = user["expires_at"]
        .as_i64()
        .unwrap_or_else(|| panic!("a session without expiry outlives the access token: {user}"));
    assert!(
        expires <= before + 6,
        "expires_at {expires}, access token gone at ~{}",
        before + 4
    );
    let (status, _) = server.get(routes::SESSION, Some(token(&user))).await;
    assert_eq!(status, 200);
    let wait = (expires - tessera_tests::keyserver::now() + 2).max(0) as u64;
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let (status, _) = server.get(routes::SESSION, Some(token(&user))).await;
    assert_eq!(
        status, 401,
        "the session outlived the provider's access token"
    );
}
