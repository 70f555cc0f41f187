//! Successful SSO sign-ins: the code flow with PKCE, where `next` may lead,
//! `form_post`, claims from userinfo, and the one-time hand-over code.
use super::*;

#[tokio::test]
async fn sign_in_with_pkce_lands_signed_in() {
    // the provider refuses any authorization request without PKCE
    let (provider, server) = sso(vec![alice()], ClientSpec::require_pkce, "", "").await;
    root(&server).await;

    // the login redirect: code flow, PKCE S256, state, nonce, the exact redirect URI
    let c = driver_client();
    let res = c
        .get(server.at(&routes::oauth_login(IDP)))
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), 303, "{}", server.log());
    let cookie = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("tessera_oauth="))
        .expect("the tessera_oauth cookie")
        .to_ascii_lowercase();
    for attribute in ["httponly", "samesite=lax", "path=/oauth"] {
        assert!(
            cookie.contains(attribute),
            "cookie lacks {attribute}: {cookie}"
        );
    }
    let auth = resolve(&server.url, res.headers()[LOCATION].to_str().unwrap_or(""));
    assert!(auth.as_str().starts_with(provider.issuer()), "{auth}");
    let q: std::collections::HashMap<_, _> = auth.query_pairs().into_owned().collect();
    assert_eq!(q.get("response_type").map(String::as_str), Some("code"));
    assert_eq!(q.get("client_id").map(String::as_str), Some(CLIENT_ID));
    assert_eq!(q.get("redirect_uri"), Some(&callback(&server.url, IDP)));
    assert_eq!(
        q.get("code_challenge_method").map(String::as_str),
        Some("S256")
    );
    assert!(q.get("code_challenge").is_some_and(|c| c.len() >= 43));
    assert!(q.get("state").is_some_and(|s| s.len() >= 16));
    assert!(q.get("nonce").is_some_and(|s| s.len() >= 16));
    assert!(q
        .get("scope")
        .is_some_and(|s| s.split(' ').any(|s| s == "openid")));

    // the whole round trip
    let url = sign_in_at(&server, IDP, "alice-sub", "alice-password").await;
    assert_eq!(url.origin().ascii_serialization(), server.url);
    assert!(fragment(&url, "next").is_none(), "{url}");
    let code = fragment(&url, "code").expect("code");
    let (status, user) = complete(&server, &url).await;
    assert_eq!(status, 200, "{user}\n{}", server.log());
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["name"], "Alice Liddell");
    assert_eq!(user["role"], "user");
    assert_eq!(user["token_type"], "Bearer");
    let (status, me) = server.get(routes::SESSION, Some(token(&user))).await;
    assert_eq!(status, 200);
    assert_eq!(me["id"], user["id"]);

    // the one-time code is single use; made-up codes get nothing
    let (status, _) = complete(&server, &url).await;
    assert!(
        (400..500).contains(&status),
        "a redeemed code again: {status}"
    );
    for bad in ["", "x", &format!("{code}x")] {
        let (status, body) = server
            .post(routes::OAUTH_COMPLETE, None, &json!({ "code": bad }))
            .await;
        assert!(
            (400..500).contains(&status),
            "code {bad:?}: {status} {body}"
        );
    }

    // the same person signs in again: the same account, linked by (provider, subject)
    let again = sso_session(&server, IDP, "alice@example.com", "alice-password").await;
    assert_eq!(again["id"], user["id"]);

    // nothing secret reaches the log
    let log = server.log();
    assert!(!log.contains(SECRET), "the client secret is in the log");
    assert!(!log.contains(&code), "the one-time code is in the log");
    assert!(!log.contains(token(&user)), "a session token is in the log");
}

