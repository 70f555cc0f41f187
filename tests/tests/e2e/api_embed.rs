//! Embed tickets over the real HTTP API: who may mint one, single use,
//! origin binding, the redeem window, and an embed session confined to its
//! ticket's paths and scopes until it expires.
use crate::support::{token, PW};
use serde_json::{json, Value};
use std::time::Duration;
use tessera_shared::routes;
use tessera_tests::server::{client, send, TestServer};

const PORTAL: &str = "https://portal.example.com";

/// Tickets wait 3 s to be redeemed, so the test of an unredeemed ticket
/// sleeps seconds, not a minute.
async fn server() -> TestServer {
    TestServer::builder()
        .toml(&format!(
            "[embed]\nallowed_origins = [\"{PORTAL}\"]\nticket_expires_in = 3\n[api_keys]\nenabled = true\n"
        ))
        .start()
        .await
}

async fn mint(server: &TestServer, bearer: &str, body: Value) -> (u16, Value) {
    server
        .post(routes::EMBED_TICKETS, Some(bearer), &body)
        .await
}

/// Mints a ticket (200 required) for `paths` with `scopes`.
async fn ticket(server: &TestServer, bearer: &str, paths: &[&str], scopes: &[&str]) -> String {
    let (status, body) = mint(
        server,
        bearer,
        json!({"origin": PORTAL, "paths": paths, "scopes": scopes,
               "params": {"tenant": "acme", "board": 7}, "session_seconds": 2}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 3);
    let t = body["ticket"].as_str().expect("a ticket").to_owned();
    assert!(t.starts_with("et_"), "{t}");
    t
}

async fn redeem(server: &TestServer, ticket: &str, origin: Option<&str>) -> (u16, Value) {
    let headers: Vec<(&str, &str)> = origin.map(|o| ("origin", o)).into_iter().collect();
    send(
        client()
            .post(server.at(routes::EMBED_REDEEM))
            .json(&json!({ "ticket": ticket })),
        None,
        &headers,
    )
    .await
}

/// A redeem from a page of Tessera's own origin (the dashboard in a frame)
/// naming `embedder`, the page that posted it the ticket.
async fn redeem_in_own_frame(server: &TestServer, ticket: &str, embedder: &str) -> (u16, Value) {
    let own = server.url.clone();
    send(
        client()
            .post(server.at(routes::EMBED_REDEEM))
            .json(&json!({ "ticket": ticket, "embedder": embedder })),
        None,
        &[("origin", own.as_str())],
    )
    .await
}

fn detail(body: &Value) -> &str {
    body["detail"].as_str().unwrap_or_default()
}

/// An embed session for `/api/v1/groups/*` and `/api/v1/users/*`, scope
/// read: the allowed GET works, everything else is 403.
async fn confined(server: &TestServer, session: &str) {
    let session = session.to_owned();
    // an allowed GET; everything else 403
    assert_eq!(server.get(routes::GROUPS, Some(&session)).await.0, 200);
    for path in [
        routes::USERS, // named by the ticket, but an admin endpoint
        routes::API_KEY,
        "/api/v1/admin/oidc_providers",
        "/api/v1/groups/../users/",
        "/api/v1/groupsX",
    ] {
        let (status, body) = server.get(path, Some(&session)).await;
        assert!(
            status == 403 || (status == 404 && path.contains("groupsX")),
            "GET {path}: {status} {body}"
        );
    }
    let (status, body) = server.get(routes::USERS, Some(&session)).await;
    assert_eq!(status, 403);
    assert!(detail(&body).starts_with("An embed session"), "{body}");
    for (path, body) in [
        (routes::UPDATE_ROLE, json!({"id": "x", "role": "admin"})),
        (routes::API_KEY, json!({})),
        (routes::TOKEN_EXCHANGE, json!({})),
        (
            routes::EMBED_TICKETS,
            json!({"origin": PORTAL, "paths": ["/api/v1/groups/*"]}),
        ),
    ] {
        let (status, answer) = server.post(path, Some(&session), &body).await;
        assert_eq!(status, 403, "POST {path}: {answer}");
    }
    // POST within its paths, scope read
    let (_, body) = server
        .post(
            routes::UPDATE_ROLE,
            Some(&session),
            &json!({"id": "x", "role": "admin"}),
        )
        .await;
    assert!(detail(&body).contains("only reading"), "{body}");
    // a page request with it opens nothing
    let res = client()
        .get(server.at("/"))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    let page = res.text().await.unwrap();
    assert!(!page.contains(&session), "the page never carries it");
    let block = crate::api_injection::data_block(&page).expect("a data block");
    assert!(block["token"].is_null(), "{block}");
    assert!(block["error"].is_string(), "refused: {block}");
}

#[tokio::test]
async fn embed_ticket_single_use_origin_bound_and_confined() {
    let server = server().await;
    let admin = server.signup("Ann", "ann@example.com", PW).await;
    let admin = token(&admin).to_owned();
    // minted now, never redeemed: dead by the end of the test
    let unredeemed = ticket(&server, &admin, &["/api/v1/groups/*"], &["read"]).await;

    // garbage, no Origin, wrong Origin (which uses the ticket up)
    for garbage in ["", "et_nope", "not-a-ticket", &"x".repeat(5000)] {
        let (status, body) = redeem(&server, garbage, Some(PORTAL)).await;
        assert_eq!(status, 401, "{garbage:.20}: {body}");
        assert!(detail(&body).starts_with("Embed ticket unknown"), "{body}");
    }
    let t = ticket(&server, &admin, &["/api/v1/groups/*"], &[]).await;
    let (status, body) = redeem(&server, &t, None).await;
    assert_eq!(status, 401, "{body}");
    assert!(detail(&body).contains("another origin"), "{body}");
    let t = ticket(&server, &admin, &["/api/v1/groups/*"], &[]).await;
    let (status, body) = redeem(&server, &t, Some("https://evil.example.com")).await;
    assert_eq!(status, 401, "{body}");
    assert!(detail(&body).contains("another origin"), "{body}");
    assert_eq!(redeem(&server, &t, Some(PORTAL)).await.0, 401, "used up");

    // Tessera's own page in a frame redeems naming its embedder: only the
    // ticket's origin; an embedder named by another origin counts for nothing
    let t = ticket(&server, &admin, &["/api/v1/groups/*"], &["read"]).await;
    let (status, body) = redeem_in_own_frame(&server, &t, "https://evil.example.com").await;
    assert_eq!(status, 401, "another embedder: {body}");
    let t = ticket(&server, &admin, &["/api/v1/groups/*"], &["read"]).await;
    let (status, body) = send(
        client()
            .post(server.at(routes::EMBED_REDEEM))
            .json(&json!({ "ticket": t, "embedder": PORTAL })),
        None,
        &[("origin", "https://evil.example.com")],
    )
    .await;
    assert_eq!(status, 401, "embedder from a foreign page: {body}");
    let t = ticket(&server, &admin, &["/api/v1/groups/*"], &["read"]).await;
    let (status, user) = redeem_in_own_frame(&server, &t, PORTAL).await;
    assert_eq!(status, 200, "own frame: {user}");
    assert_eq!(user["embed"]["origin"], PORTAL);

    // redeemed once, from its origin; a replay is refused
    let t = ticket(
        &server,
        &admin,
        &["/api/v1/groups/*", "/api/v1/users/*"],
        &["read"],
    )
    .await;
    let (status, user) = redeem(&server, &t, Some(PORTAL)).await;
    assert_eq!(status, 200, "{user}");
    let (status, body) = redeem(&server, &t, Some(PORTAL)).await;
    assert_eq!(status, 401, "replay: {body}");
    assert!(detail(&body).starts_with("Embed ticket unknown"));
    let session = token(&user).to_owned();
    assert_eq!(user["embed"]["scopes"], json!(["read"]));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let exp = user["expires_at"].as_i64().expect("it expires");
    assert!((now..=now + 3).contains(&exp), "{exp} vs {now}");

    // its own answer shows its scopes and locked parameters
    let (status, me) = server.get(routes::SESSION, Some(&session)).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["embed"]["origin"], PORTAL);
    assert_eq!(me["embed"]["scopes"], json!(["read"]));
    assert_eq!(me["embed"]["params"], json!({"tenant": "acme", "board": 7}));
    assert_eq!(me["embed"]["paths"][0], "/api/v1/groups/*");

    confined(&server, &session).await;

    // after session_seconds (2) and the redeem window (3): 401 everywhere
    tokio::time::sleep(Duration::from_millis(3500)).await;
    for path in [routes::GROUPS, routes::SESSION, routes::USERS] {
        assert_eq!(
            server.get(path, Some(&session)).await.0,
            401,
            "{path} after expiry"
        );
    }
    let (status, body) = redeem(&server, &unredeemed, Some(PORTAL)).await;
    assert_eq!(status, 401, "unredeemed past its window: {body}");
    assert!(detail(&body).starts_with("Embed ticket unknown"));
    assert!(
        !server.log().contains(&t) && !server.log().contains(&unredeemed),
        "tickets are never logged"
    );
}

