//! SSO sign-in (issue #7) in headless Chromium: from the sign-in page's
//! provider button through the real OpenID provider's login and consent
//! pages to the dashboard; refusals shown on the sign-in page; `form_post`
//! across sites; the backup password form; Stay signed in through the
//! provider; a logout at the provider reaching the open SPA.
use crate::api_oidc::{alice, sso_from, LABEL, ROOT_EMAIL};
use crate::support::PASSWORD;
use anyhow::{bail, ensure, Context, Result};
use fantoccini::Locator;
use serde_json::Value;
use std::time::{Duration, Instant};
use tessera_shared::routes;
use tessera_tests::browser::{require_dist, Browser, STORAGE_KEY, WAIT};
use tessera_tests::oidc::{Account, ProviderSpec};
use tessera_tests::server::TestServer;

/// Clicks the `a` or `button` whose text contains `label`.
async fn click_provider_button(browser: &Browser, label: &str) -> Result<()> {
    let xpath = format!("//a[contains(normalize-space(.), '{label}')] | //button[contains(normalize-space(.), '{label}')]");
    let deadline = Instant::now() + WAIT;
    loop {
        let found = browser.client().find_all(Locator::XPath(&xpath)).await?;
        if let Some(button) = found.into_iter().next() {
            return button.click().await.context("clicking the provider button");
        }
        if Instant::now() > deadline {
            bail!("no sign-in button labelled {label:?} within {WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// On the provider's pages: signs in and consents.
async fn provider_login(browser: &Browser, login: &str, password: &str) -> Result<()> {
    browser.fill("#login", login).await?;
    browser.fill("#password", password).await?;
    browser.click("#submit").await?;
    browser.click("#confirm").await
}

async fn current_url(browser: &Browser) -> Result<String> {
    Ok(browser.client().current_url().await?.to_string())
}

/// Waits until the SPA's sign-in page (`/signin` or its alias `/login`) shows.
async fn wait_for_signin_page(browser: &Browser) -> Result<()> {
    let deadline = Instant::now() + WAIT;
    loop {
        let path = browser.path().await?;
        if path == "/signin" || path == "/login" {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("expected the sign-in page, at {path}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn start(
    spec: ProviderSpec,
    accounts: Vec<Account>,
    extra: &str,
    server_toml: &str,
) -> Result<(tessera_tests::oidc::OidcProvider, TestServer, Browser)> {
    require_dist()?;
    // the provider on another site (localhost) than Tessera (127.0.0.1)
    let (provider, server) =
        sso_from(spec.on_localhost(), accounts, |c| c, extra, server_toml).await;
    let browser = Browser::start(&server.url).await?;
    Ok((provider, server, browser))
}

#[tokio::test]
async fn from_the_sign_in_button_to_the_dashboard() -> Result<()> {
    let (_provider, server, browser) = start(ProviderSpec::new(), vec![alice()], "", "").await?;
    server.signup("Root", ROOT_EMAIL, PASSWORD).await;

    browser.goto("/signin").await?;
    click_provider_button(&browser, LABEL).await?;
    provider_login(&browser, "alice-sub", "alice-password").await?;
    browser.wait_for_path("/dashboard").await?;
    browser
        .wait_for_text("#user-email", "alice@example.com")
        .await?;
    let url = current_url(&browser).await?;
    assert!(
        !url.contains("code="),
        "the one-time code stayed in the URL: {url}"
    );

    let stored = browser
        .local_storage(STORAGE_KEY)
        .await?
        .context("no stored user")?;
    let user: Value = serde_json::from_str(&stored)?;
    let token = user["token"].as_str().context("no token")?;
    let (status, me) = server.get(routes::SESSION, Some(token)).await;
    assert_eq!(status, 200);
    assert_eq!(me["email"], "alice@example.com");

    browser.reload().await?;
    browser
        .wait_for_text("#user-email", "alice@example.com")
        .await?;
    browser.close().await
}

#[tokio::test]
async fn a_refusal_shows_its_reason_on_the_sign_in_page() -> Result<()> {
    let carl = Account::new("carl", "pw-carl")
        .email("carl@example.com", true)
        .groups(&["untrusted"]);
    let (_provider, server, browser) = start(
        ProviderSpec::new(),
        vec![carl],
        "groups_claim = \"groups\"\nuser_groups = [\"trusted\"]",
        "",
    )
    .await?;
    server.signup("Root", ROOT_EMAIL, PASSWORD).await;

    browser.goto("/signin").await?;
    click_provider_button(&browser, LABEL).await?;
    provider_login(&browser, "carl", "pw-carl").await?;
    wait_for_signin_page(&browser).await?;
    browser
        .wait_for_text("[role=alert]", "Access prohibited")
        .await?;
    let url = current_url(&browser).await?;
    assert!(
        !url.contains("error="),
        "the reason stayed in the URL: {url}"
    );
    assert!(browser.local_storage(STORAGE_KEY).await?.is_none());
    browser.close().await
}

#[tokio::test]
async fn form_post_across_sites() -> Result<()> {
    let (_provider, server, browser) = start(
        ProviderSpec::new(),
        vec![alice()],
        "response_mode = \"form_post\"",
        "",
    )
    .await?;
    server.signup("Root", ROOT_EMAIL, PASSWORD).await;

    browser.goto("/signin").await?;
    click_provider_button(&browser, LABEL).await?;
    provider_login(&browser, "alice-sub", "alice-password").await?;
    browser.wait_for_path("/dashboard").await?;
    browser
        .wait_for_text("#user-email", "alice@example.com")
        .await?;
    browser.close().await
}

#[tokio::test]
async fn backup_login_when_password_sign_in_is_off() -> Result<()> {
    let (_provider, _server, browser) = start(
        ProviderSpec::new(),
        vec![alice()],
        "",
        &format!("[password]\nsignin_enabled = false\n\n[admin]\nemail = \"{ROOT_EMAIL}\"\npassword = \"{PASSWORD}\"\n"),
    )
    .await?;

    // the sign-in page offers the provider, not the password form
    browser.goto("/signin").await?;
    let xpath = format!("//a[contains(., '{LABEL}')] | //button[contains(., '{LABEL}')]");
    let deadline = Instant::now() + WAIT;
    while browser
        .client()
        .find_all(Locator::XPath(&xpath))
        .await?
        .is_empty()
    {
        if Instant::now() > deadline {
            bail!("no provider button");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !browser.exists("#password").await?,
        "the password form is offered though disabled"
    );

    // the backup form signs the bootstrap admin in
    browser.goto("/login?backup=1").await?;
    browser.fill("#email", ROOT_EMAIL).await?;
    browser.fill("#password", PASSWORD).await?;
    browser.click("#signin-submit").await?;
    browser.wait_for_path("/dashboard").await?;
    browser.wait_for_text("#user-email", ROOT_EMAIL).await?;
    browser.close().await
}

#[tokio::test]
async fn stay_signed_in_goes_back_to_the_provider_in_a_popup() -> Result<()> {
    // the banner shows 15 s after sign-in, and 15 s after the renewal
    let (_provider, server, browser) = start(
        ProviderSpec::new(),
        vec![alice()],
        "",
        "[session]\nexpires_in = \"60s\"\n\n[ui]\nexpiry_warning = \"45s\"\n",
    )
    .await?;
    server.signup("Root", ROOT_EMAIL, PASSWORD).await;
    browser.goto("/signin").await?;
    click_provider_button(&browser, LABEL).await?;
    provider_login(&browser, "alice-sub", "alice-password").await?;
    browser
        .wait_for_text("#user-email", "alice@example.com")
        .await?;
    let first = browser.stored_token().await?;
    let main = browser.client().window().await?;
    let deadline = Instant::now() + Duration::from_secs(25);
    while !browser.exists("#expiry-banner").await? {
        if Instant::now() > deadline {
            bail!("no expiry banner");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    browser.click("#stay-signed-in").await?;
    // the popup goes to the provider; whatever it asks (sign-in, consent,
    // nothing when its own session is still on) is answered until it closes
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut opened = false;
    loop {
        let windows = browser.client().windows().await?;
        match windows.into_iter().find(|w| *w != main) {
            None if opened => break,
            None => {}
            Some(popup) => {
                opened = true;
                // the popup may close between any two of these steps
                if browser.client().switch_to_window(popup).await.is_ok() {
                    if browser.exists("#login").await.unwrap_or(false) {
                        let _ = provider_login(&browser, "alice-sub", "alice-password").await;
                    } else if browser.exists("#confirm").await.unwrap_or(false) {
                        let _ = browser.click("#confirm").await;
                    }
                }
            }
        }
        if Instant::now() > deadline {
            bail!("the popup did not sign in and close (opened: {opened})");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    browser.client().switch_to_window(main).await?;
    ensure!(browser.stored_token().await? != first, "no new token");
    ensure!(browser.path().await? == "/dashboard", "the page navigated");
    ensure!(
        !browser.exists("#expiry-banner").await?,
        "the banner stays after the renewal"
    );
    browser.close().await
}

#[tokio::test]
async fn a_logout_at_the_provider_sends_the_open_spa_to_sign_in() -> Result<()> {
    use crate::api_oidc::{
        callback, provider_toml, reserve_url, tessera_at, CLIENT_ID, IDP, SECRET,
    };
    use tessera_tests::oidc::{ClientSpec, OidcProvider};
    require_dist()?;
    let url = reserve_url();
    let spec = ProviderSpec::new().on_localhost().account(alice()).client(
        ClientSpec::new(CLIENT_ID, SECRET)
            .redirect_uri(&callback(&url, IDP))
            .backchannel_logout_uri(&format!("{url}/oauth/{IDP}/backchannel-logout")),
    );
    let provider = OidcProvider::start(spec).await;
    let toml = format!(
        "{}\n[ui]\nsession_check_interval = \"2s\"\n",
        provider_toml(IDP, LABEL, &provider.discovery_url(), CLIENT_ID, "")
    );
    let server = tessera_at(&url, &toml).await;
    server.signup("Root", ROOT_EMAIL, PASSWORD).await;
    let browser = Browser::start(&server.url).await?;
    browser.goto("/signin").await?;
    click_provider_button(&browser, LABEL).await?;
    provider_login(&browser, "alice-sub", "alice-password").await?;
    browser
        .wait_for_text("#user-email", "alice@example.com")
        .await?;
    let token = browser.stored_token().await?;
    let spa = browser.client().window().await?;

    // in another tab of the same browser, the person signs out at the provider
    let end_session = provider.discovery().await["end_session_endpoint"]
        .as_str()
        .context("end_session_endpoint")?
        .to_owned();
    let tab = browser.client().new_window(true).await?;
    browser.client().switch_to_window(tab.handle).await?;
    browser.goto(&end_session).await?;
    browser.click("#confirm-logout").await?;
    let deadline = Instant::now() + WAIT;
    while !browser.exists("#signed-out").await? {
        ensure!(
            Instant::now() < deadline,
            "no signed-out page at the provider"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logged_out = Instant::now();
    browser.client().close_window().await?;
    browser.client().switch_to_window(spa).await?;

    // the open SPA finds its session ended at its next check (every 2 s)
    wait_for_signin_page(&browser).await?;
    println!(
        "open SPA on the sign-in page {:?} after the provider's logout",
        logged_out.elapsed()
    );
    let (status, _) = server.get(routes::SESSION, Some(&token)).await;
    assert_eq!(status, 401, "{}", provider.log());
    ensure!(
        browser.local_storage(STORAGE_KEY).await?.is_none(),
        "the ended session is still stored"
    );
    browser.close().await
}

#[tokio::test]
async fn the_provider_form_turns_signing_out_at_the_provider_off() -> Result<()> {
    let (_provider, server, browser) = start(ProviderSpec::new(), vec![alice()], "", "").await?;
    let root = server.signup("Root", ROOT_EMAIL, PASSWORD).await;
    let token = root["token"].as_str().context("token")?;
    browser.sign_in(ROOT_EMAIL, PASSWORD).await?;
    browser.goto("/settings/security").await?;
    browser.click("[data-test=edit-provider]").await?;
    browser.find("#oidc-rp-logout").await?;
    let on: Value = browser
        .execute(
            "return document.getElementById('oidc-rp-logout').checked",
            vec![],
        )
        .await?;
    ensure!(on == Value::Bool(true), "rp_logout is on by default");
    browser.click("#oidc-rp-logout").await?;
    browser.click("#oidc-save").await?;
    browser.wait_for_text("#oidc-status", "").await?;
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, list) = server
            .get("/api/v1/admin/oidc_providers", Some(token))
            .await;
        assert_eq!(status, 200, "{list}");
        if list[0]["rp_logout"] == Value::Bool(false) {
            break;
        }
        ensure!(Instant::now() < deadline, "not saved: {list}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser.close().await
}
