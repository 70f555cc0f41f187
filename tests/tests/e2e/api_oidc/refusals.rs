//! Every bad callback is refused on the sign-in page: bad ID tokens,
//! tampered or replayed state, cancelled sign-ins, unknown providers.
use super::*;

/// Providers in Tessera whose client at the provider issues bad ID tokens.
const FAULTY: [&str; 4] = ["badaud", "badnonce", "expired", "badazp"];

#[tokio::test]
async fn every_bad_callback_is_refused() {
    let url = reserve_url();
    let provider = provider_with_faulty_clients(&url).await;
    let d = provider.discovery_url();
    let mut toml = provider_toml(IDP, LABEL, &d, CLIENT_ID, "");
    for name in FAULTY {
        toml.push_str(&provider_toml(name, name, &d, name, ""));
    }
    let server = tessera_at(&url, &toml).await;
    let login = server.at(&routes::oauth_login(IDP));

    bad_id_tokens_are_the_reason(&provider, &server, &url).await;
    a_tampered_state(&server, &login).await;
    a_callback_in_another_browser_or_none(&server, &login).await;
    let code = replayed_callbacks_and_codes(&provider, &server, &login).await;
    the_provider_reports_an_error(&server, &login).await;

    assert_no_such_provider(&server, "nope").await;

    // still fine for an honest sign-in
    sso_session(&server, IDP, "alice-sub", "alice-password").await;
    let log = server.log();
    assert!(!log.contains(SECRET), "the client secret is in the log");
    assert!(
        !log.contains(&code),
        "a provider authorization code is in the log"
    );
}

/// The provider with Tessera's client and one client per [`FAULTY`] fault.
async fn provider_with_faulty_clients(url: &str) -> OidcProvider {
    let with = |name: &str, faults: Faults| {
        ClientSpec::new(name, SECRET)
            .redirect_uri(&callback(url, name))
            .faults(faults)
    };
    OidcProvider::start(
        ProviderSpec::new()
            .client(ClientSpec::new(CLIENT_ID, SECRET).redirect_uri(&callback(url, IDP)))
            .client(with(
                "badaud",
                Faults {
                    id_token_audience: Some("someone-else".into()),
                    ..Faults::default()
                },
            ))
            .client(with(
                "badnonce",
                Faults {
                    id_token_nonce: Some(random_token()),
                    ..Faults::default()
                },
            ))
            .client(with(
                "expired",
                Faults {
                    id_token_expired_by: Some(600),
                    ..Faults::default()
                },
            ))
            .client(with(
                "badazp",
                Faults {
                    id_token_azp: Some("another-client".into()),
                    ..Faults::default()
                },
            ))
            .account(alice()),
    )
    .await
}

/// The misbehaving provider's ID tokens are refused: wrong aud, another
/// nonce, expired, azp naming another client; the same clients without
/// their faults work, so the fault was the reason.
async fn bad_id_tokens_are_the_reason(provider: &OidcProvider, server: &TestServer, url: &str) {
    for name in FAULTY {
        let landing = sign_in_at(server, name, "alice-sub", "alice-password").await;
        assert_refused(server, &landing, name);
    }
    // the same clients without their faults work: the fault was the reason
    for name in FAULTY {
        provider
            .put_client(&ClientSpec::new(name, SECRET).redirect_uri(&callback(url, name)))
            .await;
        sso_session(server, name, "alice-sub", "alice-password").await;
    }
}

/// A tampered state is refused.
async fn a_tampered_state(server: &TestServer, login: &str) {
    let c = driver_client();
    let cb = drive_to_callback(&c, login, "alice-sub", "alice-password")
        .await
        .expect("to the callback");
    let mut tampered = Url::parse(&cb).expect("callback");
    let pairs: Vec<(String, String)> = tampered.query_pairs().into_owned().collect();
    tampered
        .query_pairs_mut()
        .clear()
        .extend_pairs(pairs.iter().map(|(k, v)| {
            if k == "state" {
                (k.clone(), format!("{v}x"))
            } else {
                (k.clone(), v.clone())
            }
        }));
    let (status, location) = get_raw(&c, tampered.as_str()).await;
    assert_eq!(status, 303, "tampered state");
    assert_refused(
        server,
        &resolve(&server.url, &location.unwrap_or_default()),
        "tampered state",
    );
}

