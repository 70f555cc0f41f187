//! An open SPA never dies silently: the banner before the token expires and
//! "Stay signed in" through a popup, sign-in and sign-out reaching every
//! tab, and a session ended elsewhere ending the open page too.
use crate::api_injection::Idp;
use crate::browser_injection::{parent_page, serve};
use crate::support::{token, PASSWORD};
use anyhow::{bail, ensure, Context, Result};
use fantoccini::wd::WindowHandle;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tessera_shared::routes;
use tessera_tests::browser::{require_dist, Browser, STORAGE_KEY};
use tessera_tests::keyserver::now;
use tessera_tests::server::TestServer;

/// A server with `toml` (beside `[server]`) and a browser pointed at it.
async fn start(toml: &str) -> Result<(TestServer, Browser)> {
    require_dist()?;
    let server = TestServer::builder().toml(toml).start().await;
    let browser = Browser::start(&server.url).await?;
    Ok((server, browser))
}

/// Saves a screenshot when `TESSERA_SCREENSHOTS` names a folder.
pub(super) async fn screenshot(browser: &Browser, name: &str) -> Result<()> {
    match std::env::var("TESSERA_SCREENSHOTS") {
        Ok(dir) => browser.screenshot(format!("{dir}/{name}.png")).await,
        Err(_) => Ok(()),
    }
}

