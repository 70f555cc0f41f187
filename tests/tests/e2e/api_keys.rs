//! API keys over the real HTTP API: the global switch, the permission,
//! endpoint allowlists (with encoding tricks), replacement and deletion.
use crate::support::{token, PW};
use serde_json::{json, Value};
use tessera_tests::server::{client, TestServer};

async fn create_key(server: &TestServer, session: &str) -> (u16, Value) {
    server
        .post("/api/v1/auths/api_key", Some(session), &json!({}))
        .await
}

/// Creates the session's user a key (200 required); returns it.
async fn new_key(server: &TestServer, session: &str) -> String {
    let (status, body) = create_key(server, session).await;
    assert_eq!(status, 200, "{body}");
    body["api_key"].as_str().expect("key").to_owned()
}

async fn get_raw(server: &TestServer, raw_path: &str, key: &str) -> (u16, Value) {
    // reqwest would normalise some paths; send the raw request line over TCP
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = server.url.trim_start_matches("http://").to_owned();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let req = format!("GET {raw_path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n");
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tcp.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf);
    let status: u16 = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    // chunked bodies: take the JSON object inside
    let json = body
        .find('{')
        .and_then(|s| body.rfind('}').map(|e| &body[s..=e]))
        .unwrap_or("null");
    (status, serde_json::from_str(json).unwrap_or(Value::Null))
}

#[tokio::test]
async fn keys_are_off_unless_enabled() {
    let server = TestServer::start().await;
    let admin = server.signup("Ann", "ann@example.com", PW).await;
    let (status, body) = create_key(&server, token(&admin)).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (403, Some("API key not allowed"))
    );
    // a key-shaped credential is refused with the same answer
    let (status, body) = server.get("/api/v1/auths/", Some("sk-abc")).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (403, Some("API key not allowed"))
    );
}

tessera_tests::on_both_databases! {
    async fn lifecycle_permission_replacement_and_deletion(builder) {
        let server = builder
            .toml("[api_keys]\nenabled = true")
            .start()
            .await;
        let admin = server.signup("Ann", "ann@example.com", PW).await;
        let bob = server.signup("Bob", "bob@example.com", PW).await;
        let promote = json!({"id": bob["id"], "role": "user"});
        server
            .post("/api/v1/users/update/role", Some(token(&admin)), &promote)
            .await;

        // bob lacks the permission
        let (status, body) = create_key(&server, token(&bob)).await;
        assert_eq!(
            (status, body["detail"].as_str()),
            (403, Some("API key not allowed"))
        );

        let key = the_admin_has_the_permission(&server, &admin).await;
        let key2 = replacement_disables_the_old_key_at_once(&server, &admin, &key).await;
        grant_and_withdraw_bobs_permission(&server, &admin, &bob).await;
        deletion_and_forged_keys(&server, &admin, &key2).await;
    }
}

/// The admin has the permission: the key works, only its metadata can be
/// read back, and it cannot manage keys. Returns the key.
async fn the_admin_has_the_permission(server: &TestServer, admin: &Value) -> String {
    let (status, body) = create_key(server, token(admin)).await;
    assert_eq!(status, 200);
    let key = body["api_key"].as_str().unwrap().to_owned();
    assert!(
        key.starts_with("sk-") && key.len() >= 3 + 43,
        "256 bits of randomness: {}",
        key.len()
    );
    let (status, me) = server.get("/api/v1/auths/", Some(&key)).await;
    assert_eq!((status, me["auth_method"].as_str()), (200, Some("api_key")));
    assert_eq!(me["email"], "ann@example.com");
    assert!(me["expires_at"].is_null());

    // metadata, never the key
    let (status, info) = server
        .get("/api/v1/auths/api_key", Some(token(admin)))
        .await;
    assert_eq!(status, 200);
    assert_eq!(info["prefix"].as_str().unwrap(), &key[..11]);
    assert!(info["created_at"].is_i64());
    assert!(
        !info.to_string().contains(&key[11..]),
        "the key is never readable back"
    );
    assert!(!server.log().contains(&key), "nor logged");

    // a key cannot manage keys
    assert_eq!(create_key(server, &key).await.0, 403);

    key
}

