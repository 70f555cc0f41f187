//! SSO sessions that live exactly as long as the provider's grant (issue
//! #18) against the real provider: with `offline_access` the provider grants
//! a refresh token, the server renews its 20 s access token while the
//! session is used — on either of two replicas, the refresh token used by
//! one at a time — for two minutes; revoking the grant at the provider ends
//! the session on both at the next renewal. Without a refresh token the
//! session ends with the provider's access token, as before. The same on
//! PostgreSQL, with a 4 s access token.
use super::*;
use std::time::Instant;
use tessera_tests::redis::RedisServer;

const SHARED_SECRET: &str = "refresh-replicas-share-this-session-secret-01";
const ME: &str = "/api/v1/auths/";
const ACCESS_TOKEN_TTL: u64 = 20;
const OFFLINE: &str = "scopes = [\"openid\", \"email\", \"profile\", \"offline_access\"]";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// A full SSO sign-in at `server`: the `SessionUser`.
async fn sign_in(server: &TestServer) -> Value {
    let landing = sign_in_at(server, IDP, "alice-sub", "alice-password").await;
    let (status, body) = complete(server, &landing).await;
    assert_eq!(status, 200, "{body}\n{}", server.log());
    body
}

#[tokio::test]
async fn a_renewed_grant_keeps_a_20s_session_alive_for_2_minutes_and_its_revocation_ends_it() {
    let redis = RedisServer::start().await;
    let shared = tempfile::tempdir().expect("temp dir");
    let (url_a, url_b) = (reserve_url(), reserve_url());
    let spec = ProviderSpec::new()
        .account(alice())
        .access_token_ttl(ACCESS_TOKEN_TTL)
        .client(ClientSpec::new(CLIENT_ID, SECRET).redirect_uri(&callback(&url_a, IDP)));
    let provider = OidcProvider::start(spec).await;
    let toml = format!(
        "{}\n[redis]\nurl = \"{}\"\ntimeout = \"1s\"\n[session]\nsecret = \"{SHARED_SECRET}\"\n",
        provider_toml(IDP, LABEL, &provider.discovery_url(), CLIENT_ID, OFFLINE),
        redis.url
    );
    let a = tessera_on(TestServer::builder().data_dir(shared.path()), &url_a, &toml).await;
    let b = TestServer::builder()
        .data_dir(shared.path())
        .env("TESSERA_SERVER_LISTEN", url_b.trim_start_matches("http://"))
        .env("TESSERA_SERVER_PUBLIC_URL", &url_a)
        .toml(&toml)
        .start()
        .await;

    let signed_in = now();
    let user = sign_in(&a).await;
    let session = token(&user).to_owned();
    // not capped by the provider's 20 s access token
    let expires_at = user["expires_at"].as_i64();
    assert!(expires_at.is_none_or(|e| e > signed_in + 3600), "{user}");

    // two minutes of activity, alternating replicas
    let start = Instant::now();
    let mut requests = 0;
    while start.elapsed() < Duration::from_secs(120) {
        for (name, server) in [("A", &a), ("B", &b)] {
            let (status, body) = server.get(ME, Some(&session)).await;
            assert_eq!(
                status,
                200,
                "{name} after {:?}: {body}\n{}\n{}",
                start.elapsed(),
                a.log(),
                b.log()
            );
            requests += 1;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // one renewal per due period (15 s of each 20 s), by one replica at a
    // time: the refresh token was never used twice
    let log = provider.log();
    let renewals = log.matches("refresh_token.granted").count();
    println!(
        "{requests} requests over two minutes of a 20 s access token, all 200; {renewals} renewals"
    );
    assert!((6..=10).contains(&renewals), "{renewals} renewals\n{log}");
    assert!(!log.contains("grant.error"), "{log}");

    // the provider ends the grant: the next renewal (due 5 s before the
    // access token's end) ends the session on both replicas
    assert!(provider.revoke_grants("alice-sub").await >= 1);
    let revoked = Instant::now();
    let ended = loop {
        let (sa, _) = a.get(ME, Some(&session)).await;
        let (sb, _) = b.get(ME, Some(&session)).await;
        if sa == 401 && sb == 401 {
            break revoked.elapsed();
        }
        assert!(
            revoked.elapsed() < Duration::from_secs(ACCESS_TOKEN_TTL + 5),
            "still {sa}/{sb} {:?} after the grant was revoked\n{}\n{}",
            revoked.elapsed(),
            a.log(),
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!("grant revoked at the provider: session refused on both replicas after {ended:?}");
    for server in [&a, &b] {
        let (status, body) = server.get(ME, Some(&session)).await;
        assert_eq!(status, 401, "{body}");
        // nothing of the provider's tokens in the logs
        assert!(!server.log().contains("refresh_token="), "{}", server.log());
    }
    // a new sign-in works again
    let again = sign_in(&a).await;
    assert_eq!(b.get(ME, Some(token(&again))).await.0, 200);
}

#[tokio::test]
async fn without_a_refresh_token_the_session_ends_with_the_access_token() {
    let url = reserve_url();
    let spec = ProviderSpec::new()
        .account(alice())
        .access_token_ttl(ACCESS_TOKEN_TTL)
        .client(ClientSpec::new(CLIENT_ID, SECRET).redirect_uri(&callback(&url, IDP)));
    let provider = OidcProvider::start(spec).await;
    let toml = provider_toml(IDP, LABEL, &provider.discovery_url(), CLIENT_ID, "");
    let server = tessera_at(&url, &toml).await;
    let before = now();
    let user = sign_in(&server).await;
    let exp = user["expires_at"].as_i64().expect("capped session");
    assert!(
        exp >= before + ACCESS_TOKEN_TTL as i64 - 2 && exp <= now() + ACCESS_TOKEN_TTL as i64,
        "{user}"
    );
}

#[tokio::test]
async fn on_postgresql_renewals_keep_the_session_and_a_revoked_grant_ends_it() {
    use tessera_tests::server::Database;
    const TTL: u64 = 4; // renewal due 1 s before the end: every 3 s
    let url = reserve_url();
    let spec = ProviderSpec::new()
        .account(alice())
        .access_token_ttl(TTL)
        .client(ClientSpec::new(CLIENT_ID, SECRET).redirect_uri(&callback(&url, IDP)));
    let provider = OidcProvider::start(spec).await;
    let toml = provider_toml(IDP, LABEL, &provider.discovery_url(), CLIENT_ID, OFFLINE);
    let server = tessera_on(
        TestServer::builder().database(Database::Postgres),
        &url,
        &toml,
    )
    .await;
    let session = token(&sign_in(&server).await).to_owned();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(12) {
        let (status, body) = server.get(ME, Some(&session)).await;
        assert_eq!(
            status,
            200,
            "after {:?}: {body}\n{}",
            start.elapsed(),
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let log = provider.log();
    assert!(log.matches("refresh_token.granted").count() >= 3, "{log}");
    assert!(provider.revoke_grants("alice-sub").await >= 1);
    let revoked = Instant::now();
    while server.get(ME, Some(&session)).await.0 != 401 {
        assert!(
            revoked.elapsed() < Duration::from_secs(TTL + 3),
            "still accepted\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
