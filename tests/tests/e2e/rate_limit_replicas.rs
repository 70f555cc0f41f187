//! `[rate_limit]` across two replicas sharing one Redis: a client
//! alternating them meets 429 at the configured count, not at twice it;
//! with Redis gone the limited endpoints refuse (503) instead of counting
//! nothing.
use crate::support::PW;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tessera_tests::redis::RedisServer;
use tessera_tests::server::{client, status_and_json, TestServer};

const SECRET: &str = "replicas-share-this-session-secret-0123456789";
/// Attempts a minute against one account: one back every 12 s, far longer
/// than the test takes.
const PER_ACCOUNT: usize = 5;

/// Two replicas on one data folder, session secret and Redis; the admin
/// account is bootstrapped (no sign-up, so no attempt counted yet).
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
        "[redis]\nurl = \"{}\"\ntimeout = \"1s\"\n[session]\nsecret = \"{SECRET}\"\n\
         [admin]\nemail = \"ann@example.com\"\npassword = \"{PW}\"\n\
         [rate_limit]\nper_account_per_minute = {PER_ACCOUNT}\nper_ip_per_minute = 100\n",
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

/// A password sign-in: the status, the `Retry-After` header and the body.
async fn signin(server: &TestServer, email: &str, password: &str) -> (u16, Option<u64>, Value) {
    let res = client()
        .post(server.at("/api/v1/auths/signin"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("signin request");
    let retry = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let (status, body) = status_and_json(res).await;
    (status, retry, body)
}

#[tokio::test]
async fn a_client_alternating_replicas_meets_the_account_limit_once() {
    let p = pair().await;
    let replicas = [&p.a, &p.b];
    let mut statuses = Vec::new();
    for i in 0..PER_ACCOUNT + 1 {
        let (status, _, _) = signin(replicas[i % 2], "ann@example.com", "wrong password").await;
        statuses.push(status);
    }
    let mut want = vec![401; PER_ACCOUNT];
    want.push(429);
    assert_eq!(
        statuses,
        want,
        "429 at attempt {} across both replicas: A {} B {}",
        PER_ACCOUNT + 1,
        p.a.log(),
        p.b.log()
    );

    // both replicas refuse the account now, even with the right password,
    // and say when to come back (one attempt back every 12 s)
    for server in replicas {
        let (status, retry, body) = signin(server, "ann@example.com", PW).await;
        assert_eq!(
            (status, body["detail"].as_str()),
            (429, Some("Rate limit exceeded"))
        );
        let retry = retry.expect("a Retry-After header");
        assert!((1..=12).contains(&retry), "Retry-After {retry}");
    }
    // another account from the same address still gets an answer
    assert_eq!(signin(&p.b, "bob@example.com", "x").await.0, 401);
}

#[tokio::test]
async fn with_redis_gone_sign_in_is_refused_not_unlimited() {
    let mut p = pair().await;
    let (status, _, _) = signin(&p.a, "ann@example.com", PW).await;
    assert_eq!(status, 200);

    p.redis.kill().await;
    for server in [&p.a, &p.b] {
        for password in [PW, "wrong password"] {
            let (status, _, body) = signin(server, "ann@example.com", password).await;
            assert_eq!(status, 503, "{body}");
            assert!(
                body["detail"].as_str().unwrap_or("").contains("Redis"),
                "{body}"
            );
        }
    }
    let res = client()
        .post(p.b.at("/api/v1/auths/signup"))
        .json(&json!({"name": "Bob", "email": "bob@example.com", "password": PW}))
        .send()
        .await
        .expect("signup request");
    assert_eq!(res.status(), 503, "sign-up is limited too");

    // Redis back (empty): sign-in works again
    p.redis.run().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        let (status, _, _) = signin(&p.b, "ann@example.com", PW).await;
        if status != 503 || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, 200, "sign-in did not come back: {}", p.b.log());
}