#[tokio::test]
async fn next_stays_on_tessera() {
    let (_provider, server) = sso(vec![alice()], |c| c, "", "").await;
    let start = |next: &str| {
        let mut u = Url::parse(&server.at(&routes::oauth_login(IDP))).expect("url");
        u.query_pairs_mut().append_pair("next", next);
        u.to_string()
    };
    let go = |next: String| async move {
        let location = sign_in_via_provider(&driver_client(), &next, "alice-sub", "alice-password")
            .await
            .expect("sign-in");
        Url::parse(&location).expect("url")
    };
    let url = go(start("/settings/profile?tab=1")).await;
    assert_eq!(url.path(), "/oauth/complete", "{url}");
    assert_eq!(
        fragment(&url, "next").as_deref(),
        Some("/settings/profile?tab=1")
    );

    for evil in [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "\\\\evil.example",
        "http:evil.example",
        "javascript:alert(1)",
        "/%2F%2Fevil.example",
        "evil.example",
        " //evil.example",
    ] {
        let url = go(start(evil)).await;
        assert_eq!(
            url.origin().ascii_serialization(),
            server.url,
            "next={evil:?} left Tessera: {url}"
        );
        if let Some(next) = fragment(&url, "next") {
            let resolved = resolve(&server.url, &next);
            assert!(
                next.starts_with('/')
                    && !next.starts_with("//")
                    && !next.starts_with("/\\")
                    && resolved.origin().ascii_serialization() == server.url,
                "next={evil:?} handed on as {next:?}"
            );
        }
    }
}

#[tokio::test]
async fn form_post_response_mode() {
    let (_provider, server) = sso(vec![alice()], |c| c, "response_mode = \"form_post\"", "").await;
    let (_, location) = get_raw(&driver_client(), &server.at(&routes::oauth_login(IDP))).await;
    let auth = resolve(&server.url, &location.unwrap_or_default());
    assert!(
        auth.query_pairs()
            .any(|(k, v)| k == "response_mode" && v == "form_post"),
        "{auth}"
    );
    let user = sso_session(&server, IDP, "alice-sub", "alice-password").await;
    assert_eq!(user["email"], "alice@example.com");
    // a GET to the callback proves nothing for form_post
    let (_, location) = get_raw(
        &driver_client(),
        &format!("{}?code=a&state=b", callback(&server.url, IDP)),
    )
    .await;
    assert_refused(
        &server,
        &resolve(&server.url, &location.unwrap_or_default()),
        "GET callback",
    );
}

#[tokio::test]
async fn claims_from_userinfo_when_the_id_token_lacks_them() {
    let url = reserve_url();
    let provider = OidcProvider::start(
        ProviderSpec::new()
            .claims_only_in_userinfo()
            .client(ClientSpec::new(CLIENT_ID, SECRET).redirect_uri(&callback(&url, IDP)))
            .account(alice()),
    )
    .await;
    // the secret from `client_secret_file` this time
    let secrets = tempfile::tempdir().expect("temp dir");
    let secret_file = secrets.path().join("client-secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).expect("secret file");
    let toml = format!(
        "[[oidc_providers]]\nname = \"{IDP}\"\ndisplay_name = \"{LABEL}\"\ndiscovery_url = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret_file = {:?}\n",
        provider.discovery_url(),
        secret_file
    );
    let server = tessera_at(&url, &toml).await;
    let user = sso_session(&server, IDP, "alice-sub", "alice-password").await;
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["name"], "Alice Liddell");
}

/// Two replicas sharing one database and one Redis (docs/scale-out.md): the
/// hand-over code of a sign-in that ended on one is redeemed on the other,
/// exactly once.
#[tokio::test]
async fn a_hand_over_code_is_redeemed_once_on_any_replica() {
    let redis = tessera_tests::redis::RedisServer::start().await;
    let shared = tempfile::tempdir().expect("temp dir");
    let server_toml = format!(
        "[redis]\nurl = \"{}\"\n[session]\nsecret = \"replicas-share-this-session-secret-0123\"\n[database]\nurl = \"sqlite://{}?mode=rwc\"\n",
        redis.url,
        shared.path().join("tessera.db").display()
    );
    let (provider, a) = sso(vec![alice()], |c| c, "", &server_toml).await;
    let b = tessera_at(
        &reserve_url(),
        &format!(
            "{}\n{server_toml}",
            provider_toml(IDP, LABEL, &provider.discovery_url(), CLIENT_ID, "")
        ),
    )
    .await;
    let url = sign_in_at(&a, IDP, "alice-sub", "alice-password").await;
    let code = fragment(&url, "code").unwrap_or_else(|| panic!("no code in {url}"));
    // behind one load balancer the browser's cookie goes to either replica
    // (cookies are per host, not per port)
    let (status, session) = redeem(&url.browser, &b, &code).await;
    assert_eq!(status, 200, "{session}\n{}", b.log());
    assert_eq!(session["email"], "alice@example.com");
    for server in [&a, &b] {
        let (status, _) = server
            .post(routes::OAUTH_COMPLETE, None, &json!({ "code": code }))
            .await;
        assert_eq!(status, 401, "a code is redeemed once");
    }
    let (status, me) = a.get(routes::SESSION, Some(token(&session))).await;
    assert_eq!((status, &me["email"]), (200, &json!("alice@example.com")));
}

