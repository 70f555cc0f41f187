//! The HTTP edge (security review, issue 15): a request path that can name
//! no file is a page like any other and logs nothing; a request that changes
//! state through the API must be JSON, body or not; the names Tessera keeps
//! for itself cannot be given to an SSO provider at runtime.
use anyhow::{ensure, Result};
use tessera_tests::browser::require_dist;
use tessera_tests::server::{client, TestServer};

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
