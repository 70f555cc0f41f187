//! The SPA in headless Chromium against the real server: sign-up, sign-in,
//! reload, sign-out, ended sessions and the admin's user list.
use crate::support::PASSWORD;
use anyhow::{ensure, Context, Result};
use serde_json::Value;
use tessera_shared::routes;
use tessera_tests::browser::{require_dist, Browser, STORAGE_KEY};
use tessera_tests::server::TestServer;

/// A fresh server and a browser pointed at it.
async fn start(server: TestServer) -> Result<(TestServer, Browser)> {
    require_dist()?;
    let browser = Browser::start(&server.url).await?;
    Ok((server, browser))
}

fn token_of(user: &Value) -> Result<&str> {
    user["token"].as_str().context("session user without token")
}

#[tokio::test]
async fn first_signup_becomes_admin() -> Result<()> {
    let (server, browser) = start(TestServer::start().await).await?;

    browser.goto("/").await?;
    browser.wait_for_path("/login").await?;
    browser
        .wait_for_text("#first-user-hint", "administrator")
        .await?;
    browser.click("#signup-link").await?;
    browser.wait_for_path("/signup").await?;
    browser
        .wait_for_text("#first-user-hint", "first account")
        .await?;

    browser.fill("#name", "Ada Admin").await?;
    browser.fill("#email", "ada@example.com").await?;
    browser.fill("#password", PASSWORD).await?;
    browser.click("#signup-submit").await?;

    browser.wait_for_path("/dashboard").await?;
    browser.wait_for_text("#user-name", "Ada Admin").await?;
    browser
        .wait_for_text("#user-email", "ada@example.com")
        .await?;
    browser.wait_for_text("#user-role", "admin").await?;
    browser.wait_for_text("#token-expiry", "never").await?;
    browser.wait_for_text("#nav-users", "Users").await?;
    ensure!(
        !browser.exists("#pending-notice").await?,
        "an admin must not see the approval notice"
    );

    let token = browser.stored_token().await?;
    let (status, me) = server.get(routes::SESSION, Some(&token)).await;
    ensure!(status == 200, "stored token rejected: {status}");
    ensure!(me["role"] == "admin", "server says {me}");
    browser.close().await
}

#[tokio::test]
async fn sign_in_shows_errors_then_the_dashboard() -> Result<()> {
    let (server, browser) = start(TestServer::start().await).await?;
    server.signup("Ada", "ada@example.com", PASSWORD).await;

    browser.goto("/login").await?;
    browser.fill("#email", "ada@example.com").await?;
    browser.fill("#password", "wrong password").await?;
    browser.click("#signin-submit").await?;
    browser
        .wait_for_text("#error", "Invalid credentials")
        .await?;
    ensure!(browser.path().await? == "/login");
    ensure!(
        browser.is_enabled("#signin-submit").await?,
        "the button is enabled again after the request"
    );

    browser.fill("#password", PASSWORD).await?;
    browser.click("#signin-submit").await?;
    browser.wait_for_path("/dashboard").await?;
    browser.wait_for_text("#user-name", "Ada").await?;
    browser.wait_for_text("#user-role", "admin").await?;
    browser.close().await
}

#[tokio::test]
async fn protected_pages_redirect_to_sign_in() -> Result<()> {
    let (_server, browser) = start(TestServer::start().await).await?;
    browser.goto("/dashboard").await?;
    browser.wait_for_path("/login").await?;
    browser.find("#signin-submit").await?;
    browser.goto("/users").await?;
    browser.wait_for_path("/login").await?;
    browser.close().await
}

#[tokio::test]
async fn reload_stays_signed_in() -> Result<()> {
    let (server, browser) = start(TestServer::start().await).await?;
    server.signup("Ada", "ada@example.com", PASSWORD).await;
    browser.sign_in("ada@example.com", PASSWORD).await?;

    browser.reload().await?;
    browser
        .wait_for_text("#user-email", "ada@example.com")
        .await?;
    ensure!(browser.path().await? == "/dashboard");

    browser.goto("/users").await?;
    browser.wait_for_text("#users", "ada@example.com").await?;
    ensure!(browser.path().await? == "/users");
    browser.close().await
}

#[tokio::test]
async fn sign_out_revokes_the_token_and_returns_to_sign_in() -> Result<()> {
    let (server, browser) = start(TestServer::start().await).await?;
    server.signup("Ada", "ada@example.com", PASSWORD).await;
    browser.sign_in("ada@example.com", PASSWORD).await?;
    let token = browser.stored_token().await?;

    browser.click("#signout").await?;
    browser.wait_for_path("/login").await?;
    browser.wait_for_text("#notice", "signed out").await?;
    ensure!(
        browser.local_storage(STORAGE_KEY).await?.is_none(),
        "the stored user is gone"
    );
    let (status, _) = server.get(routes::SESSION, Some(&token)).await;
    ensure!(
        status == 401,
        "the token still works after sign-out: {status}"
    );

    browser.goto("/dashboard").await?;
    browser.wait_for_path("/login").await?;
    browser.close().await
}

#[tokio::test]
async fn revoked_token_on_reload_returns_to_sign_in() -> Result<()> {
    let (server, browser) = start(TestServer::start().await).await?;
    server.signup("Ada", "ada@example.com", PASSWORD).await;
    browser.sign_in("ada@example.com", PASSWORD).await?;
    let token = browser.stored_token().await?;

    let (status, _) = server.get(routes::SIGNOUT, Some(&token)).await;
    ensure!(status == 200, "sign-out over the API failed: {status}");
    browser.reload().await?;

    browser.wait_for_path("/login").await?;
    browser
        .wait_for_text("#notice", "Your session has ended")
        .await?;
    ensure!(browser.local_storage(STORAGE_KEY).await?.is_none());
    browser.close().await
}

