//! PostgreSQL as the database (`[database] url = "postgres://..."`): the
//! store's semantics on both databases, two servers sharing one PostgreSQL,
//! the URL from the environment or a file, and clear start-up errors that
//! never show the password. (The core of api_auth and api_keys also runs on
//! both databases: their `::postgres` tests.)
use crate::support::{token, PW};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_tests::keyserver::{now, KeyServer, KeyType, TestKey};
use tessera_tests::postgres::{PgServer, PASSWORD};
use tessera_tests::server::{Builder, TestServer};

const SECRET: &str = "a-session-secret-shared-by-both-replicas-0123456789";
const API_KEY_SECRET: &str = "an-api-key-secret-shared-by-both-replicas-0123456";

/// The database name at the end of a URL.
fn db_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or_default()
}

tessera_tests::on_both_databases! {
    /// Subjects are never case-folded, groups are created once and listed
    /// in byte order (as SQLite's BINARY collation; PostgreSQL's "C"), and a
    /// user's deletion cascades to their memberships.
    async fn idp_users_groups_and_case_sensitive_subjects(builder) {
        let k = TestKey::generate(KeyType::P256, "k");
        let idp = KeyServer::start(&[&k]).await;
        let server = builder
            .toml(&format!(
                "[[issuers]]\nname = \"kc\"\nissuer = \"https://kc.test\"\naudiences = [\"app\"]\n\
                 jwks_url = \"{}\"\nalgorithms = [\"ES256\"]\ngroups_claim = \"groups\"\n",
                idp.jwks_url()
            ))
            .start()
            .await;
        let admin = server.signup("Root", "root@example.com", PW).await;
        let idp_token = |sub: &str, groups: Value| {
            k.sign(
                json!({}),
                &json!({"iss": "https://kc.test", "sub": sub, "aud": "app", "exp": now() + 600,
                        "iat": now(), "email": "same@example.com", "groups": groups}),
            )
        };
        let (code, lower) = server
            .get("/api/v1/auths/", Some(&idp_token("s-1", json!(["beta", "Zeta", "alpha"]))))
            .await;
        assert_eq!(code, 200, "{}", server.log());
        assert_eq!(lower["groups"], json!(["Zeta", "alpha", "beta"]), "byte order");
        let (code, upper) = server
            .get("/api/v1/auths/", Some(&idp_token("S-1", json!(["alpha"]))))
            .await;
        assert_eq!(code, 200);
        assert_ne!(lower["id"], upper["id"], "subjects are case-sensitive");

        let (_, users) = server.get("/api/v1/users/", Some(token(&admin))).await;
        assert_eq!(users.as_array().map(Vec::len), Some(3), "{users}");
        let (_, groups) = server.get("/api/v1/groups/", Some(token(&admin))).await;
        let summary: Vec<(String, i64)> = groups
            .as_array()
            .into_iter()
            .flatten()
            .map(|g| (g["name"].as_str().unwrap_or_default().to_owned(), g["members"].as_i64().unwrap_or(-1)))
            .collect();
        assert_eq!(
            summary,
            vec![("Zeta".into(), 1), ("alpha".into(), 2), ("beta".into(), 1)]
        );

        // deleting a user drops their memberships (ON DELETE CASCADE)
        let res = tessera_tests::server::client()
            .delete(server.at(&format!("/api/v1/users/{}", upper["id"].as_str().unwrap_or_default())))
            .bearer_auth(token(&admin))
            .send()
            .await
            .expect("delete");
        assert_eq!(res.status(), 200);
        let (_, groups) = server.get("/api/v1/groups/", Some(token(&admin))).await;
        assert_eq!(groups[1]["name"], "alpha");
        assert_eq!(groups[1]["members"], 1);
        // an unchanged token is answered again, a new group list is synced
        let (code, again) = server
            .get("/api/v1/auths/", Some(&idp_token("s-1", json!(["alpha"]))))
            .await;
        assert_eq!((code, again["id"].clone()), (200, lower["id"].clone()));
        assert_eq!(again["groups"], json!(["alpha"]));
    }
}