#[tokio::test]
async fn who_may_mint_and_what_ends_a_session() {
    let server = server().await;
    let admin = server.signup("Ann", "ann@example.com", PW).await;
    let bob = server.signup("Bob", "bob@example.com", PW).await;
    let admin = token(&admin).to_owned();
    let promote = json!({"id": bob["id"], "role": "user"});
    assert_eq!(
        server
            .post(routes::UPDATE_ROLE, Some(&admin), &promote)
            .await
            .0,
        200
    );
    let bob_session = token(&bob).to_owned();
    let body = json!({"origin": PORTAL, "paths": ["/api/v1/groups/*"]});

    // without the embed permission
    let (status, answer) = mint(&server, &bob_session, body.clone()).await;
    assert_eq!(status, 403, "{answer}");
    assert!(detail(&answer).contains("embed permission"), "{answer}");

    // with it (and api_keys): bob's session and bob's key may mint
    let permissions = format!("/api/v1/users/{}/permissions", bob["id"].as_str().unwrap());
    let grant = |embed: bool| {
        client()
            .put(server.at(&permissions))
            .bearer_auth(&admin)
            .json(&json!({"api_keys": true, "embed": embed}))
            .send()
    };
    assert_eq!(grant(true).await.unwrap().status(), 200);
    assert_eq!(mint(&server, &bob_session, body.clone()).await.0, 200);
    let (status, key) = server
        .post(routes::API_KEY, Some(&bob_session), &json!({}))
        .await;
    assert_eq!(status, 200, "{key}");
    let key = key["api_key"].as_str().unwrap().to_owned();
    let by_key = ticket(&server, &key, &["/api/v1/groups/*"], &["read"]).await;
    let (status, user) = redeem(&server, &by_key, Some(PORTAL)).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["email"], "bob@example.com");
    assert_eq!(server.get(routes::GROUPS, Some(token(&user))).await.0, 200);

    // bad forms: 400 with a reason
    for (form, why) in [
        (
            json!({"origin": "https://evil.example.com", "paths": ["/api/v1/groups/*"]}),
            "allowed_origins",
        ),
        (json!({"origin": PORTAL, "paths": []}), "paths"),
        (
            json!({"origin": PORTAL, "paths": ["/api/v1/../users/*"]}),
            "not allowed",
        ),
        (
            json!({"origin": PORTAL, "paths": ["/api/v1/groups/*"], "scopes": ["admin"]}),
            "scopes",
        ),
        (
            json!({"origin": PORTAL, "paths": ["/api/v1/groups/*"], "session_seconds": 4000}),
            "session_seconds",
        ),
    ] {
        let (status, answer) = mint(&server, &key, form.clone()).await;
        assert_eq!(status, 400, "{form}: {answer}");
        assert!(detail(&answer).contains(why), "{form}: {answer}");
    }
    let (status, _) = mint(
        &server,
        &key,
        json!({"origin": PORTAL, "paths": ["/x"], "extra": 1}),
    )
    .await;
    assert!(status == 400 || status == 422, "unknown fields refused");

    // a ticket minted before the permission is withdrawn is refused after
    let pending = ticket(&server, &bob_session, &["/api/v1/groups/*"], &["read"]).await;
    assert_eq!(grant(false).await.unwrap().status(), 200);
    assert_eq!(mint(&server, &key, body.clone()).await.0, 403);
    let (status, answer) = redeem(&server, &pending, Some(PORTAL)).await;
    assert_eq!(status, 401, "{answer}");
    assert!(detail(&answer).contains("embed permission"), "{answer}");

    // an embed session dies with the session that minted its ticket, and
    // may sign out itself
    let t = ticket(&server, &admin, &["/api/v1/groups/*"], &["read"]).await;
    let (_, child) = redeem(&server, &t, Some(PORTAL)).await;
    let child = token(&child).to_owned();
    let t = ticket(&server, &admin, &["/api/v1/groups/*"], &["read"]).await;
    let (_, other) = redeem(&server, &t, Some(PORTAL)).await;
    let other = token(&other).to_owned();
    assert_eq!(server.get(routes::SIGNOUT, Some(&other)).await.0, 200);
    assert_eq!(server.get(routes::GROUPS, Some(&other)).await.0, 401);
    assert_eq!(server.get(routes::GROUPS, Some(&child)).await.0, 200);
    assert_eq!(server.get(routes::SIGNOUT, Some(&admin)).await.0, 200);
    assert_eq!(server.get(routes::GROUPS, Some(&child)).await.0, 401);
}
