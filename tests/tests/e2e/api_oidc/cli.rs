//! `tessera login --skip-browser` signing in through the provider.
use super::*;

#[tokio::test]
async fn cli_login_with_skip_browser() {
    let cli_port = tessera_tests::free_port();
    let loopback = format!("http://localhost:{cli_port}/oidc/callback");
    let other_port = tessera_tests::free_port();
    let manual = format!("http://127.0.0.1:{other_port}/oidc/callback");
    let (provider, server) = sso(
        vec![alice()],
        |c| c.redirect_uri(&loopback).redirect_uri(&manual),
        "",
        "",
    )
    .await;
    root(&server).await;

    the_cli_signs_in_and_prints_a_session_token(&provider, &server, cli_port, &loopback).await;
    the_server_side_takes_loopback_uris_bound_to_the_nonce(&server, &manual).await;
    the_cli_reports_an_unknown_provider(&server).await;
}

/// `tessera login --skip-browser` prints the provider's URL; signing in
/// there reaches the CLI's loopback listener, and the CLI prints a session
/// token.
async fn the_cli_signs_in_and_prints_a_session_token(
    provider: &OidcProvider,
    server: &TestServer,
    cli_port: u16,
    loopback: &str,
) {
    let mut child = tokio::process::Command::new(binary())
        .args([
            "login",
            "--method",
            "oidc",
            "--provider",
            IDP,
            "--url",
            &server.url,
        ])
        .args(["--port", &cli_port.to_string(), "--skip-browser"])
        .env_remove("TESSERA_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("tessera login");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = String::new();
    let auth_url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push_str(&line);
            seen.push('\n');
            let line = line.trim();
            if line.starts_with("http://") || line.starts_with("https://") {
                return Some(line.to_owned());
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .unwrap_or_else(|| {
        panic!(
            "no URL from tessera login; it said:\n{seen}\n{}",
            server.log()
        )
    });
    assert!(
        seen.contains("Complete the login via your OIDC provider"),
        "{seen}"
    );
    assert!(auth_url.starts_with(provider.issuer()), "{auth_url}");
    let cb = sign_in_via_provider(&driver_client(), &auth_url, "alice-sub", "alice-password")
        .await
        .expect("through the provider");
    assert!(cb.starts_with(loopback), "{cb}");
    let res = client().get(&cb).send().await.expect("the CLI's listener");
    assert_eq!(res.status(), 200);
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("tessera login should finish")
        .expect("exit status");
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.read_to_string(&mut out).await;
    }
    assert!(
        status.success(),
        "tessera login failed: {seen}\n{}",
        server.log()
    );
    let cli_token = out.trim();
    assert!(
        !cli_token.is_empty() && !cli_token.contains('\n'),
        "stdout: {out:?}"
    );
    let (status, me) = server.get(routes::SESSION, Some(cli_token)).await;
    assert_eq!(status, 200);
    assert_eq!(me["email"], "alice@example.com");
}

/// The server side of the CLI flow: loopback redirect URIs only, bound to
/// the client nonce.
async fn the_server_side_takes_loopback_uris_bound_to_the_nonce(server: &TestServer, manual: &str) {
    let start = routes::OAUTH_CLI_START.replace("{provider}", IDP);
    let finish = routes::OAUTH_CLI_FINISH.replace("{provider}", IDP);
    for bad in [
        "http://evil.example/oidc/callback",
        "https://localhost:8250/oidc/callback",
        "http://localhost:8250/elsewhere",
        &format!("{}/oauth/{IDP}/callback", server.url),
    ] {
        let (status, body) = server
            .post(
                &start,
                None,
                &json!({"redirect_uri": bad, "client_nonce": random_token()}),
            )
            .await;
        assert!(
            (400..500).contains(&status),
            "redirect URI {bad}: {status} {body}"
        );
    }
    let nonce = random_token();
    let (status, started) = server
        .post(
            &start,
            None,
            &json!({"redirect_uri": manual, "client_nonce": nonce}),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let url = started["auth_url"].as_str().expect("auth_url");
    let cb = sign_in_via_provider(&driver_client(), url, "alice-sub", "alice-password")
        .await
        .expect("through the provider");
    let cb = Url::parse(&cb).expect("callback");
    let param = |k: &str| {
        cb.query_pairs()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let (status, body) = server
        .post(
            &finish,
            None,
            &json!({"state": param("state"), "code": param("code"), "client_nonce": random_token()}),
        )
        .await;
    assert!(
        (400..500).contains(&status),
        "a wrong client nonce: {status} {body}"
    );
    assert!(body.get("token").is_none());
}

/// The CLI reports a failure: an unknown provider.
async fn the_cli_reports_an_unknown_provider(server: &TestServer) {
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(binary())
            .args([
                "login",
                "--method",
                "oidc",
                "--provider",
                "nope",
                "--url",
                &server.url,
            ])
            .args([
                "--port",
                &tessera_tests::free_port().to_string(),
                "--skip-browser",
            ])
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("tessera login with an unknown provider should give up")
    .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(!out.stderr.is_empty());
}