/// Two replicas (separate data folders, one session secret, one API-key
/// secret given inline and as a file) on one
/// PostgreSQL see each other's users, accept each other's tokens and API keys,
/// and a sign-out on one is refused by the other once it reloads revocations.
#[tokio::test]
async fn two_servers_share_one_postgres() {
    let pg = PgServer::shared();
    let url = pg.create_database();
    // the API-key hash secret: inline on a, from a file on b (same value)
    let secrets = tempfile::tempdir().expect("tempdir");
    let key_file = secrets.path().join("api-keys");
    std::fs::write(&key_file, format!("{API_KEY_SECRET}\n")).expect("write secret");
    let replica = |api_key_secret: String| {
        Builder::default().postgres(pg.clone(), &url).toml(&format!(
            "[session]\nsecret = \"{SECRET}\"\n[api_keys]\nenabled = true\n{api_key_secret}"
        ))
    };
    let a = replica(format!("secret = \"{API_KEY_SECRET}\""))
        .start()
        .await;
    let mut b = replica(format!("secret_file = {key_file:?}")).start().await;

    let ann = a.signup("Ann", "ann@example.com", PW).await;
    assert_eq!(ann["role"], "admin");
    let (status, on_b) = b.signin("ann@example.com", PW).await;
    assert_eq!(status, 200, "b sees the account made on a: {on_b}");
    assert_eq!(on_b["id"], ann["id"]);
    let (status, me) = b.get("/api/v1/auths/", Some(token(&ann))).await;
    assert_eq!((status, me["id"].clone()), (200, ann["id"].clone()));

    // the first account exists for b too: bob is not made admin
    let bob = b.signup("Bob", "bob@example.com", PW).await;
    assert_eq!(bob["role"], "pending");
    let (_, users) = a.get("/api/v1/users/", Some(token(&ann))).await;
    let mut emails: Vec<&str> = users
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u["email"].as_str())
        .collect();
    emails.sort();
    assert_eq!(emails, ["ann@example.com", "bob@example.com"]);
    // the e-mail is taken on both
    let (status, _) = a
        .post(
            "/api/v1/auths/signup",
            None,
            &json!({"name": "B2", "email": "bob@example.com", "password": PW}),
        )
        .await;
    assert_eq!(status, 409);

    // a sign-out on a is stored in the shared database
    let (_, second) = a.signin("ann@example.com", PW).await;
    assert_eq!(
        a.get("/api/v1/auths/signout", Some(token(&ann))).await.0,
        200
    );
    // without Redis, b learns of the revocation when it reloads
    b.restart().await;
    assert_eq!(b.get("/api/v1/auths/", Some(token(&ann))).await.0, 401);
    assert_eq!(b.get("/api/v1/auths/", Some(token(&second))).await.0, 200);

    // a key made on a after b started is found in the shared database
    let (status, key) = a
        .post("/api/v1/auths/api_key", Some(token(&second)), &json!({}))
        .await;
    assert_eq!(status, 200, "{key}");
    let key = key["api_key"].as_str().unwrap_or_default();
    let (status, me) = b.get("/api/v1/auths/", Some(key)).await;
    assert_eq!((status, me["id"].clone()), (200, ann["id"].clone()));
    assert_eq!(
        pg.psql(db_name(&url), "SELECT count(*) FROM revoked_tokens"),
        Ok("1".into())
    );
    for log in [a.log(), b.log()] {
        assert!(
            !log.contains(PASSWORD),
            "the database password never reaches the log"
        );
    }
}

/// A PostgreSQL that goes away makes `/readyz` say so and requests that need
/// it fail with 5xx, quickly; once it is back, the pool reconnects without a
/// restart of Tessera.
#[tokio::test]
async fn a_database_outage_is_reported_and_survived() {
    let pg = Arc::new(PgServer::start());
    let url = pg.create_database();
    let server = Builder::default()
        .postgres(pg.clone(), &url)
        .env("TESSERA_DATABASE_CONNECT_TIMEOUT_SECONDS", "2")
        .start()
        .await;
    server.signup("Ann", "ann@example.com", PW).await;
    assert_eq!(server.get("/readyz", None).await.0, 200);

    pg.stop();
    let started = Instant::now();
    let (status, body) = server.get("/readyz", None).await;
    assert_eq!(
        (status, body["database"].as_str()),
        (503, Some("unreachable"))
    );
    let (status, body) = server.signin("ann@example.com", PW).await;
    assert!(status >= 500, "{status} {body}");
    assert!(started.elapsed() < Duration::from_secs(15), "fails fast");

    pg.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.get("/readyz", None).await.0 != 200 {
        assert!(Instant::now() < deadline, "{}", server.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(server.signin("ann@example.com", PW).await.0, 200);
    assert!(!server.log().contains(PASSWORD));
}

/// `TESSERA_DATABASE_URL` and `database.url_file` select PostgreSQL too.
#[tokio::test]
async fn url_from_the_environment_or_a_file() {
    let pg = PgServer::shared();
    let url = pg.create_database();
    let server = Builder::default()
        .env("TESSERA_DATABASE_URL", &url)
        .start()
        .await;
    server.signup("Ann", "ann@example.com", PW).await;
    assert_eq!(
        pg.psql(db_name(&url), "SELECT email FROM users"),
        Ok("ann@example.com".into())
    );
    assert!(!server.dir.path().join("data/tessera.db").exists());

    let url = pg.create_database();
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), format!("{url}\n")).expect("write url file");
    let server = Builder::default()
        .toml(&format!("[database]\nurl_file = {:?}", file.path()))
        .start()
        .await;
    server.signup("Bob", "bob@example.com", PW).await;
    assert_eq!(
        pg.psql(db_name(&url), "SELECT email FROM users"),
        Ok("bob@example.com".into())
    );
    assert!(!server.log().contains(PASSWORD));
}

