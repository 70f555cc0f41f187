//! Two replicas (two release servers on one SQLite database and data folder)
//! and one real Redis: a revocation, an API key change or a user change on
//! one is applied by the other on its next request; losing Redis makes a
//! replica refuse (503) until it is back; start-up needs Redis.
use crate::support::{token, PW};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tessera_tests::redis::RedisServer;
use tessera_tests::server::{client, TestServer};

const SECRET: &str = "replicas-share-this-session-secret-0123456789";

/// Two replicas sharing a data folder (database and generated secrets),
/// the session secret and one Redis; the verified-token cache is on (the
/// default).
struct Pair {
    a: TestServer,
    b: TestServer,
    redis: RedisServer,
    _shared: TempDir,
}

async fn pair() -> Pair {
    let redis = RedisServer::start().await;
    let shared = tempfile::tempdir().expect("temp dir");
    let toml = format!(
        "[redis]\nurl = \"{}\"\ntimeout = \"1s\"\n[session]\nsecret = \"{SECRET}\"\n[signup]\ndefault_role = \"user\"\n[api_keys]\nenabled = true\n",
        redis.url
    );
    let a = TestServer::builder()
        .data_dir(shared.path())
        .toml(&toml)
        .start()
        .await;
    let b = TestServer::builder()
        .data_dir(shared.path())
        .toml(&toml)
        .start()
        .await;
    Pair {
        a,
        b,
        redis,
        _shared: shared,
    }
}

