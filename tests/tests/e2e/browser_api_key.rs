//! The API key page in headless Chromium: create (shown once), use, replace, revoke.
use crate::support::PASSWORD;
use anyhow::{ensure, Context, Result};
use tessera_tests::browser::{require_dist, Browser};
use tessera_tests::server::TestServer;

#[tokio::test]
async fn create_use_replace_and_revoke_a_key() -> Result<()> {
    require_dist()?;
    let server = TestServer::builder()
        .toml("[api_keys]\nenabled = true")
        .start()
        .await;
    let ann = server.signup("Ann", "ann@example.com", PASSWORD).await;
    let browser = Browser::start(&server.url).await?;
    browser.sign_in("ann@example.com", PASSWORD).await?;

    browser.click("#nav-api-key").await?;
    browser.wait_for_path("/api-key").await?;
    browser.wait_for_text("#no-api-key", "no API key").await?;
    browser
        .wait_for_text("#create-api-key", "Create key")
        .await?;
    browser.click("#create-api-key").await?;
    let key = browser.wait_for_text("#api-key-value", "sk-").await?;
    ensure!(key.len() >= 46, "a whole key is shown once: {key}");
    browser.wait_for_text("#api-key-prefix", &key[..11]).await?;
    browser
        .wait_for_text("#create-api-key", "Replace key")
        .await?;

    // the key works, and the page never shows it again after a reload
    let (status, me) = server.get("/api/v1/auths/", Some(&key)).await;
    ensure!(
        status == 200 && me["auth_method"] == "api_key",
        "key refused: {status} {me}"
    );
    browser.reload().await?;
    browser.wait_for_text("#api-key-prefix", &key[..11]).await?;
    ensure!(
        !browser.exists("#api-key-value").await?,
        "the key is shown only once"
    );

    // replace: the old key stops at once
    browser.click("#create-api-key").await?;
    let replaced = browser.wait_for_text("#api-key-value", "sk-").await?;
    ensure!(replaced != key, "a new key");
    ensure!(
        server.get("/api/v1/auths/", Some(&key)).await.0 == 401,
        "old key still works"
    );

    // revoke
    browser.click("#revoke-api-key").await?;
    browser.wait_for_text("#no-api-key", "no API key").await?;
    ensure!(
        server.get("/api/v1/auths/", Some(&replaced)).await.0 == 401,
        "revoked key still works"
    );
    ensure!(ann["role"] == "admin", "first account is the admin");
    browser.close().await.context("closing the browser")
}

#[tokio::test]
async fn without_the_switch_there_is_no_api_key_page_link() -> Result<()> {
    require_dist()?;
    let server = TestServer::start().await;
    server.signup("Ann", "ann@example.com", PASSWORD).await;
    let browser = Browser::start(&server.url).await?;
    browser.sign_in("ann@example.com", PASSWORD).await?;
    browser
        .wait_for_text("#user-email", "ann@example.com")
        .await?;
    ensure!(
        !browser.exists("#nav-api-key").await?,
        "API key link shown while keys are off"
    );
    browser.goto("/api-key").await?;
    browser.click("#create-api-key").await?;
    browser
        .wait_for_text("#error", "API key not allowed")
        .await?;
    browser.close().await.context("closing the browser")
}