/// Replacement disables the old key at once; returns the new one.
async fn replacement_disables_the_old_key_at_once(
    server: &TestServer,
    admin: &Value,
    key: &str,
) -> String {
    let key2 = new_key(server, token(admin)).await;
    assert_ne!(key, key2);
    let (status, body) = server.get("/api/v1/auths/", Some(key)).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (401, Some("Invalid token"))
    );
    assert_eq!(server.get("/api/v1/auths/", Some(&key2)).await.0, 200);

    key2
}

/// Grants bob the permission through a group-less user grant, then
/// withdraws it; a non-admin cannot grant.
async fn grant_and_withdraw_bobs_permission(server: &TestServer, admin: &Value, bob: &Value) {
    let path = format!("/api/v1/users/{}/permissions", bob["id"].as_str().unwrap());
    let res = client()
        .put(server.at(&path))
        .bearer_auth(token(admin))
        .json(&json!({"api_keys": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (status, body) = create_key(server, token(bob)).await;
    assert_eq!(status, 200);
    let bob_key = body["api_key"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        // the key's account is remembered after the first use
        assert_eq!(server.get("/api/v1/groups/", Some(&bob_key)).await.0, 200);
        assert_eq!(server.get("/api/v1/auths/", Some(&bob_key)).await.0, 200);
    }
    client()
        .put(server.at(&path))
        .bearer_auth(token(admin))
        .json(&json!({"api_keys": false}))
        .send()
        .await
        .unwrap();
    let (status, body) = server.get("/api/v1/groups/", Some(&bob_key)).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (403, Some("API key not allowed")),
        "withdrawal applies at once"
    );
    // a non-admin cannot grant
    let res = client()
        .put(server.at(&path))
        .bearer_auth(token(bob))
        .json(&json!({"api_keys": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

/// Deleting the key ends it; a forged key of the right shape is refused.
async fn deletion_and_forged_keys(server: &TestServer, admin: &Value, key2: &str) {
    // deletion
    let res = client()
        .delete(server.at("/api/v1/auths/api_key"))
        .bearer_auth(token(admin))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(server.get("/api/v1/auths/", Some(key2)).await.0, 401);
    assert_eq!(
        server
            .get("/api/v1/auths/api_key", Some(token(admin)))
            .await
            .0,
        404
    );

    // a forged key of the right shape
    let forged = format!("sk-{}", "A".repeat(43));
    assert_eq!(server.get("/api/v1/auths/", Some(&forged)).await.0, 401);
}

tessera_tests::on_both_databases! {
    async fn keys_survive_a_restart_and_revocation_does_too(builder) {
        let mut server = builder
            .toml("[api_keys]\nenabled = true")
            .start()
            .await;
        let admin = server.signup("Ann", "ann@example.com", PW).await;
        let key = new_key(&server, token(&admin)).await;
        server.restart().await;
        assert_eq!(server.get("/api/v1/auths/", Some(&key)).await.0, 200);
        let key2 = new_key(&server, token(&admin)).await;
        server.restart().await;
        assert_eq!(server.get("/api/v1/auths/", Some(&key)).await.0, 401);
        assert_eq!(server.get("/api/v1/auths/", Some(&key2)).await.0, 200);
    }
}

tessera_tests::on_both_databases! {
    async fn concurrent_replacements_leave_exactly_one_working_key(builder) {
        let server = builder
            .toml("[api_keys]\nenabled = true")
            .start()
            .await;
        let admin = server.signup("Ann", "ann@example.com", PW).await;
        let session = token(&admin).to_owned();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (url, session) = (server.at("/api/v1/auths/api_key"), session.clone());
            tasks.spawn(async move {
                let res = client()
                    .post(url)
                    .bearer_auth(session)
                    .header("content-type", "application/json")
                    .send()
                    .await
                    .unwrap();
                let status = res.status().as_u16();
                (status, res.json::<Value>().await.unwrap_or(Value::Null))
            });
        }
        let mut keys = Vec::new();
        while let Some(done) = tasks.join_next().await {
            let (status, body) = done.unwrap();
            assert_eq!(status, 200, "{body}");
            keys.push(body["api_key"].as_str().unwrap().to_owned());
        }
        let mut working = Vec::new();
        for key in &keys {
            match server.get("/api/v1/auths/", Some(key)).await.0 {
                200 => working.push(key.clone()),
                status => assert_eq!(status, 401),
            }
        }
        assert_eq!(working.len(), 1, "one key per user: {} work", working.len());
        let (_, info) = server.get("/api/v1/auths/api_key", Some(&session)).await;
        assert_eq!(info["prefix"].as_str().unwrap(), &working[0][..11]);
    }
}

#[tokio::test]
async fn a_flood_of_unknown_keys_is_cut_off_per_client_before_the_database() {
    let server = TestServer::builder()
        .toml("[api_keys]\nenabled = true\nunknown_per_ip_per_minute = 3")
        .start()
        .await;
    let admin = server.signup("Ann", "ann@example.com", PW).await;
    let key = new_key(&server, token(&admin)).await;
    let random = |i: usize| format!("sk-{}{i:04}", "Q".repeat(39));

    for i in 0..3 {
        let (status, body) = server.get("/api/v1/auths/", Some(&random(i))).await;
        assert_eq!(
            (status, body["detail"].as_str()),
            (401, Some("Invalid token"))
        );
    }
    // a fourth key never seen: refused before the database is asked
    let res = client()
        .get(server.at("/api/v1/auths/"))
        .bearer_auth(random(3))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    // a key already refused is known to be unknown: 401, and no look-up
    assert_eq!(server.get("/api/v1/auths/", Some(&random(0))).await.0, 401);
    // the client's real key, and sessions, are not held up
    assert_eq!(server.get("/api/v1/auths/", Some(&key)).await.0, 200);
    assert_eq!(
        server.get("/api/v1/auths/", Some(token(&admin))).await.0,
        200
    );
}

#[tokio::test]
async fn restricted_endpoints_resist_path_tricks() {
    let server = TestServer::builder()
        .toml("[api_keys]\nenabled = true\nrestrict_endpoints = true\nallowed_endpoints = [\"/api/v1/auths/\", \"/api/v1/groups/*\"]")
        .start()
        .await;
    let admin = server.signup("Ann", "ann@example.com", PW).await;
    let key = new_key(&server, token(&admin)).await;

    assert_eq!(get_raw(&server, "/api/v1/auths/", &key).await.0, 200);
    assert_eq!(
        get_raw(&server, "/api/v1/auths", &key).await.0,
        404,
        "allowed, but no such route"
    );
    assert_eq!(get_raw(&server, "/api/v1/groups/", &key).await.0, 200);
    for path in [
        "/api/v1/users/",
        "/api/v1/users",
        "/api/v1//users/",
        "/api/v1/groups/../users/",
        "/api/v1/groups/%2e%2e/users/",
        "/api/v1/groups/..%2Fusers/",
        "/api/v1/groups/%2E%2E%2Fusers",
        "/api/v1/./users/",
        "/api/v1/auths/api_key",
        "/api/v1/auths/signout",
        "/api/v1/groups/x/..%5c..%5cusers",
    ] {
        let (status, body) = get_raw(&server, path, &key).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert_eq!(
            body["detail"], "API key not allowed to access this endpoint",
            "{path}"
        );
    }
    // sessions are unaffected by the restriction
    assert_eq!(
        server.get("/api/v1/users/", Some(token(&admin))).await.0,
        200
    );
}