/// A callback in another browser than the one that started the login, in
/// no browser at all, or made up, is refused.
async fn a_callback_in_another_browser_or_none(server: &TestServer, login: &str) {
    // a callback in another browser than the one that started the login
    let c1 = driver_client();
    let cb1 = drive_to_callback(&c1, login, "alice-sub", "alice-password")
        .await
        .expect("to the callback");
    let c2 = driver_client();
    let (status, _) = get_raw(&c2, login).await;
    assert_eq!(status, 303);
    let (_, location) = get_raw(&c2, &cb1).await;
    assert_refused(
        server,
        &resolve(&server.url, &location.unwrap_or_default()),
        "another browser's callback",
    );
    // and no browser at all (no login started): a callback without a prior login
    let (_, location) = get_raw(&driver_client(), &cb1).await;
    assert_refused(
        server,
        &resolve(&server.url, &location.unwrap_or_default()),
        "callback without cookie",
    );
    let made_up = format!("{}?code=abc&state=def", callback(&server.url, IDP));
    let (_, location) = get_raw(&driver_client(), &made_up).await;
    assert_refused(
        server,
        &resolve(&server.url, &location.unwrap_or_default()),
        "made-up callback",
    );
}

/// A replayed callback works once, then never again; the same code under a
/// fresh login is no good either. Returns the code.
async fn replayed_callbacks_and_codes(
    provider: &OidcProvider,
    server: &TestServer,
    login: &str,
) -> String {
    // a replayed callback: works once, then never again
    let c = driver_client();
    let cb = drive_to_callback(&c, login, "alice-sub", "alice-password")
        .await
        .expect("to the callback");
    let (status, location) = get_raw(&c, &cb).await;
    assert_eq!(status, 303);
    let first = resolve(&server.url, &location.unwrap_or_default());
    assert_eq!(first.path(), "/oauth/complete", "{first}\n{}", server.log());
    let (_, location) = get_raw(&c, &cb).await;
    assert_refused(
        server,
        &resolve(&server.url, &location.unwrap_or_default()),
        "replayed callback",
    );
    // the same code with a fresh login (new state and nonce) is no good either
    let c = driver_client();
    let (_, location) = get_raw(&c, login).await;
    let auth = resolve(&server.url, &location.unwrap_or_default());
    let state: String = auth
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let code: String = Url::parse(&cb)
        .expect("cb")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let mut replay = Url::parse(&callback(&server.url, IDP)).expect("url");
    replay
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &state)
        .append_pair("iss", provider.issuer());
    let (_, location) = get_raw(&c, replay.as_str()).await;
    assert_refused(
        server,
        &resolve(&server.url, &location.unwrap_or_default()),
        "a used code under a new state",
    );
    code
}

/// The provider reports an error (the person cancelled): refused.
async fn the_provider_reports_an_error(server: &TestServer, login: &str) {
    // the provider reports an error (the person cancelled)
    let c = driver_client();
    let (_, location) = get_raw(&c, login).await;
    let auth = resolve(&server.url, &location.unwrap_or_default());
    let state: String = auth
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let mut cancelled = Url::parse(&callback(&server.url, IDP)).expect("url");
    cancelled
        .query_pairs_mut()
        .append_pair("error", "access_denied")
        .append_pair("state", &state);
    let (_, location) = get_raw(&c, cancelled.as_str()).await;
    assert_refused(
        server,
        &resolve(&server.url, &location.unwrap_or_default()),
        "provider error",
    );
}