/// Waits up to `limit` for `check` to hold.
pub(super) async fn until<F, Fut>(what: &str, limit: Duration, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await? {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{what}: not within {limit:?}")
}

/// Waits for a window other than `main` to open.
async fn popup_of(browser: &Browser, main: &WindowHandle) -> Result<WindowHandle> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let all = browser.client().windows().await?;
        if let Some(popup) = all.into_iter().find(|w| w != main) {
            return Ok(popup);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("no popup opened")
}

/// Opens `path` in a new tab and makes it the current one.
async fn open_tab(browser: &Browser, path: &str) -> Result<WindowHandle> {
    let tab = browser.client().new_window(true).await?.handle;
    browser.client().switch_to_window(tab.clone()).await?;
    browser.goto(path).await?;
    Ok(tab)
}

async fn switch(browser: &Browser, window: &WindowHandle) -> Result<()> {
    Ok(browser.client().switch_to_window(window.clone()).await?)
}

#[tokio::test]
async fn stay_signed_in_renews_through_a_popup_and_keeps_what_was_typed() -> Result<()> {
    // the banner shows 10 s after sign-in, and again 10 s after the renewal
    let (server, browser) =
        start("[session]\nexpires_in = \"45s\"\n[ui]\nexpiry_warning = \"35s\"\n").await?;
    server.signup("Ada", "ada@example.com", PASSWORD).await;
    browser.sign_in("ada@example.com", PASSWORD).await?;
    let first = browser.stored_token().await?;
    browser.click("#nav-inspector").await?;
    browser.wait_for_path("/inspector").await?;
    browser
        .fill("#inspect-token", "half-typed, not yet sent")
        .await?;
    ensure!(
        !browser.exists("#expiry-banner").await?,
        "the banner shows 35 s before expiry, not at once"
    );

    until("the expiry banner", Duration::from_secs(20), || async {
        browser.exists("#expiry-banner").await
    })
    .await?;
    browser
        .wait_for_text("#expiry-banner", "Your session ends soon")
        .await?;
    browser
        .wait_for_text("#expiry-banner .countdown", "in ")
        .await?;
    screenshot(&browser, "expiry-banner").await?;

    let main = browser.client().window().await?;
    browser.click("#stay-signed-in").await?;
    let popup = popup_of(&browser, &main).await?;
    switch(&browser, &popup).await?;
    browser.wait_for_path("/login").await?;
    // a fresh sign-in: the shared, still valid session is not taken over
    browser
        .wait_for_text("#notice", "Sign in again to stay signed in")
        .await?;
    screenshot(&browser, "expiry-popup").await?;
    browser.fill("#email", "ada@example.com").await?;
    browser.fill("#password", PASSWORD).await?;
    browser.click("#signin-submit").await?;
    until("the popup to close", Duration::from_secs(10), || async {
        Ok(browser.client().windows().await?.len() == 1)
    })
    .await?;

    switch(&browser, &main).await?;
    ensure!(browser.path().await? == "/inspector", "the page navigated");
    let renewed = browser.stored_token().await?;
    ensure!(renewed != first, "the stored token is still the old one");
    until("the banner to go", Duration::from_secs(5), || async {
        Ok(!browser.exists("#expiry-banner").await?)
    })
    .await?;
    let typed = browser
        .execute(
            "return document.getElementById('inspect-token').value;",
            vec![],
        )
        .await?;
    ensure!(
        typed == "half-typed, not yet sent",
        "what was typed is gone: {typed}"
    );
    // the page works on with the new token
    let (status, _) = server.get(routes::SESSION, Some(&renewed)).await;
    ensure!(status == 200, "the new token is refused: {status}");
    browser.click(".nav a").await?;
    browser
        .wait_for_text("#user-email", "ada@example.com")
        .await?;
    browser.close().await
}

#[tokio::test]
async fn the_banner_can_be_dismissed() -> Result<()> {
    let (server, browser) =
        start("[session]\nexpires_in = \"10m\"\n[ui]\nexpiry_warning = \"1h\"\n").await?;
    server.signup("Ada", "ada@example.com", PASSWORD).await;
    browser.sign_in("ada@example.com", PASSWORD).await?;
    browser.wait_for_text("#expiry-banner", "ends soon").await?;
    browser.click("#expiry-dismiss").await?;
    until("the banner to go", Duration::from_secs(5), || async {
        Ok(!browser.exists("#expiry-banner").await?)
    })
    .await?;
    browser.close().await
}

#[tokio::test]
async fn sign_out_and_sign_in_reach_every_tab() -> Result<()> {
    let (server, browser) = start("").await?;
    server.signup("Ada", "ada@example.com", PASSWORD).await;
    browser.sign_in("ada@example.com", PASSWORD).await?;
    let first = browser.client().window().await?;
    let second = open_tab(&browser, "/dashboard").await?;
    browser
        .wait_for_text("#user-email", "ada@example.com")
        .await
        .context("the second tab")?;
    let third = open_tab(&browser, "/users").await?;
    browser.wait_for_text("#users", "ada@example.com").await?;

    switch(&browser, &first).await?;
    browser.click("#signout").await?;
    browser.wait_for_path("/login").await?;
    for tab in [&second, &third] {
        switch(&browser, tab).await?;
        browser.wait_for_path("/login").await?;
        browser
            .wait_for_text("#notice", "You have signed out")
            .await?;
    }
    screenshot(&browser, "tabs-signed-out").await?;

    // signing in in the second tab signs the other two in
    switch(&browser, &second).await?;
    browser.fill("#email", "ada@example.com").await?;
    browser.fill("#password", PASSWORD).await?;
    browser.click("#signin-submit").await?;
    browser.wait_for_path("/dashboard").await?;
    let token = browser.stored_token().await?;
    // the first goes to the dashboard, the third back to /users, where it was
    for (tab, path, css) in [
        (&first, "/dashboard", "#user-email"),
        (&third, "/users", "#users"),
    ] {
        switch(&browser, tab).await?;
        browser.wait_for_path(path).await?;
        browser.wait_for_text(css, "ada@example.com").await?;
        ensure!(browser.stored_token().await? == token);
    }
    browser.close().await
}

#[tokio::test]
async fn a_session_ended_elsewhere_ends_the_open_page() -> Result<()> {
    let (server, browser) = start("[ui]\nsession_check_interval = \"2s\"\n").await?;
    let admin = server.signup("Ada", "ada@example.com", PASSWORD).await;
    let bob = server.signup("Bob", "bob@example.com", PASSWORD).await;
    browser.sign_in("bob@example.com", PASSWORD).await?;
    // nothing happens in the browser: the periodic check finds out
    let id = bob["id"].as_str().context("Bob's id")?;
    let (status, _) = server
        .post(&routes::user_signout(id), Some(token(&admin)), &json!({}))
        .await;
    ensure!(status == 200, "sign-out everywhere failed: {status}");
    browser.wait_for_path("/login").await?;
    browser
        .wait_for_text("#notice", "Your session has ended")
        .await?;
    ensure!(browser.local_storage(STORAGE_KEY).await?.is_none());
    browser.close().await
}

#[tokio::test]
async fn becoming_visible_checks_the_session() -> Result<()> {
    // no periodic check: only the page becoming visible asks
    let (server, browser) = start("[ui]\nsession_check_interval = \"0s\"\n").await?;
    server.signup("Ada", "ada@example.com", PASSWORD).await;
    browser.sign_in("ada@example.com", PASSWORD).await?;
    let stored = browser.stored_token().await?;
    let (status, _) = server.get(routes::SIGNOUT, Some(&stored)).await;
    ensure!(status == 200, "sign-out over the API failed: {status}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    ensure!(browser.path().await? == "/dashboard");
    browser
        .execute(
            "document.dispatchEvent(new Event('visibilitychange', {bubbles: true}));",
            Vec::<Value>::new(),
        )
        .await?;
    browser.wait_for_path("/login").await?;
    browser
        .wait_for_text("#notice", "Your session has ended")
        .await?;
    browser.close().await
}

#[tokio::test]
async fn stay_signed_in_asks_the_embedding_page_for_a_posted_token() -> Result<()> {
    require_dist()?;
    let idp = Idp::start().await;
    let probe = tokio::net::TcpListener::bind(("127.0.0.2", 0)).await?;
    let parent_port = probe.local_addr()?.port();
    drop(probe);
    let server = TestServer::builder()
        .toml(&idp.toml())
        .toml(&format!(
            "[embed]\nallowed_origins = [\"http://127.0.0.2:{parent_port}\"]\n[ui]\nexpiry_warning = \"1h\"\n"
        ))
        .start()
        .await;
    let rogue = serve("127.0.0.3:0", vec![("/rogue", "<!doctype html>".into())]).await;
    // inside the banner's hour, but not near enough for the automatic refresh
    let posted = idp.token("alice", json!({"exp": now() + 600}));
    let parent = serve(
        &format!("127.0.0.2:{parent_port}"),
        vec![("/portal", parent_page(&server.url, &rogue.url, &posted))],
    )
    .await;
    let browser = Browser::start(&parent.url).await?;
    browser.goto("/portal").await?;
    browser.client().enter_frame(0).await?;
    browser
        .wait_for_text("#expiry-banner", "Your session ends soon")
        .await?;
    browser.client().enter_parent_frame().await?;
    let asked = browser.execute("return window.requests;", vec![]).await?;
    let fresh = idp.token("alice", json!({"exp": now() + 7200}));
    browser
        .execute("window.token = arguments[0];", vec![json!(fresh)])
        .await?;

    browser.client().enter_frame(0).await?;
    browser.click("#stay-signed-in").await?;
    until("the posted token", Duration::from_secs(10), || async {
        Ok(browser.stored_token().await? == fresh)
    })
    .await?;
    until("the banner to go", Duration::from_secs(5), || async {
        Ok(!browser.exists("#expiry-banner").await?)
    })
    .await?;
    ensure!(
        browser.client().windows().await?.len() == 1,
        "no popup for a posted token"
    );
    browser.client().enter_parent_frame().await?;
    let now_asked = browser.execute("return window.requests;", vec![]).await?;
    ensure!(
        now_asked.as_u64() == asked.as_u64().map(|n| n + 1),
        "the parent was asked once more: {asked} then {now_asked}"
    );
    browser.close().await
}