async fn delete(server: &TestServer, path: &str, token: &str) -> u16 {
    client()
        .delete(server.at(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

/// Polls `GET path` until it answers `want` (at most `within`); the status
/// and body it ended with.
async fn until(
    server: &TestServer,
    path: &str,
    token: &str,
    want: u16,
    within: Duration,
) -> (u16, Value) {
    let deadline = Instant::now() + within;
    loop {
        let got = server.get(path, Some(token)).await;
        if got.0 == want || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// What replica `server` answers within a second (the time an event takes
/// to reach it is milliseconds; a replica that never hears it fails).
async fn soon(server: &TestServer, path: &str, token: &str, want: u16) -> (u16, Value) {
    until(server, path, token, want, Duration::from_secs(1)).await
}

#[tokio::test]
async fn a_token_signed_out_on_one_replica_is_refused_on_the_other() {
    let p = pair().await;
    let ann = p.a.signup("Ann", "ann@example.com", PW).await;
    let t = token(&ann).to_owned();
    // B knows the token (and keeps it in its verified-token cache)
    for _ in 0..2 {
        assert_eq!(p.b.get("/api/v1/auths/", Some(&t)).await.0, 200);
    }
    assert_eq!(p.a.get("/api/v1/auths/signout", Some(&t)).await.0, 200);
    let (status, body) = soon(&p.b, "/api/v1/auths/", &t, 401).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (401, Some("Invalid token")),
        "{}",
        p.b.log()
    );
    assert_eq!(p.a.get("/api/v1/auths/", Some(&t)).await.0, 401);
    // a fresh sign-in on B still works on A
    let (status, again) = p.b.signin("ann@example.com", PW).await;
    assert_eq!(status, 200);
    assert_eq!(p.a.get("/api/v1/auths/", Some(token(&again))).await.0, 200);
}

#[tokio::test]
async fn api_keys_revoked_or_replaced_on_one_replica_are_refused_on_the_other() {
    let p = pair().await;
    let ann = p.a.signup("Ann", "ann@example.com", PW).await;
    let t = token(&ann).to_owned();
    let (status, body) =
        p.a.post("/api/v1/auths/api_key", Some(&t), &json!({}))
            .await;
    assert_eq!(status, 200);
    let old = body["api_key"].as_str().expect("key").to_owned();
    // B finds the key in the database and indexes it
    for _ in 0..2 {
        assert_eq!(p.b.get("/api/v1/auths/", Some(&old)).await.0, 200);
    }

    // replaced on A: the old key is refused on B at once, the new one works there
    let (status, body) =
        p.a.post("/api/v1/auths/api_key", Some(&t), &json!({}))
            .await;
    assert_eq!(status, 200);
    let new = body["api_key"].as_str().expect("key").to_owned();
    assert_eq!(
        soon(&p.b, "/api/v1/auths/", &old, 401).await.0,
        401,
        "the replaced key still works on B"
    );
    assert_eq!(p.b.get("/api/v1/auths/", Some(&new)).await.0, 200);
    assert_eq!(p.b.get("/api/v1/auths/", Some(&new)).await.0, 200);

    // revoked on A: refused on B at once
    assert_eq!(delete(&p.a, "/api/v1/auths/api_key", &t).await, 200);
    assert_eq!(
        soon(&p.b, "/api/v1/auths/", &new, 401).await.0,
        401,
        "the revoked key still works on B"
    );
    assert_eq!(p.a.get("/api/v1/auths/", Some(&new)).await.0, 401);
}

#[tokio::test]
async fn a_user_demoted_or_deleted_on_one_replica_is_so_on_the_other() {
    let p = pair().await;
    let admin = p.a.signup("Ann", "ann@example.com", PW).await;
    let bob = p.a.signup("Bob", "bob@example.com", PW).await;
    let (at, bt) = (token(&admin).to_owned(), token(&bob).to_owned());
    // B caches Bob (role user) and his token
    for _ in 0..2 {
        let (status, me) = p.b.get("/api/v1/auths/", Some(&bt)).await;
        assert_eq!((status, me["role"].as_str()), (200, Some("user")));
        assert_eq!(p.b.get("/api/v1/groups/", Some(&bt)).await.0, 200);
    }

    let demote = json!({"id": bob["id"], "role": "pending"});
    let (status, _) =
        p.a.post("/api/v1/users/update/role", Some(&at), &demote)
            .await;
    assert_eq!(status, 200);
    let (status, _) = soon(&p.b, "/api/v1/groups/", &bt, 403).await;
    assert_eq!(status, 403, "B still has the old role");
    let (status, me) = p.b.get("/api/v1/auths/", Some(&bt)).await;
    assert_eq!(
        (status, me["role"].as_str()),
        (200, Some("pending")),
        "B still has the old role"
    );

    let id = bob["id"].as_str().expect("id");
    assert_eq!(delete(&p.a, &format!("/api/v1/users/{id}"), &at).await, 200);
    let (status, body) = soon(&p.b, "/api/v1/auths/", &bt, 401).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (401, Some("Invalid token")),
        "B still knows the deleted user"
    );
}

#[tokio::test]
async fn sso_settings_saved_on_one_replica_are_used_by_the_other() {
    let p = pair().await;
    let admin = p.a.signup("Ann", "ann@example.com", PW).await;
    let labels = |config: &Value| -> Vec<String> {
        config["oidc_providers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l["display_name"].as_str().map(String::from))
            .collect()
    };
    let (_, config) = p.b.get("/api/config", None).await;
    assert!(labels(&config).is_empty(), "{config}");
    let settings = json!({
        "name": "corp",
        "display_name": "Corp SSO",
        "kind": "oidc",
        "discovery_url": "https://sso.example.com/.well-known/openid-configuration",
        "client_id": "tessera",
        "client_secret": "corp-client-secret",
    });
    let res = client()
        .put(p.a.at("/api/v1/admin/oidc_providers/corp"))
        .bearer_auth(token(&admin))
        .json(&settings)
        .send()
        .await
        .expect("request");
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut config = Value::Null;
    while Instant::now() < deadline {
        config = p.b.get("/api/config", None).await.1;
        if !labels(&config).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(labels(&config), ["Corp SSO"], "B did not reload");
}

#[tokio::test]
async fn losing_redis_fails_closed_and_its_return_restores_service() {
    let mut p = pair().await;
    let ann = p.a.signup("Ann", "ann@example.com", PW).await;
    let t = token(&ann).to_owned();
    let (_, second) = p.a.signin("ann@example.com", PW).await;
    let revoked = token(&second).to_owned();
    assert_eq!(p.b.get("/api/v1/auths/", Some(&revoked)).await.0, 200);
    assert_eq!(
        p.a.get("/api/v1/auths/signout", Some(&revoked)).await.0,
        200
    );
    let (status, ready) = p.b.get("/readyz", None).await;
    assert_eq!((status, ready["redis"].as_str()), (200, Some("ok")));

    p.redis.kill().await;
    let (status, body) = until(&p.b, "/api/v1/auths/", &t, 503, Duration::from_secs(5)).await;
    assert_eq!(status, 503, "B kept serving without Redis: {body}");
    assert!(
        body["detail"].as_str().unwrap_or("").contains("Redis"),
        "{body}"
    );
    let (status, ready) = p.b.get("/readyz", None).await;
    assert_eq!(
        (status, ready["redis"].as_str()),
        (503, Some("unreachable"))
    );
    // unauthenticated endpoints still answer
    assert_eq!(p.b.get("/api/config", None).await.0, 200);

    // Redis comes back empty (no persistence): B catches up and serves again
    p.redis.run().await;
    let (status, _) = until(&p.b, "/api/v1/auths/", &t, 200, Duration::from_secs(10)).await;
    assert_eq!(status, 200, "B did not come back: {}", p.b.log());
    assert_eq!(p.b.get("/readyz", None).await.0, 200);
    assert_eq!(
        p.b.get("/api/v1/auths/", Some(&revoked)).await.0,
        401,
        "a revocation from before was forgotten"
    );
    // and events flow again
    assert_eq!(p.a.get("/api/v1/auths/", Some(&t)).await.0, 200);
    assert_eq!(p.a.get("/api/v1/auths/signout", Some(&t)).await.0, 200);
    assert_eq!(soon(&p.b, "/api/v1/auths/", &t, 401).await.0, 401);
}

#[tokio::test]
async fn start_up_with_an_unreachable_redis_fails_with_a_clear_message() {
    let port = tessera_tests::free_port();
    let (code, out) = TestServer::builder()
        .toml(&format!(
            "[redis]\nurl = \"redis://:hunter2-secret@127.0.0.1:{port}\"\ntimeout = \"1s\""
        ))
        .start_expecting_failure()
        .await;
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("redis"), "{out}");
    assert!(out.contains(&format!("127.0.0.1:{port}")), "{out}");
    assert!(!out.contains("hunter2"), "the password was printed: {out}");

    let (code, out) = TestServer::builder()
        .toml("[redis]\nurl = \"http://127.0.0.1:6379\"")
        .start_expecting_failure()
        .await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("redis.url"), "{out}");
}

#[tokio::test]
async fn a_password_protected_redis_given_by_url_file_and_the_old_key() {
    let redis = RedisServer::start_with_password("s3cret-pw").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("redis.url");
    std::fs::write(&file, format!("{}\n", redis.url)).expect("write");
    let server = TestServer::builder()
        .toml(&format!("[redis]\nurl_file = {:?}", file))
        .start()
        .await;
    let ann = server.signup("Ann", "ann@example.com", PW).await;
    assert_eq!(server.get("/api/v1/auths/", Some(token(&ann))).await.0, 200);
    let (status, ready) = server.get("/readyz", None).await;
    assert_eq!((status, ready["redis"].as_str()), (200, Some("ok")));
    assert!(
        !server.log().contains("s3cret-pw"),
        "the password was logged"
    );

    // `[revocation] redis_url` still works
    let old = TestServer::builder()
        .toml(&format!("[revocation]\nredis_url = \"{}\"", redis.url))
        .start()
        .await;
    let (status, ready) = old.get("/readyz", None).await;
    assert_eq!((status, ready["redis"].as_str()), (200, Some("ok")));
    // a wrong password is a start-up error
    let (code, out) = TestServer::builder()
        .toml(&format!(
            "[redis]\nurl = \"redis://:wrong@127.0.0.1:{}\"",
            redis.port
        ))
        .start_expecting_failure()
        .await;
    assert_ne!(code, 0, "{out}");
    assert!(!out.contains(":wrong@"), "{out}");
}

#[tokio::test]
async fn rediss_with_a_ca_file() {
    let redis = RedisServer::start_with_tls().await;
    let ca = redis.ca_file.clone().expect("ca file");
    let server = TestServer::builder()
        .toml(&format!(
            "[redis]\nurl = \"{}\"\nca_file = {:?}",
            redis.url, ca
        ))
        .start()
        .await;
    let ann = server.signup("Ann", "ann@example.com", PW).await;
    let t = token(&ann).to_owned();
    assert_eq!(server.get("/api/v1/auths/", Some(&t)).await.0, 200);
    assert_eq!(server.get("/api/v1/auths/signout", Some(&t)).await.0, 200);
    assert_eq!(server.get("/api/v1/auths/", Some(&t)).await.0, 401);
    let (status, ready) = server.get("/readyz", None).await;
    assert_eq!((status, ready["redis"].as_str()), (200, Some("ok")));
    // without the CA the server's certificate is not trusted: start-up fails
    let (code, out) = TestServer::builder()
        .toml(&format!(
            "[redis]\nurl = \"{}\"\ntimeout = \"1s\"",
            redis.url
        ))
        .start_expecting_failure()
        .await;
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("redis") && out.to_lowercase().contains("certificate"),
        "{out}"
    );
}

/// The outside review's finding: a change whose announcement failed (Redis
/// not taking it between the write and the publish) left the other
/// replicas stale for ever — the 503 said "retry", but a retry found nothing
/// left to do. On PostgreSQL with two replicas, Redis pausing writes (so
/// `PUBLISH` fails while both replicas stay subscribed and in step): every
/// change answers 503, and once Redis takes writes again the other replica
/// refuses what was ended within the stated bound (docs/scale-out.md: a
/// second after Redis answers). Also with Redis gone and back: everything
/// converges, and the sign-out survives a restart.
#[tokio::test]
async fn changes_whose_announcement_failed_reach_every_replica_once_redis_answers() {
    let mut redis = RedisServer::start().await;
    let pg = tessera_tests::postgres::PgServer::shared();
    let url = pg.create_database();
    let toml = format!(
        "[redis]\nurl = \"{}\"\ntimeout = \"1s\"\n[session]\nsecret = \"{SECRET}\"\n\
         [api_keys]\nenabled = true\nsecret = \"replicas-share-this-api-key-secret-0123456789\"\n",
        redis.url
    );
    let replica = || {
        TestServer::builder()
            .postgres(pg.clone(), &url)
            .toml(&toml)
            .start()
    };
    let mut a = replica().await;
    let b = replica().await;
    let ann = a.signup("Ann", "ann@example.com", PW).await;
    let signed_out = token(&ann).to_owned();
    let (_, second) = a.signin("ann@example.com", PW).await;
    let admin = token(&second).to_owned();
    let (status, created) = a
        .post("/api/v1/auths/api_key", Some(&admin), &json!({}))
        .await;
    assert_eq!(status, 200, "{created}");
    let key = created["api_key"].as_str().expect("key").to_owned();
    let bob = b.signup("Bob", "bob@example.com", PW).await;
    let (status, _) = a
        .post(
            "/api/v1/users/update/role",
            Some(&admin),
            &json!({"id": bob["id"], "role": "user"}),
        )
        .await;
    assert_eq!(status, 200);
    let bob_token = token(&bob).to_owned();
    // B knows them all (and caches them)
    for t in [&signed_out, &key, &bob_token] {
        for _ in 0..2 {
            assert_eq!(b.get("/api/v1/auths/", Some(t)).await.0, 200);
        }
    }

    redis.pause_writes(6000).await;
    // A: each change is stored and answered 503 (not announced yet)
    assert_eq!(
        a.get("/api/v1/auths/signout", Some(&signed_out)).await.0,
        503
    );
    assert_eq!(delete(&a, "/api/v1/auths/api_key", &admin).await, 503);
    let (status, _) = a
        .post(
            "/api/v1/users/update/role",
            Some(&admin),
            &json!({"id": bob["id"], "role": "pending"}),
        )
        .await;
    assert_eq!(status, 503);
    assert_eq!(
        b.get("/readyz", None).await.0,
        200,
        "B stayed in step: it cannot know it missed anything"
    );

    // B converges once Redis takes writes again: the kept announcements
    let bound = Duration::from_secs(10);
    for (what, t) in [
        ("the signed-out session", &signed_out),
        ("the revoked key", &key),
    ] {
        let (status, _) = until(&b, "/api/v1/auths/", t, 401, bound).await;
        assert_eq!(status, 401, "B still accepts {what}: {}", b.log());
    }
    let deadline = Instant::now() + bound;
    loop {
        let (_, me) = b.get("/api/v1/auths/", Some(&bob_token)).await;
        if me["role"] == "pending" || Instant::now() > deadline {
            assert_eq!(me["role"], "pending", "B still has Bob's old role");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Redis gone and back: a change made just as it went is there too, and
    // the sign-out survives a restart of A
    let (_, third) = a.signin("ann@example.com", PW).await;
    let third = token(&third).to_owned();
    assert_eq!(b.get("/api/v1/auths/", Some(&third)).await.0, 200);
    redis.kill().await;
    redis.run().await;
    let (status, _) = until(&a, "/api/v1/auths/", &admin, 200, bound).await;
    assert_eq!(status, 200, "A did not come back: {}", a.log());
    assert_eq!(a.get("/api/v1/auths/signout", Some(&third)).await.0, 200);
    assert_eq!(until(&b, "/api/v1/auths/", &third, 401, bound).await.0, 401);
    a.restart().await;
    for t in [&signed_out, &third] {
        assert_eq!(a.get("/api/v1/auths/", Some(t)).await.0, 401);
    }
}
