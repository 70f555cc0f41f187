//! The HTTP edge (security review, issue 15): a request path that can name
//! no file is a page like any other and logs nothing; a request that changes
//! state through the API must be JSON, body or not; the names Tessera keeps
//! for itself cannot be given to an SSO provider at runtime; the request log
//! is off unless asked for, and never holds a query string.
use crate::support::{token, PASSWORD};
use anyhow::{ensure, Result};
use serde_json::{json, Value};
use tessera_shared::routes;
use tessera_tests::browser::require_dist;
use tessera_tests::server::{client, status_and_json, TestServer};

#[tokio::test]
async fn a_path_no_file_can_have_is_a_page_and_is_not_logged() -> Result<()> {
    require_dist()?;
    // the file server's own errors are logged under `tower_http`
    let server = TestServer::builder()
        .env("RUST_LOG", "tessera=debug,tower_http=warn")
        .start()
        .await;
    let page = client().get(server.at("/some/client/route")).send().await?;
    ensure!(page.status() == 200, "a client route: {}", page.status());
    let page = page.text().await?;

    let long = "x".repeat(300);
    for path in [
        format!("/{long}"),
        format!("/{}", "y".repeat(256)),
        format!("/deep/{long}/er"),
        "/nul%00byte".to_owned(),
    ] {
        let res = client().get(server.at(&path)).send().await?;
        let status = res.status();
        ensure!(
            status == 200,
            "GET {path}: {status}, not the page; log:\n{}",
            server.log()
        );
        ensure!(res.text().await? == page, "GET {path}: not the SPA's page");
    }
    let log = server.log();
    ensure!(!log.contains("ERROR"), "an ERROR line:\n{log}");
    ensure!(
        !log.contains(&"x".repeat(64)) && !log.contains(&"y".repeat(64)),
        "the path is in the log:\n{log}"
    );
    Ok(())
}

#[tokio::test]
async fn the_request_log_is_off_by_default_and_never_holds_a_query() -> Result<()> {
    // as users start it: no line, no span per request
    let quiet = TestServer::start().await;
    let res = client()
        .get(quiet.at("/healthz?auth_token=query-secret-1"))
        .send()
        .await?;
    ensure!(res.status() == 200, "GET /healthz: {}", res.status());
    let log = quiet.log();
    ensure!(
        !log.contains("answered") && !log.contains("/healthz"),
        "a request logged without log_requests:\n{log}"
    );

    // `[server] log_requests = true`: a line per answer in the request's span
    let loud = TestServer::builder()
        .env("TESSERA_SERVER_LOG_REQUESTS", "true")
        .start()
        .await;
    let res = client()
        .get(loud.at("/healthz?auth_token=query-secret-2"))
        .send()
        .await?;
    ensure!(res.status() == 200, "GET /healthz: {}", res.status());
    let res = client().get(loud.at("/api/v1/nothing-here")).send().await?;
    ensure!(
        res.status() == 404,
        "GET /api/v1/nothing-here: {}",
        res.status()
    );
    let long = format!("/{}", "z".repeat(300));
    client().get(loud.at(&long)).send().await?;
    let log = loud.log();
    let line = |path: &str, status: u16| {
        log.lines().any(|l| {
            l.contains("method=GET")
                && l.contains(&format!("path={path}"))
                && l.contains("answered")
                && l.contains(&format!("status={status}"))
        })
    };
    ensure!(line("/healthz", 200), "no line for /healthz:\n{log}");
    ensure!(
        line("/api/v1/nothing-here", 404),
        "no line for the 404:\n{log}"
    );
    ensure!(
        !log.contains("query-secret"),
        "a query string in the log:\n{log}"
    );
    ensure!(
        !log.contains('\u{1b}'),
        "colour codes in a log file:\n{log}"
    );
    ensure!(
        log.contains("(301 bytes)") && !log.contains(&"z".repeat(256)),
        "a long path is not cut at 256 bytes:\n{log}"
    );
    Ok(())
}

/// `POST path` with `token` and, when given, this Content-Type and body.
async fn post_raw(
    server: &TestServer,
    path: &str,
    token: &str,
    content: Option<(&str, &str)>,
) -> (u16, Value) {
    let mut req = client().post(server.at(path)).bearer_auth(token);
    if let Some((ctype, body)) = content {
        req = req.header("content-type", ctype).body(body.to_owned());
    }
    let res = req.send().await.expect("request");
    status_and_json(res).await
}

#[tokio::test]
async fn state_changes_to_the_api_must_be_json_even_without_a_body() {
    let server = TestServer::builder()
        .toml("[api_keys]\nenabled = true")
        .start()
        .await;
    let ann = server.signup("Ann", "ann@example.com", PASSWORD).await;
    let t = token(&ann).to_owned();
    for content in [
        None,
        Some(("application/x-www-form-urlencoded", "a=b")),
        Some(("multipart/form-data; boundary=x", "--x--\r\n")),
        Some(("text/plain", "{}")),
    ] {
        let (status, body) = post_raw(&server, routes::API_KEY, &t, content).await;
        assert_eq!(status, 415, "{content:?}: {body}");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("application/json"), "{body}");
    }
    let (status, body) = server.get(routes::API_KEY, Some(&t)).await;
    assert_eq!(status, 404, "a refused request made a key: {body}");

    // the same call, saying JSON, with or without a body
    let (status, body) =
        post_raw(&server, routes::API_KEY, &t, Some(("application/json", ""))).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["api_key"]
        .as_str()
        .is_some_and(|k| k.starts_with("sk-")));

    // PUT too, and before anything else is looked at
    let res = client()
        .put(server.at(&format!(
            "/api/v1/users/{}/permissions",
            ann["id"].as_str().unwrap_or_default()
        )))
        .bearer_auth(&t)
        .header("content-type", "text/plain")
        .body(r#"{"api_keys": false}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 415);
    let (status, _) = post_raw(&server, routes::TOKEN_EXCHANGE, "x", None).await;
    assert_eq!(status, 415, "unauthenticated, not JSON");
}

#[tokio::test]
async fn sso_providers_saved_at_runtime_cannot_take_a_reserved_name() {
    let server = TestServer::start().await;
    let admin = token(&server.signup("Root", "root@example.com", PASSWORD).await).to_owned();
    let settings = |name: &str| {
        json!({
            "name": name,
            "client_id": "tessera",
            "client_secret": "s3cret-value",
            "discovery_url": "https://idp.example/.well-known/openid-configuration",
        })
    };
    let put = |name: &str| {
        client()
            .put(server.at(&routes::ADMIN_OIDC_PROVIDER.replace("{name}", name)))
            .bearer_auth(&admin)
            .json(&settings(name))
            .send()
    };
    for name in ["local", "ldap", "trusted_header", "test"] {
        let res = put(name).await.expect("request");
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 400, "PUT {name}: {body}");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("reserved"), "{body}");
        // the test round trip of unsaved settings refuses them too
        let (status, body) = server
            .post(routes::ADMIN_OIDC_TEST, Some(&admin), &settings(name))
            .await;
        assert_eq!(status, 400, "test {name}: {body}");
        assert!(body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("reserved")));
    }
    let (status, list) = server.get(routes::ADMIN_OIDC_PROVIDERS, Some(&admin)).await;
    assert_eq!(status, 200);
    assert_eq!(list, json!([]), "nothing was saved");
    // the same settings under a free name are fine
    let res = put("corp").await.expect("request");
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );
}