/// A PostgreSQL that does not answer, a wrong password, or a URL of another
/// database stop start-up with a message naming `database.url`, never its
/// password.
#[tokio::test]
async fn database_problems_fail_start_up_clearly() {
    let port = tessera_tests::free_port();
    let started = Instant::now();
    let (code, out) = TestServer::builder()
        .toml(&format!(
            "[database]\nurl = \"postgres://tessera:{PASSWORD}@127.0.0.1:{port}/tessera\"\nconnect_timeout_seconds = 2"
        ))
        .start_expecting_failure()
        .await;
    assert_ne!(code, 0);
    assert!(
        out.contains("database.url")
            && out.contains(&format!("postgres://tessera:***@127.0.0.1:{port}/tessera"))
            && out.contains("no answer within 2s"),
        "{out}"
    );
    assert!(!out.contains(PASSWORD), "{out}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "gives up after the connect timeout"
    );

    let pg = PgServer::shared();
    let url = pg.create_database().replace(PASSWORD, "wrong-Password-99");
    let (code, out) = TestServer::builder()
        .toml(&format!("[database]\nurl = {url:?}"))
        .start_expecting_failure()
        .await;
    assert_ne!(code, 0);
    assert!(
        out.contains("database.url") && out.contains("password authentication failed"),
        "{out}"
    );
    assert!(!out.contains("wrong-Password-99"), "{out}");

    let (code, out) = TestServer::builder()
        .toml("[database]\nurl = \"mysql://root:hunter2-Secret@db/tessera\"")
        .start_expecting_failure()
        .await;
    assert_eq!(code, 2);
    assert!(
        out.contains("database.url") && out.contains("only sqlite:, postgres: and postgresql:"),
        "{out}"
    );
    assert!(!out.contains("hunter2-Secret"), "{out}");

    let (code, out) = TestServer::builder()
        .toml("[database]\nurl = \"sqlite://x.db\"\nurl_file = \"/run/secrets/db\"")
        .start_expecting_failure()
        .await;
    assert_eq!(code, 2);
    assert!(
        out.contains("only one of database.url and database.url_file"),
        "{out}"
    );
}

/// Concurrent first sign-ups on two replicas make exactly one admin: the
/// "first account" insert is serialised on PostgreSQL as SQLite serialises
/// every write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_signups_make_one_admin() {
    let pg = PgServer::shared();
    let url = pg.create_database();
    let (a, b) = (
        Builder::default().postgres(pg.clone(), &url).start().await,
        Builder::default().postgres(pg.clone(), &url).start().await,
    );
    let c = tessera_tests::server::client();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16 {
        let url = if i % 2 == 0 {
            a.at("/api/v1/auths/signup")
        } else {
            b.at("/api/v1/auths/signup")
        };
        let req = c
            .post(url)
            .json(&json!({"name": "N", "email": format!("u{i}@example.com"), "password": PW}));
        tasks.spawn(async move {
            let res = req.send().await.expect("signup");
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        });
    }
    let results = tasks.join_all().await;
    assert!(
        results.iter().all(|(status, _)| *status == 200),
        "{results:?}"
    );
    let admins = results
        .iter()
        .filter(|(_, body)| body["role"] == "admin")
        .count();
    assert_eq!(admins, 1, "{results:?}");
}
