//! The SPA picking up an injected IdP token in headless Chromium, against
//! the real server trusting an issuer whose keys the test serves: through a
//! real nginx that adds `Authorization`, from `#auth_token=` and
//! `?auth_token=`, and from a parent page on another loopback origin by
//! `postMessage`; refusals, exchange, expiry and embed mode.
use super::api_injection::{jwt_header, Idp, ISSUER_NAME};
use anyhow::{ensure, Context, Result};
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tessera_shared::routes;
use tessera_tests::browser::{require_dist, Browser, STORAGE_KEY};
use tessera_tests::keyserver::now;
use tessera_tests::nginx::Nginx;
use tessera_tests::server::TestServer;

async fn href(browser: &Browser) -> Result<String> {
    let v = browser.execute("return location.href;", vec![]).await?;
    Ok(v.as_str().unwrap_or_default().to_owned())
}

/// A page request through nginx, which adds `Authorization: Bearer <token>`.
async fn proxy_with(server: &TestServer, token: &str) -> Nginx {
    Nginx::start(
        &server.url,
        &format!("proxy_set_header Authorization \"Bearer {token}\";"),
    )
    .await
}

#[tokio::test]
async fn a_proxy_header_lands_signed_in_without_a_form() -> Result<()> {
    require_dist()?;
    let idp = Idp::start().await;
    let server = TestServer::builder().toml(&idp.toml()).start().await;
    let token = idp.token("alice", json!({}));
    let proxy = proxy_with(&server, &token).await;
    let browser = Browser::start(&proxy.url).await?;

    browser.goto("/").await?;
    browser.wait_for_path("/dashboard").await?;
    browser
        .wait_for_text("#user-email", "alice@example.com")
        .await?;
    ensure!(!browser.exists("#signin-submit").await?, "no sign-in form");
    browser.wait_for_text("#user-issuer", ISSUER_NAME).await?;
    browser.wait_for_text("#user-groups", "staff").await?;
    browser
        .wait_for_text(r#"[data-claim="tenant"]"#, "acme")
        .await?;
    browser.wait_for_text("#token-kind", "JWT").await?;
    browser
        .wait_for_text("#token-issuer", "https://idp.test/realms/embed")
        .await?;
    let claims = browser.text("#token-claims").await?;
    ensure!(claims.contains(r#""sub": "alice""#), "claims: {claims}");
    let header = browser.text("#token-header").await?;
    ensure!(header.contains(r#""alg": "ES256""#), "header: {header}");
    let block = browser
        .execute(
            "return document.getElementById('tessera-injected') === null;",
            vec![],
        )
        .await?;
    ensure!(
        block == json!(true),
        "the data block is removed from the DOM"
    );
    ensure!(browser.stored_token().await? == token);
    browser.close().await
}

#[tokio::test]
async fn fragment_and_query_tokens_land_signed_in_and_leave_no_trace() -> Result<()> {
    require_dist()?;
    let idp = Idp::start().await;
    let server = TestServer::builder()
        .toml(&idp.toml())
        .toml("[injection]\nquery_param = true\n")
        .start()
        .await;
    let browser = Browser::start(&server.url).await?;

    let alice = idp.token("alice", json!({}));
    browser.goto(&format!("/#auth_token={alice}")).await?;
    browser.wait_for_path("/dashboard").await?;
    browser
        .wait_for_text("#user-email", "alice@example.com")
        .await?;
    let url = href(&browser).await?;
    ensure!(
        !url.contains("auth_token") && !url.contains(&alice),
        "{url}"
    );
    let state = browser
        .execute("return JSON.stringify(history.state) || '';", vec![])
        .await?;
    ensure!(
        !state.to_string().contains(&alice),
        "history state: {state}"
    );
    ensure!(
        browser.exists(".top-bar").await?,
        "not embedded: chrome shown"
    );

    // a query token for another user replaces the stored one; embed=1 stays
    let bob = idp.token("bob", json!({}));
    browser
        .goto(&format!("/dashboard?embed=1&auth_token={bob}"))
        .await?;
    browser
        .wait_for_text("#user-email", "bob@example.com")
        .await?;
    let url = href(&browser).await?;
    ensure!(url.ends_with("/dashboard?embed=1"), "{url}");
    ensure!(
        browser.stored_token().await? == bob,
        "bob's token is stored"
    );
    ensure!(
        !browser.exists(".top-bar").await?,
        "embed mode shows no navigation chrome"
    );
    // embed mode lasts for the session
    browser.goto("/dashboard").await?;
    browser
        .wait_for_text("#user-email", "bob@example.com")
        .await?;
    ensure!(!browser.exists(".top-bar").await?, "embed mode is kept");
    browser.close().await
}

#[tokio::test]
async fn a_query_token_is_scrubbed_but_ignored_unless_enabled() -> Result<()> {
    require_dist()?;
    let idp = Idp::start().await;
    let server = TestServer::builder().toml(&idp.toml()).start().await;
    let browser = Browser::start(&server.url).await?;
    let token = idp.token("alice", json!({}));
    browser
        .goto(&format!("/?keep=1&auth_token={token}"))
        .await?;
    browser.wait_for_path("/login").await?;
    browser.find("#signin-submit").await?;
    let url = href(&browser).await?;
    ensure!(!url.contains(&token), "{url}");
    ensure!(browser.local_storage(STORAGE_KEY).await?.is_none());
    browser.close().await
}

#[tokio::test]
async fn refused_injected_tokens_show_the_reason_on_the_sign_in_page() -> Result<()> {
    require_dist()?;
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
    ];
    let browser = Browser::start(&server.url).await?;
    for (what, token, reason) in cases {
        let proxy = proxy_with(&server, &token).await;
        browser.goto(&proxy.at("/dashboard")).await?;
        browser
            .wait_for_path("/login")
            .await
            .with_context(|| what.to_owned())?;
        browser
            .wait_for_text("#notice", reason)
            .await
            .with_context(|| what.to_owned())?;
        browser.find("#signin-submit").await?;
        ensure!(
            browser.local_storage(STORAGE_KEY).await?.is_none(),
            "{what}: nothing stored"
        );
    }
    // a forged fragment token is refused by the server's check
    browser
        .goto(&format!("/#auth_token={}", idp.forged("mallory")))
        .await?;
    browser.wait_for_path("/login").await?;
    browser
        .wait_for_text("#notice", "Your sign-in token was refused: Invalid token")
        .await?;
    browser.close().await
}

#[tokio::test]
async fn exchange_keeps_a_session_token_that_sign_out_revokes() -> Result<()> {
    require_dist()?;
    let idp = Idp::start().await;
    let server = TestServer::builder()
        .toml(&idp.toml())
        .toml("[injection]\nexchange = true\n")
        .start()
        .await;
    let browser = Browser::start(&server.url).await?;
    let token = idp.token("alice", json!({}));
    browser.goto(&format!("/#auth_token={token}")).await?;
    browser.wait_for_path("/dashboard").await?;
    browser
        .wait_for_text("#user-email", "alice@example.com")
        .await?;
    browser
        .wait_for_text("#auth-method", "Tessera session")
        .await?;
    let stored = browser.stored_token().await?;
    ensure!(stored != token, "the IdP token is not kept");
    ensure!(
        jwt_header(&stored)["kid"] == "tessera-session",
        "{}",
        jwt_header(&stored)
    );
    let (status, _) = server.get(routes::SESSION, Some(&stored)).await;
    ensure!(status == 200);

    browser.click("#signout").await?;
    browser.wait_for_path("/login").await?;
    let (status, _) = server.get(routes::SESSION, Some(&stored)).await;
    ensure!(
        status == 401,
        "sign-out revokes the exchanged token: {status}"
    );
    browser.close().await
}

/// The pages of the embedding site (and of a rogue one), on their own loopback origins.
pub(super) struct Site {
    pub(super) url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Site {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `pages` on `addr` (`ip:port`, port 0 for any).
pub(super) async fn serve(addr: &str, pages: Vec<(&'static str, String)>) -> Site {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("bind a loopback address");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let mut app = Router::new();
    for (path, html) in pages {
        let html = Arc::new(html);
        app = app.route(
            path,
            get(|State(html): State<Arc<String>>| async move { Html(html.as_str().to_owned()) })
                .with_state(html),
        );
    }
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Site { url, task }
}

/// The parent page: frames the SPA (frame 0) and a rogue page (frame 1);
/// answers the SPA's token requests with `window.token` unless
/// `?mode=quiet`; `sendToken()` posts it.
pub(super) fn parent_page(spa: &str, rogue: &str, token: &str) -> String {
    format!(
        r#"<!doctype html><title>Portal</title>
<iframe id="tessera" src="{spa}/dashboard?embed=1" width="900" height="700"></iframe>
<iframe id="rogue" src="{rogue}/rogue" width="10" height="10"></iframe>
<script>
const spa = "{spa}";
window.token = "{token}";
const quiet = location.search.includes("mode=quiet");
window.requests = 0;
window.sendToken = () => frames[0].postMessage({{type: "tessera:token", token: window.token}}, spa);
window.addEventListener("message", (e) => {{
  if (e.origin === spa && e.data && e.data.type === "tessera:token-request") {{
    window.requests += 1;
    if (!quiet) window.sendToken();
  }}
}});
</script>"#
    )
}

/// A page on an origin that is not allowed, posting a token to its sibling frame.
fn rogue_page(token: &str) -> String {
    format!(
        r#"<!doctype html><script>
setInterval(() => parent.frames[0].postMessage({{type: "tessera:token", token: "{token}"}}, "*"), 200);
</script>"#
    )
}

#[tokio::test]
async fn an_iframe_on_an_allowed_origin_posts_a_token() -> Result<()> {
    require_dist()?;
    let idp = Idp::start().await;
    let alice = idp.token("alice", json!({}));
    let mallory = idp.token("mallory", json!({}));
    // bind first to learn the parent's origin, which the server must allow
    let probe = tokio::net::TcpListener::bind(("127.0.0.2", 0)).await?;
    let parent_port = probe.local_addr()?.port();
    drop(probe);
    let parent_origin = format!("http://127.0.0.2:{parent_port}");
    let server = TestServer::builder()
        .toml(&idp.toml())
        .toml(&format!(
            "[embed]\nallowed_origins = [\"{parent_origin}\"]\n"
        ))
        .start()
        .await;
    let rogue = serve("127.0.0.3:0", vec![("/rogue", rogue_page(&mallory))]).await;
    let parent = serve(
        &format!("127.0.0.2:{parent_port}"),
        vec![("/portal", parent_page(&server.url, &rogue.url, &alice))],
    )
    .await;
    let browser = Browser::start(&parent.url).await?;

    // quiet parent: only the rogue sibling posts, and is ignored
    browser.goto("/portal?mode=quiet").await?;
    browser.client().enter_frame(0).await?;
    browser.find("#signin-submit").await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    ensure!(
        browser.exists("#signin-submit").await? && !browser.exists("#user-email").await?,
        "a token posted from an origin not listed was accepted"
    );
    browser.client().enter_parent_frame().await?;
    let requests = browser.execute("return window.requests;", vec![]).await?;
    ensure!(
        requests.as_u64() >= Some(1),
        "the SPA asks its parent for a token: {requests}"
    );

    // the parent posts: the embedded dashboard shows alice
    browser.execute("window.sendToken();", vec![]).await?;
    browser.client().enter_frame(0).await?;
    browser
        .wait_for_text("#user-email", "alice@example.com")
        .await?;
    ensure!(
        !browser.exists(".top-bar").await?,
        "embedded: no navigation chrome"
    );
    ensure!(browser.stored_token().await? == alice);
    browser.client().enter_parent_frame().await?;
    browser.close().await
}

#[tokio::test]
async fn an_iframe_parent_answering_the_token_request_signs_in() -> Result<()> {
    require_dist()?;
    let idp = Idp::start().await;
    let alice = idp.token("alice", json!({}));
    let probe = tokio::net::TcpListener::bind(("127.0.0.2", 0)).await?;
    let parent_port = probe.local_addr()?.port();
    drop(probe);
    let server = TestServer::builder()
        .toml(&idp.toml())
        .toml(&format!(
            "[embed]\nallowed_origins = [\"http://127.0.0.2:{parent_port}\"]\n"
        ))
        .start()
        .await;
    let rogue = serve("127.0.0.3:0", vec![("/rogue", "<!doctype html>".into())]).await;
    let parent = serve(
        &format!("127.0.0.2:{parent_port}"),
        vec![("/portal", parent_page(&server.url, &rogue.url, &alice))],
    )
    .await;
    let browser = Browser::start(&parent.url).await?;
    browser.goto("/portal").await?;
    browser.client().enter_frame(0).await?;
    browser
        .wait_for_text("#user-email", "alice@example.com")
        .await?;
    ensure!(!browser.exists(".top-bar").await?, "embedded: no chrome");
    browser.client().enter_parent_frame().await?;
    browser.close().await
}

#[tokio::test]
async fn an_expired_injected_token_goes_to_the_configured_idp_page() -> Result<()> {
    require_dist()?;
    let idp = Idp::start().await;
    let login = serve(
        "127.0.0.2:0",
        vec![(
            "/idp-login",
            "<!doctype html><h1 id=idp>IdP sign-in</h1>".into(),
        )],
    )
    .await;
    let server = TestServer::builder()
        .toml(&idp.toml())
        .toml(&format!(
            "[injection]\nexpired_redirect = \"{}/idp-login\"\n",
            login.url
        ))
        .start()
        .await;
    let browser = Browser::start(&server.url).await?;
    let token = idp.token("alice", json!({"exp": now() + 8}));
    browser.goto(&format!("/#auth_token={token}")).await?;
    browser
        .wait_for_text("#user-email", "alice@example.com")
        .await?;
    browser.wait_for_text("#idp", "IdP sign-in").await?;
    ensure!(href(&browser).await?.starts_with(&login.url));
    browser.close().await
}

#[tokio::test]
async fn the_iframe_asks_its_parent_for_a_fresh_token_before_expiry() -> Result<()> {
    require_dist()?;
    let idp = Idp::start().await;
    let probe = tokio::net::TcpListener::bind(("127.0.0.2", 0)).await?;
    let parent_port = probe.local_addr()?.port();
    drop(probe);
    let server = TestServer::builder()
        .toml(&idp.toml())
        .toml(&format!(
            "[embed]\nallowed_origins = [\"http://127.0.0.2:{parent_port}\"]\n"
        ))
        .start()
        .await;
    let rogue = serve("127.0.0.3:0", vec![("/rogue", "<!doctype html>".into())]).await;
    let short = idp.token("alice", json!({"exp": now() + 12}));
    let parent = serve(
        &format!("127.0.0.2:{parent_port}"),
        vec![("/portal", parent_page(&server.url, &rogue.url, &short))],
    )
    .await;
    let browser = Browser::start(&parent.url).await?;
    browser.goto("/portal").await?;
    browser.client().enter_frame(0).await?;
    browser
        .wait_for_text("#user-email", "alice@example.com")
        .await?;
    ensure!(browser.stored_token().await? == short);
    browser.client().enter_parent_frame().await?;
    let fresh = idp.token("alice", json!({"exp": now() + 600}));
    browser
        .execute("window.token = arguments[0];", vec![json!(fresh)])
        .await?;
    browser.client().enter_frame(0).await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while browser.stored_token().await? != fresh {
        ensure!(
            std::time::Instant::now() < deadline,
            "no fresh token requested before the old one expired"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    browser
        .wait_for_text("#user-email", "alice@example.com")
        .await?;
    ensure!(!browser.exists("#signin-submit").await?);
    browser.client().enter_parent_frame().await?;
    browser.close().await
}

#[tokio::test]
async fn an_expired_injected_token_without_a_redirect_goes_to_sign_in() -> Result<()> {
    require_dist()?;
    let idp = Idp::start().await;
    let server = TestServer::builder().toml(&idp.toml()).start().await;
    let browser = Browser::start(&server.url).await?;
    let token = idp.token("alice", json!({"exp": now() + 8}));
    browser.goto(&format!("/#auth_token={token}")).await?;
    browser
        .wait_for_text("#user-email", "alice@example.com")
        .await?;
    browser.wait_for_path("/login").await?;
    browser
        .wait_for_text("#notice", "Your sign-in token has expired")
        .await?;
    ensure!(browser.local_storage(STORAGE_KEY).await?.is_none());
    browser.close().await
}