#[tokio::test]
async fn a_401_on_any_call_ends_the_session() -> Result<()> {
    let (server, browser) = start(TestServer::start().await).await?;
    server.signup("Ada", "ada@example.com", PASSWORD).await;
    browser.sign_in("ada@example.com", PASSWORD).await?;
    let token = browser.stored_token().await?;

    let (status, _) = server.get(routes::SIGNOUT, Some(&token)).await;
    ensure!(status == 200, "sign-out over the API failed: {status}");
    // Client-side navigation: the user list request is the first to meet the 401.
    browser.click("#nav-users").await?;

    browser.wait_for_path("/login").await?;
    browser
        .wait_for_text("#notice", "Your session has ended")
        .await?;
    browser.close().await
}

#[tokio::test]
async fn pending_user_waits_and_admin_approves() -> Result<()> {
    let (server, browser) = start(TestServer::start().await).await?;
    let admin = server.signup("Ada", "ada@example.com", PASSWORD).await;
    let bob = server.signup("Bob", "bob@example.com", PASSWORD).await;
    ensure!(
        bob["role"] == "pending",
        "second account is {}",
        bob["role"]
    );

    browser.sign_in("bob@example.com", PASSWORD).await?;
    browser.wait_for_text("#user-role", "pending").await?;
    browser
        .wait_for_text("#pending-notice", "awaits approval by an admin")
        .await?;
    ensure!(
        !browser.exists("#nav-users").await?,
        "a pending user sees no Users link"
    );
    browser.click("#signout").await?;
    browser.wait_for_path("/login").await?;

    browser.sign_in("ada@example.com", PASSWORD).await?;
    browser.click("#nav-users").await?;
    browser.wait_for_path("/users").await?;
    browser.wait_for_text("#users", "bob@example.com").await?;
    let select = r#"select[data-user="bob@example.com"]"#;
    browser.select(select, "user").await?;
    browser
        .wait_for_text("#role-status", "Bob's role is now user")
        .await?;

    let (status, users) = server.get(routes::USERS, Some(token_of(&admin)?)).await;
    ensure!(status == 200, "listing users failed: {status}");
    let role = users
        .as_array()
        .and_then(|list| list.iter().find(|u| u["email"] == "bob@example.com"))
        .map(|u| u["role"].clone());
    ensure!(
        role == Some("user".into()),
        "Bob's role on the server: {role:?}"
    );
    browser.close().await
}

#[tokio::test]
async fn expiring_token_shows_date_and_countdown() -> Result<()> {
    let server = TestServer::builder()
        .env("TESSERA_SESSION_EXPIRES_IN", "1h")
        .start()
        .await;
    let (server, browser) = start(server).await?;
    server.signup("Ada", "ada@example.com", PASSWORD).await;
    browser.sign_in("ada@example.com", PASSWORD).await?;

    let first = browser.wait_for_text("#token-expiry", "in ").await?;
    ensure!(!first.contains("never"), "expiry shows {first:?}");
    ensure!(
        first.contains("59m") || first.contains("1h"),
        "about an hour left: {first:?}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let later = browser.text("#token-expiry").await?;
    ensure!(later != first, "the countdown does not move: {later:?}");
    browser.close().await
}

#[tokio::test]
async fn an_admin_signs_a_user_out_everywhere_from_the_users_page() -> Result<()> {
    let (server, browser) = start(TestServer::start().await).await?;
    server.signup("Ada", "ada@example.com", PASSWORD).await;
    let bob = server.signup("Bob", "bob@example.com", PASSWORD).await;
    let bob_token = token_of(&bob)?.to_owned();
    ensure!(server.get(routes::SESSION, Some(&bob_token)).await.0 == 200);

    browser.sign_in("ada@example.com", PASSWORD).await?;
    browser.click("#nav-users").await?;
    browser.wait_for_text("#users", "bob@example.com").await?;
    let row = r#"tr[data-user="bob@example.com"]"#;
    browser
        .click(&format!(r#"{row} [data-test="signout-user"]"#))
        .await?;
    // it asks first, naming the account
    browser
        .wait_for_text(&format!("{row} .confirm"), "End every session of Bob?")
        .await?;
    if let Ok(dir) = std::env::var("TESSERA_SCREENSHOTS") {
        browser
            .screenshot(format!("{dir}/users-confirm.png"))
            .await?;
    }
    ensure!(
        server.get(routes::SESSION, Some(&bob_token)).await.0 == 200,
        "signed out before the confirmation"
    );
    browser
        .click(&format!(r#"{row} [data-test="signout-user-confirm"]"#))
        .await?;
    browser
        .wait_for_text("#signout-status", "Bob was signed out everywhere")
        .await?;
    if let Ok(dir) = std::env::var("TESSERA_SCREENSHOTS") {
        browser
            .screenshot(format!("{dir}/users-signed-out.png"))
            .await?;
    }
    let (status, _) = server.get(routes::SESSION, Some(&bob_token)).await;
    ensure!(status == 401, "Bob's session still works: {status}");
    ensure!(
        !browser
            .exists(r#"tr[data-user="ada@example.com"] [data-test="signout-user"]"#)
            .await?,
        "the admin's own row offers no sign-out"
    );
    browser.close().await
}
