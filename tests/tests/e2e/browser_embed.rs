//! Tessera's dashboard in another site's frame, signed in by embed tickets:
//! a portal on a second loopback origin whose own back end mints tickets
//! with an API key holding the `embed` permission, and hands them to the
//! frame by `postMessage` or in the URL fragment. The frame shows the data
//! its ticket reaches; once the embed session expires it shows nothing of
//! it and asks the portal, and a new ticket brings it back; a used ticket
//! fails elsewhere; no ticket or token reaches a URL, a log or a `Referer`.
use crate::api_injection::Idp;
use crate::browser_live::{screenshot, until};
use crate::support::{token, PW};
use anyhow::{ensure, Context, Result};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{Html, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tessera_shared::routes;
use tessera_tests::browser::{require_dist, Browser};
use tessera_tests::server::{client, send, TestServer};

/// The portal's side: its back end's API key, the tickets it minted, and
/// every request it received (path and query, `Referer`).
struct Portal {
    origin: String,
    tessera: String,
    key: String,
    session_seconds: AtomicU64,
    tickets: Mutex<Vec<String>>,
    requests: Mutex<Vec<(String, Option<String>)>>,
}

impl Portal {
    /// `POST /api/v1/embed/tickets` with the portal's key: the groups, read only.
    async fn mint(&self) -> String {
        let body = json!({
            "origin": self.origin, "paths": ["/api/v1/groups/*"], "scopes": ["read"],
            "params": {"tenant": "acme"},
            "session_seconds": self.session_seconds.load(Ordering::Relaxed),
        });
        let res = client()
            .post(format!("{}{}", self.tessera, routes::EMBED_TICKETS))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .expect("minting a ticket");
        let answer: Value = res.json().await.expect("a JSON answer");
        let ticket = answer["ticket"].as_str().expect("a ticket").to_owned();
        self.tickets.lock().unwrap().push(ticket.clone());
        ticket
    }

    fn tickets(&self) -> Vec<String> {
        self.tickets.lock().unwrap().clone()
    }
}

/// The portal page: frames the dashboard (`#ticket=` in the frame's URL
/// when `fragment` is given); answers the frame's `tessera:token-request`
/// with a fresh ticket by `postMessage` while `window.answer` (not with
/// `?quiet`), counting requests in `window.requests`.
fn page(portal: &Portal, fragment: Option<&str>) -> Html<String> {
    let spa = &portal.tessera;
    let src = match fragment {
        Some(ticket) => format!("{spa}/dashboard?embed=1#ticket={ticket}"),
        None => format!("{spa}/dashboard?embed=1"),
    };
    Html(format!(
        r#"<!doctype html><title>Portal</title>
<h1 style="font:16px sans-serif">Portal</h1>
<iframe id="tessera" src="{src}" width="1000" height="760"></iframe>
<script>
const spa = "{spa}";
window.answer = !location.search.includes("quiet");
window.requests = 0;
window.sendTicket = async () => {{
  const r = await fetch("/ticket", {{ method: "POST" }});
  const {{ ticket }} = await r.json();
  frames[0].postMessage({{ type: "tessera:ticket", ticket }}, spa);
}};
addEventListener("message", (e) => {{
  if (e.origin === spa && e.data && e.data.type === "tessera:token-request") {{
    window.requests += 1;
    if (window.answer) window.sendTicket();
  }}
}});
</script>"#
    ))
}

async fn record(State(portal): State<Arc<Portal>>, req: Request, next: Next) -> Response {
    let referer = req
        .headers()
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let uri = req.uri().to_string();
    portal.requests.lock().unwrap().push((uri, referer));
    next.run(req).await
}

/// Serves the portal on `listener`.
fn serve(listener: tokio::net::TcpListener, portal: Arc<Portal>) -> tokio::task::JoinHandle<()> {
    let app = Router::new()
        .route(
            "/portal",
            get(|State(p): State<Arc<Portal>>| async move { page(&p, None) }),
        )
        .route(
            "/portal-fragment",
            get(|State(p): State<Arc<Portal>>| async move {
                let ticket = p.mint().await;
                page(&p, Some(&ticket))
            }),
        )
        // another browser, framing the last ticket the portal handed out
        .route(
            "/portal-copied",
            get(|State(p): State<Arc<Portal>>| async move {
                let used = p.tickets().last().cloned().unwrap_or_default();
                page(&p, Some(&used))
            }),
        )
        .route(
            "/ticket",
            post(|State(p): State<Arc<Portal>>| async move {
                Json(json!({ "ticket": p.mint().await }))
            }),
        )
        .route(
            "/landing",
            get(|| async { Html("<h1 id=landing>Portal page</h1>") }),
        )
        .layer(middleware::from_fn_with_state(portal.clone(), record))
        .with_state(portal);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}

/// `js` run in the current frame; its value.
async fn run(browser: &Browser, js: &str) -> Result<Value> {
    browser.execute(js, vec![]).await
}

/// The URLs of the current frame: its address and every request it made
/// (without fragments, which requests do not carry: the portal's page puts
/// a ticket in its frame's, and reading it here would put it in the
/// WebDriver log that is checked below).
async fn urls(browser: &Browser) -> Result<String> {
    let v = run(
        browser,
        "return [location.href, ...performance.getEntriesByType('resource').map(e => e.name.split('#')[0])].join(' ');",
    )
    .await?;
    Ok(v.as_str().unwrap_or_default().to_owned())
}

/// Whether `text` holds none of `secrets`.
fn clean(text: &str, secrets: &[String]) -> bool {
    secrets.iter().all(|s| !text.contains(s.as_str()))
}

/// Tessera allowing the portal's origin (another port on 127.0.0.1), with
/// groups to show; the portal's back end, whose account holds the `embed`
/// permission and an API key.
async fn start() -> Result<(TestServer, Arc<Portal>, tokio::task::JoinHandle<()>)> {
    // the portal's origin: another port on 127.0.0.1
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let origin = format!("http://{}", listener.local_addr()?);
    let idp = Idp::start().await;
    let server = TestServer::builder()
        .toml(&idp.toml())
        .toml(&format!(
            "[embed]\nallowed_origins = [\"{origin}\"]\n[api_keys]\nenabled = true\n"
        ))
        .env("TESSERA_SERVER_LOG_REQUESTS", "true")
        .start()
        .await;
    // the portal's account: a user with the embed permission and an API key
    let admin = server.signup("Ann", "ann@example.com", PW).await;
    let bob = server.signup("Bob", "bob@example.com", PW).await;
    let admin = token(&admin);
    let bob_id = bob["id"].as_str().context("bob's id")?;
    let promote = json!({"id": bob_id, "role": "user"});
    let (status, _) = server
        .post(routes::UPDATE_ROLE, Some(admin), &promote)
        .await;
    ensure!(status == 200);
    let permissions = client()
        .put(server.at(&format!("/api/v1/users/{bob_id}/permissions")))
        .bearer_auth(admin)
        .json(&json!({"api_keys": true, "embed": true}))
        .send()
        .await?;
    ensure!(permissions.status() == 200);
    // a group to show: created when the IdP's token for alice (group staff) is first seen
    let alice = idp.token("alice", json!({"groups": ["staff", "sales"]}));
    assert_eq!(server.get(routes::SESSION, Some(&alice)).await.0, 200);
    let (status, key) = server
        .post(routes::API_KEY, Some(token(&bob)), &json!({}))
        .await;
    ensure!(status == 200, "{key}");
    let portal = Arc::new(Portal {
        origin: origin.clone(),
        tessera: server.url.clone(),
        key: key["api_key"].as_str().context("a key")?.to_owned(),
        session_seconds: AtomicU64::new(600),
        tickets: Mutex::new(Vec::new()),
        requests: Mutex::new(Vec::new()),
    });
    let task = serve(listener, portal.clone());
    Ok((server, portal, task))
}

#[tokio::test]
async fn an_embed_ticket_signs_the_framed_dashboard_in_to_its_data_only() -> Result<()> {
    require_dist()?;
    let (server, portal, _task) = start().await?;
    let origin = portal.origin.clone();
    let browser = Browser::start(&origin).await?;
    shows_its_data(&browser, &origin).await?;
    ends_and_comes_back(&browser, &portal).await?;
    is_single_use(&server, &portal).await?;
    by_fragment(&browser, &portal).await?;
    nothing_leaks(&browser, &server, &portal).await?;
    browser.close().await
}

/// By `postMessage`: the frame asks, the portal answers with a ticket; the
/// frame shows the groups and what its ticket allows, nothing else.
async fn shows_its_data(browser: &Browser, origin: &str) -> Result<()> {
    // postMessage: the frame asks, the portal answers with a ticket
    browser.goto("/portal").await?;
    browser.client().enter_frame(0).await?;
    browser.wait_for_text("#embed-groups", "staff (1)").await?;
    browser.wait_for_text("#embed-groups", "sales (1)").await?;
    browser
        .wait_for_text("#user-email", "bob@example.com")
        .await?;
    // what the ticket allows, in the claims card
    let claim = |name: &str| format!(r#"#embed-grant [data-claim="{name}"]"#);
    browser.wait_for_text(&claim("origin"), origin).await?;
    browser
        .wait_for_text(&claim("paths"), "/api/v1/groups/*")
        .await?;
    browser.wait_for_text(&claim("scopes"), "read").await?;
    browser.wait_for_text(&claim("params"), "acme").await?;
    ensure!(!browser.exists(".top-bar").await?, "embedded: no chrome");
    screenshot(browser, "embed-dashboard").await?;
    // the embed session's token reaches its ticket's paths only
    let status = run(
        browser,
        "const t = JSON.parse(localStorage.getItem('tessera.user')).token;\
         return fetch('/api/v1/users/', {headers: {Authorization: 'Bearer ' + t}}).then(r => r.status);",
    )
    .await?;
    ensure!(status == json!(403), "GET /api/v1/users/: {status}");
    browser.client().enter_parent_frame().await?;
    Ok(())
}

/// A short session is renewed by the portal; unanswered, it ends: the frame
/// shows none of its data and asks once more, without a loop; a new ticket
/// brings it back.
async fn ends_and_comes_back(browser: &Browser, portal: &Portal) -> Result<()> {
    // a short session: the frame asks before it ends and the portal answers
    portal.session_seconds.store(4, Ordering::Relaxed);
    run(browser, "window.sendTicket();").await?;
    tokio::time::sleep(Duration::from_secs(6)).await;
    browser.client().enter_frame(0).await?;
    ensure!(
        browser.exists("#embed-groups").await? && !browser.exists("#embed-waiting").await?,
        "renewed by the portal"
    );
    browser.client().enter_parent_frame().await?;

    // the portal stops answering: the session ends, the frame shows none of
    // its data and asks once more, then waits without asking in a loop
    let asked = run(browser, "window.answer = false; return window.requests;").await?;
    browser.client().enter_frame(0).await?;
    browser
        .wait_for_text("#embed-waiting", "session has ended")
        .await?;
    ensure!(
        !browser.exists("#embed-groups").await? && !browser.exists("#user-email").await?,
        "an ended session shows no data"
    );
    screenshot(browser, "embed-session-ended").await?;
    browser.client().enter_parent_frame().await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_end = run(browser, "return window.requests;").await?;
    ensure!(
        after_end.as_u64() > asked.as_u64(),
        "the frame asks the portal: {asked} then {after_end}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let later = run(browser, "return window.requests;").await?;
    ensure!(
        later == after_end,
        "no asking in a loop: {after_end} then {later}"
    );
    // a new ticket brings it back
    portal.session_seconds.store(600, Ordering::Relaxed);
    run(browser, "window.sendTicket();").await?;
    browser.client().enter_frame(0).await?;
    browser.wait_for_text("#embed-groups", "staff (1)").await?;
    ensure!(!browser.exists("#embed-waiting").await?);
    browser.client().enter_parent_frame().await?;
    Ok(())
}

/// The ticket just used fails when redeemed from elsewhere, and in another
/// browser's frame (which asks its portal once more, not in a loop).
async fn is_single_use(server: &TestServer, portal: &Portal) -> Result<()> {
    let origin = portal.origin.as_str();
    // the ticket just used, copied into another browser, fails: single use
    let used = portal.tickets().last().cloned().context("a ticket")?;
    let (status, body) = send(
        client()
            .post(server.at(routes::EMBED_REDEEM))
            .json(&json!({ "ticket": used })),
        None,
        &[("origin", origin)],
    )
    .await;
    ensure!(status == 401, "a replayed ticket: {status} {body}");
    let other = Browser::start(origin).await?;
    other.goto("/portal-copied?quiet").await?;
    other.client().enter_frame(0).await?;
    let refused = other
        .wait_for_text("#embed-waiting", "did not work")
        .await?;
    ensure!(refused.contains("already used"), "{refused}");
    ensure!(
        clean(&refused, std::slice::from_ref(&used)),
        "the message holds no ticket"
    );
    ensure!(!other.exists("#embed-groups").await?);
    other.client().enter_parent_frame().await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let requests = run(&other, "return window.requests;").await?;
    ensure!(
        requests == json!(1),
        "asked again once, not in a loop: {requests}"
    );
    screenshot(&other, "embed-ticket-refused").await?;
    other.close().await?;
    Ok(())
}

/// `#ticket=`: removed from the frame's address before any request; a page
/// the frame links to gets no `Referer`.
async fn by_fragment(browser: &Browser, portal: &Portal) -> Result<()> {
    let origin = &portal.origin;
    // the fragment: the ticket is in the frame's URL until the SPA removes it
    browser.goto("/portal-fragment").await?;
    browser.client().enter_frame(0).await?;
    browser.wait_for_text("#embed-groups", "staff (1)").await?;
    let frame_urls = urls(browser).await?;
    ensure!(frame_urls.contains("/dashboard?embed=1"), "{frame_urls}");
    ensure!(
        !frame_urls.contains("ticket") && clean(&frame_urls, &portal.tickets()),
        "no ticket in the frame's URL or requests: {frame_urls}"
    );
    // the browser sends no Referer to a page the frame links to (and the
    // page's CSP lets it fetch nothing from other origins)
    let landing = format!("{origin}/landing");
    browser
        .execute(
            "const a = document.createElement('a'); a.href = arguments[0] + '?by=link';\
             document.body.append(a); a.click(); return 0;",
            vec![json!(landing)],
        )
        .await?;
    browser.wait_for_text("#landing", "Portal page").await?;
    browser.client().enter_parent_frame().await?;
    let parent_urls = urls(browser).await?;
    ensure!(clean(&parent_urls, &portal.tickets()), "{parent_urls}");
    Ok(())
}

/// Nothing secret in a URL, a log or a `Referer`.
async fn nothing_leaks(browser: &Browser, server: &TestServer, portal: &Portal) -> Result<()> {
    // nothing secret in a URL, a log or a Referer: no ticket, and no JWT
    // (every token here is one: the embed sessions', the IdP's)
    let tickets = portal.tickets();
    ensure!(tickets.len() >= 5, "tickets minted: {}", tickets.len());
    let driver_log = browser.driver_log_all();
    ensure!(
        clean(&driver_log, &tickets),
        "a ticket in chromedriver's log"
    );
    ensure!(!driver_log.contains("eyJ"), "a JWT in chromedriver's log");
    let landed = || {
        let requests = portal.requests.lock().unwrap();
        let landed: Vec<_> = requests
            .iter()
            .filter(|(uri, _)| uri.starts_with("/landing"))
            .cloned()
            .collect();
        landed
    };
    until("the link's page", Duration::from_secs(5), || async {
        Ok(!landed().is_empty())
    })
    .await
    .with_context(|| format!("{:?}", portal.requests.lock().unwrap()))?;
    let landed = landed();
    ensure!(
        landed.iter().all(|(_, referer)| referer.is_none()),
        "no Referer: {landed:?}"
    );
    let log = server.log();
    ensure!(log.contains("/api/v1/embed/redeem"), "requests are logged");
    ensure!(clean(&log, &tickets), "a ticket in the server log");
    ensure!(!log.contains("eyJ"), "a JWT in the server log");
    let portal_seen = format!("{:?}", portal.requests.lock().unwrap());
    ensure!(clean(&portal_seen, &tickets) && !portal_seen.contains("eyJ"));
    Ok(())
}