/// Issue 15, login CSRF: a hand-over code is redeemed only in the browser
/// whose callback issued it. An attacker who finishes a sign-in of their own
/// and sends a victim the code (a link to `/oauth/complete#code=…`) cannot
/// sign the victim in as the attacker; the attacker's own browser still can,
/// because a refused redemption leaves the code alone.
#[tokio::test]
async fn a_hand_over_code_is_redeemed_only_in_the_browser_that_signed_in() {
    let (_provider, server) = sso(vec![alice()], |c| c, "", "").await;
    let login = server.at(&routes::oauth_login(IDP));

    // the attacker signs in with their own account, up to Tessera's answer
    let attacker = driver_client();
    let cb = drive_to_callback(&attacker, &login, "alice-sub", "alice-password")
        .await
        .expect("to the callback");
    let res = attacker.get(&cb).send().await.expect("callback");
    assert_eq!(res.status(), 303, "{}", server.log());
    let binding = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("tessera_handover="))
        .expect("the tessera_handover cookie")
        .to_owned();
    let lower = binding.to_ascii_lowercase();
    for attribute in [
        "httponly",
        "samesite=lax",
        "path=/api/v1/auths/oauth/complete",
        "max-age=60",
    ] {
        assert!(lower.contains(attribute), "lacks {attribute}: {binding}");
    }
    assert!(!lower.contains("secure"), "public_url is http: {binding}");
    let secret = binding
        .trim_start_matches("tessera_handover=")
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(secret.len() >= 43, "{binding}");
    let landing = resolve(&server.url, res.headers()[LOCATION].to_str().unwrap_or(""));
    let code = fragment(&landing, "code").unwrap_or_else(|| panic!("no code in {landing}"));

    // the victim's browser, which started a sign-in of its own but holds no
    // binding: refused with a reason, no session
    let victim = driver_client();
    let (status, _) = get_raw(&victim, &login).await;
    assert_eq!(status, 303);
    let (status, body) = redeem(&victim, &server, &code).await;
    assert_eq!(
        status, 403,
        "the victim redeemed the attacker's code: {body}"
    );
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("another browser")),
        "{body}"
    );
    assert!(body.get("token").is_none(), "{body}");
    // no cookies at all (a cross-site script, curl): refused too
    let (status, body) = server
        .post(routes::OAUTH_COMPLETE, None, &json!({ "code": code }))
        .await;
    assert_eq!(status, 403, "{body}");
    // a victim holding the binding of a sign-in of their own: still refused
    let victim_own = sign_in_at(&server, IDP, "alice-sub", "alice-password").await;
    let (status, body) = redeem(&victim_own.browser, &server, &code).await;
    assert_eq!(status, 403, "another browser's binding: {body}");

    // the attacker's own browser: the refusals did not use the code up
    let (status, user) = redeem(&attacker, &server, &code).await;
    assert_eq!(status, 200, "{user}\n{}", server.log());
    assert_eq!(user["email"], "alice@example.com");
    let (status, _) = redeem(&attacker, &server, &code).await;
    assert_eq!(status, 401, "used once");
    // and the victim's own code works in the victim's browser
    let (status, own) = complete(&server, &victim_own).await;
    assert_eq!(status, 200, "{own}");

    let log = server.log();
    assert!(!log.contains(&secret), "the binding secret is in the log");
    assert!(!log.contains(&code), "the hand-over code is in the log");
}
