//! The audit log: what a real server records for sign-ins (and refusals,
//! with the client's address and the name tried), sign-up, role and
//! permission changes, API keys, sign-outs, deletions and the admin CLI;
//! `GET /api/v1/admin/audit` filters and pages it for admins only; the
//! events also go to stdout as JSON lines when asked; no token, password
//! or key is ever in it.
use crate::admin_cli::admin;
use crate::support::{token, PASSWORD};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tessera_shared::routes;
use tessera_tests::server::{client, send, Builder, TestServer};

/// The audit page for `query`, as `token` (an admin) sees it, once it holds
/// at least `at_least` events (they are written in the background).
async fn audit(server: &TestServer, token: &str, query: &str, at_least: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, page) = server
            .get(&format!("{}?{query}", routes::ADMIN_AUDIT), Some(token))
            .await;
        assert_eq!(code, 200, "{page}");
        if page["total"].as_u64().unwrap() >= at_least || Instant::now() > deadline {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn actions(page: &Value) -> Vec<&str> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

/// What the test did, and the secrets it used.
struct Acted {
    server: TestServer,
    root_token: String,
    ann_token: String,
    api_key: String,
}

const WRONG: &str = "not-the-password-123";

/// Sign-ups, refused and accepted sign-ins, a role and a permission given,
/// an API key made and revoked, a sign-out and a deletion.
async fn act(builder: Builder) -> Acted {
    let server = builder
        .toml("[api_keys]\nenabled = true\n[audit]\nstdout = true\n")
        .start()
        .await;
    let root = server.signup("Root", "root@example.com", PASSWORD).await;
    let root_token = token(&root).to_owned();
    let ann = server.signup("Ann", "ann@example.com", PASSWORD).await;
    let ann_id = ann["id"].as_str().unwrap().to_owned();
    let bob = server.signup("Bob", "bob@example.com", PASSWORD).await;
    let bob_id = bob["id"].as_str().unwrap().to_owned();

    assert_eq!(server.signin("ann@example.com", WRONG).await.0, 401);
    assert_eq!(server.signin("nobody@example.com", WRONG).await.0, 401);
    let (code, body) = server
        .post(
            routes::UPDATE_ROLE,
            Some(&root_token),
            &json!({"id": ann_id, "role": "user"}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let (code, _) = send(
        client()
            .put(server.at(&format!("/api/v1/users/{ann_id}/permissions")))
            .json(&json!({"api_keys": true})),
        Some(&root_token),
        &[],
    )
    .await;
    assert_eq!(code, 200);
    let (code, ann_session) = server.signin("ann@example.com", PASSWORD).await;
    assert_eq!(code, 200);
    let ann_token = token(&ann_session).to_owned();
    let (code, key) = server
        .post(routes::API_KEY, Some(&ann_token), &json!({}))
        .await;
    assert_eq!(code, 200, "{key}");
    let api_key = key["api_key"].as_str().unwrap().to_owned();
    let (code, _) = send(
        client().delete(server.at(routes::API_KEY)),
        Some(&ann_token),
        &[],
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(server.get(routes::SIGNOUT, Some(&ann_token)).await.0, 200);
    let (code, _) = send(
        client().delete(server.at(&format!("/api/v1/users/{bob_id}"))),
        Some(&root_token),
        &[],
    )
    .await;
    assert_eq!(code, 200);
    Acted {
        server,
        root_token,
        ann_token,
        api_key,
    }
}

tessera_tests::on_both_databases! {
    /// On SQLite and on PostgreSQL.
    async fn security_events_are_recorded_and_shown_to_admins_only(builder) {
    let Acted {
        mut server,
        root_token,
        ann_token,
        api_key,
    } = act(builder).await;
    let page = audit(&server, &root_token, "", 12).await;
    assert_eq!(
        actions(&page),
        [
            "user_deleted",
            "sign_out",
            "api_key_revoked",
            "api_key_created",
            "sign_in",
            "permissions_changed",
            "role_changed",
            "sign_in_failed",
            "sign_in_failed",
            "sign_up",
            "sign_up",
            "sign_up",
        ],
        "newest first: {page}"
    );
    let events = page["events"].as_array().unwrap();
    assert_eq!(
        events[0]["account"], "bob@example.com",
        "deleted: named by e-mail"
    );
    assert_eq!(events[0]["actor"], "root@example.com");
    assert_eq!(events[6]["detail"], "user");
    assert_eq!(events[6]["account"], "ann@example.com");
    let failed = &events[7];
    assert_eq!(failed["account"], "nobody@example.com");
    assert_eq!(failed["method"], "password");
    assert_eq!(failed["ip"], "127.0.0.1");
    assert_eq!(failed["detail"], "invalid_credentials");

    filters_and_paging(&server, &root_token, events).await;
    secrets_never_recorded(&server, &[&api_key, &ann_token, &root_token]).await;
    the_admin_cli_is_recorded(&mut server).await;
}
}

async fn filters_and_paging(server: &TestServer, root_token: &str, events: &[Value]) {
    let anns = audit(server, root_token, "account=ANN%40", 0).await;
    assert_eq!(anns["total"], 8, "ann's own and root's on ann: {anns}");
    let refused = audit(server, root_token, "action=sign_in_failed", 0).await;
    assert_eq!(actions(&refused), ["sign_in_failed", "sign_in_failed"]);
    let second = audit(server, root_token, "limit=5&page=2", 0).await;
    assert_eq!(second["total"], 12);
    assert_eq!(
        second["events"][0]["id"], events[5]["id"],
        "page 2 starts at the 6th"
    );
    let at = events[0]["at"].as_i64().unwrap();
    let future = audit(server, root_token, &format!("since={}", at + 3600), 0).await;
    assert_eq!(future["total"], 0);
    let past = audit(server, root_token, &format!("until={}", at + 1), 0).await;
    assert_eq!(past["total"], 12);

    // bad input and other callers
    let (code, body) = server
        .get(
            &format!("{}?action=hacked", routes::ADMIN_AUDIT),
            Some(root_token),
        )
        .await;
    assert_eq!(code, 400);
    assert!(
        body["detail"].as_str().unwrap().contains("sign_in_failed"),
        "{body}"
    );
    let (code, body) = server
        .get(
            &format!("{}?page=minus-one", routes::ADMIN_AUDIT),
            Some(root_token),
        )
        .await;
    assert_eq!(code, 400, "{body}");
    let (_, again) = server.signin("ann@example.com", PASSWORD).await;
    let (code, _) = server.get(routes::ADMIN_AUDIT, Some(token(&again))).await;
    assert_eq!(code, 403, "a user may not read the audit log");
    assert_eq!(server.get(routes::ADMIN_AUDIT, None).await.0, 401);
}

/// The SIEM lines on stdout are JSON; neither they nor the log hold a
/// password, key or token.
async fn secrets_never_recorded(server: &TestServer, secrets: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.stdout().lines().count() < 13 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stdout = server.stdout();
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert!(lines.len() >= 13, "{stdout}");
    assert_eq!(lines[0]["audit"], "sign_up");
    assert!(lines
        .iter()
        .any(|l| l["audit"] == "sign_in_failed" && l["account"] == "ann@example.com"));
    let root_token = secrets[secrets.len() - 1];
    let everything = format!(
        "{stdout}{}",
        audit(server, root_token, "limit=500", 0).await
    );
    for secret in [PASSWORD, WRONG].iter().chain(secrets) {
        assert!(!everything.contains(secret), "a secret in the audit log");
    }
}

/// The admin CLI, run while the server is stopped, is recorded too.
async fn the_admin_cli_is_recorded(server: &mut TestServer) {
    server.stop().await;
    let (code, _, err) = admin(server, &["set-role", "ann@example.com", "admin"], "");
    assert_eq!(code, Some(0), "{err}");
    server.restart().await;
    let (_, root_again) = server.signin("root@example.com", PASSWORD).await;
    let cli = audit(server, token(&root_again), "action=role_changed", 2).await;
    let newest = &cli["events"][0];
    assert_eq!(newest["method"], "cli");
    assert_eq!(newest["detail"], "admin");
    assert!(
        newest["actor"].as_str().unwrap().starts_with("cli:"),
        "{newest}"
    );
}
