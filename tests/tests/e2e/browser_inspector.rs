//! The admin's token inspector in headless Chromium: a refused token lists
//! the failed checks, a good one is accepted; non-admins have no such page.
use crate::support::PASSWORD;
use anyhow::{ensure, Context, Result};
use serde_json::json;
use tessera_tests::browser::{require_dist, Browser};
use tessera_tests::keyserver::{now, KeyServer, KeyType, TestKey};
use tessera_tests::server::TestServer;

/// The failed checks the page lists, by name.
async fn failed_checks(browser: &Browser) -> Result<Vec<String>> {
    let names = browser
        .execute(
            "return [...document.querySelectorAll('[data-test=check][data-ok=false]')].map(r => r.dataset.check)",
            vec![],
        )
        .await?;
    serde_json::from_value(names).context("check names")
}

#[tokio::test]
async fn inspector_explains_a_refusal_and_accepts_a_good_token() -> Result<()> {
    require_dist()?;
    let key = TestKey::generate(KeyType::Rsa, "kc-1");
    let idp = KeyServer::start(&[&key]).await;
    let server = TestServer::builder()
        .toml(&format!(
            "[[issuers]]\nname = \"kc\"\nissuer = \"https://kc.test\"\naudiences = [\"app\"]\njwks_url = \"{}\"\n",
            idp.jwks_url()
        ))
        .start()
        .await;
    server.signup("Ann", "ann@example.com", PASSWORD).await;
    let browser = Browser::start(&server.url).await?;
    browser.sign_in("ann@example.com", PASSWORD).await?;
    browser.click("#nav-inspector").await?;
    browser.wait_for_path("/inspector").await?;

    let claims = |aud: &str, exp: i64| json!({"iss": "https://kc.test", "sub": "ivy", "aud": aud, "exp": exp, "iat": now()});
    let refused = key.sign(json!({}), &claims("other-app", now() - 3600));
    browser.fill("#inspect-token", &refused).await?;
    browser.click("#inspect-submit").await?;
    browser.wait_for_text("#inspect-verdict", "Refused").await?;
    browser.wait_for_text("#inspect-issuer", "kc").await?;
    let failed = failed_checks(&browser).await?;
    ensure!(failed == ["aud", "exp"], "failed checks listed: {failed:?}");
    browser
        .wait_for_text("#inspect-claims", "\"sub\": \"ivy\"")
        .await?;
    let signature = refused.rsplit('.').next().unwrap_or_default();
    let page = browser.text("#inspect-report").await?;
    ensure!(!page.contains(signature), "the signature is never shown");

    let good = key.sign(json!({}), &claims("app", now() + 600));
    browser.fill("#inspect-token", &good).await?;
    browser.click("#inspect-submit").await?;
    browser
        .wait_for_text("#inspect-verdict", "Accepted")
        .await?;
    ensure!(
        failed_checks(&browser).await?.is_empty(),
        "no failed check for a good token"
    );

    browser.fill("#inspect-token", "not.a.jwt").await?;
    browser.click("#inspect-submit").await?;
    browser.wait_for_text("#inspect-verdict", "Refused").await?;
    ensure!(
        failed_checks(&browser).await? == ["parse"],
        "garbage fails the parse"
    );
    browser.close().await.context("closing the browser")
}

#[tokio::test]
async fn non_admins_have_no_inspector() -> Result<()> {
    require_dist()?;
    let server = TestServer::builder()
        .toml("[signup]\ndefault_role = \"user\"")
        .start()
        .await;
    server.signup("Ann", "ann@example.com", PASSWORD).await;
    server.signup("Bob", "bob@example.com", PASSWORD).await;
    let browser = Browser::start(&server.url).await?;
    browser.sign_in("bob@example.com", PASSWORD).await?;
    ensure!(
        !browser.exists("#nav-inspector").await?,
        "a user sees the inspector link"
    );
    browser.goto("/inspector").await?;
    browser.wait_for_text("#error", "Only admins").await?;
    ensure!(
        !browser.exists("#inspect-token").await?,
        "a user gets the form"
    );
    browser.close().await.context("closing the browser")
}
