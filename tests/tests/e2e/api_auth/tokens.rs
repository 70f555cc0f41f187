//! Session tokens: every row of the error table, revocation across
//! restarts, single use, each `expires_in` form, repeated tokens.
use super::*;

#[tokio::test]
async fn error_table_rows() {
    let server = TestServer::builder()
        .toml("[signup]\ndefault_role = \"user\"")
        .start()
        .await;
    let admin = server.signup("Ann", "ann@example.com", PW).await;
    let user = server.signup("Bob", "bob@example.com", PW).await;
    assert_eq!(user["role"], "user");

    invalid_credentials_rows(&server).await;
    not_authenticated_rows(&server).await;
    invalid_token_rows(&server, &admin, &user).await;
    access_prohibited_rows(&server, &admin, &user).await;
}

/// 401 Invalid credentials: wrong password and unknown account alike.
async fn invalid_credentials_rows(server: &TestServer) {
    assert_detail(
        server.signin("ann@example.com", "wrong password").await,
        401,
        "Invalid credentials",
    );
    assert_detail(
        server.signin("nobody@example.com", PW).await,
        401,
        "Invalid credentials",
    );
    assert_eq!(
        server.signin("ANN@example.com", PW).await.0,
        200,
        "e-mail is case-insensitive"
    );
}

/// 401 Not authenticated.
async fn not_authenticated_rows(server: &TestServer) {
    assert_detail(
        server.get("/api/v1/auths/", None).await,
        401,
        "Not authenticated",
    );
    assert_detail(
        server.get("/api/v1/users/", None).await,
        401,
        "Not authenticated",
    );
    let res = client()
        .get(server.at("/api/v1/auths/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
}

/// 401 Invalid token: malformed, forged, other scheme.
async fn invalid_token_rows(server: &TestServer, admin: &Value, user: &Value) {
    for bad in ["abc", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30."] {
        assert_detail(
            server.get("/api/v1/auths/", Some(bad)).await,
            401,
            "Invalid token",
        );
    }
    let t = token(admin);
    let (head, rest) = t.split_once('.').unwrap();
    let (body, sig) = rest.split_once('.').unwrap();
    let mut flipped: Vec<char> = sig.chars().collect();
    flipped[10] = if flipped[10] == 'A' { 'B' } else { 'A' };
    let forged_sig = format!("{head}.{body}.{}", flipped.iter().collect::<String>());
    assert_detail(
        server.get("/api/v1/auths/", Some(&forged_sig)).await,
        401,
        "Invalid token",
    );
    // bob's token re-signed with nothing: claims of another user under ann's signature
    let mut claims = jwt_payload(t);
    claims["sub"] = user["id"].clone();
    let swapped = format!("{head}.{}.{sig}", b64(claims.to_string().as_bytes()));
    assert_detail(
        server.get("/api/v1/auths/", Some(&swapped)).await,
        401,
        "Invalid token",
    );
    let none = format!(
        "{}.{body}.",
        b64(br#"{"alg":"none","typ":"JWT","kid":"tessera-session"}"#)
    );
    assert_detail(
        server.get("/api/v1/auths/", Some(&none)).await,
        401,
        "Invalid token",
    );
    let res = client()
        .get(server.at("/api/v1/auths/"))
        .header("authorization", format!("Basic {t}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );
}

/// 403 Access prohibited: a user on an admin endpoint.
async fn access_prohibited_rows(server: &TestServer, admin: &Value, user: &Value) {
    assert_detail(
        server.get("/api/v1/users/", Some(token(user))).await,
        403,
        "Access prohibited",
    );
    let (status, users) = server.get("/api/v1/users/", Some(token(admin))).await;
    assert_eq!(status, 200);
    assert_eq!(users.as_array().unwrap().len(), 2);
}

tessera_tests::on_both_databases! {
    async fn signout_revocation_survives_a_restart(builder) {
        let mut server = builder.start().await;
        let ann = server.signup("Ann", "ann@example.com", PW).await;
        let (_, second) = server.signin("ann@example.com", PW).await;
        assert_ne!(ann["token"], second["token"]);
        let (status, body) = server.get("/api/v1/auths/signout", Some(token(&ann))).await;
        assert_eq!((status, body["status"].as_bool()), (200, Some(true)));
        assert_detail(
            server.get("/api/v1/auths/", Some(token(&ann))).await,
            401,
            "Invalid token",
        );
        assert_eq!(
            server.get("/api/v1/auths/", Some(token(&second))).await.0,
            200,
            "other sessions live on"
        );

        server.restart().await;
        assert_detail(
            server.get("/api/v1/auths/", Some(token(&ann))).await,
            401,
            "Invalid token",
        );
        assert_eq!(
            server.get("/api/v1/auths/", Some(token(&second))).await.0,
            200,
            "the generated secret persists, so sessions survive a restart"
        );
        let mode = std::fs::metadata(server.dir.path().join("data/session.secret")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.permissions().mode() & 0o777, 0o600);
        assert!(
            !server.log().contains(token(&second)),
            "tokens never reach the log"
        );
    }
}

#[tokio::test]
async fn single_use_tokens_work_once() {
    let server = TestServer::builder()
        .toml("[session]\nexpires_in = 0")
        .start()
        .await;
    let ann = server.signup("Ann", "ann@example.com", PW).await;
    assert!(ann["expires_at"].is_i64());
    assert_eq!(server.get("/api/v1/auths/", Some(token(&ann))).await.0, 200);
    assert_detail(
        server.get("/api/v1/auths/", Some(token(&ann))).await,
        401,
        "Invalid token",
    );

    // concurrent use: exactly one of many wins
    let (_, fresh) = server.signin("ann@example.com", PW).await;
    let t = token(&fresh).to_owned();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (url, t) = (server.at("/api/v1/auths/"), t.clone());
            tokio::spawn(async move {
                client()
                    .get(url)
                    .bearer_auth(t)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        if task.await.unwrap() == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 1, "a single-use token is good for exactly one request");
}

#[tokio::test]
async fn durations_expire() {
    let server = TestServer::builder()
        .env("TESSERA_SESSION_EXPIRES_IN", "2s")
        .start()
        .await;
    let ann = server.signup("Ann", "ann@example.com", PW).await;
    let exp = ann["expires_at"].as_i64().unwrap();
    let iat = jwt_payload(token(&ann))["iat"].as_i64().unwrap();
    assert_eq!(exp - iat, 2);
    assert_eq!(server.get("/api/v1/auths/", Some(token(&ann))).await.0, 200);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_detail(
        server.get("/api/v1/auths/", Some(token(&ann))).await,
        401,
        "Invalid token",
    );

    for (form, secs) in [("30m", 1800), ("2h", 7200), ("7d", 604800), ("4w", 2419200)] {
        let server = TestServer::builder()
            .toml(&format!("[session]\nexpires_in = \"{form}\""))
            .start()
            .await;
        let ann = server.signup("Ann", "ann@example.com", PW).await;
        let claims = jwt_payload(token(&ann));
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            secs,
            "{form}"
        );
    }
}

/// A session token used again and again is served from the verified-token
/// cache; each of sign-out, demotion, deletion and expiry still refuses it on
/// the very next request, with the cache on (the default) and off.
#[tokio::test]
async fn repeated_session_tokens_are_refused_once_they_should_be() {
    for cache in ["10000", "0"] {
        let server = TestServer::builder()
            .env("TESSERA_CACHE_VERIFIED_TOKENS", cache)
            .env("TESSERA_SESSION_EXPIRES_IN", "5s")
            .toml("[signup]\ndefault_role = \"user\"")
            .start()
            .await;
        server.signup("Ann", "ann@example.com", PW).await;
        let bob = server.signup("Bob", "bob@example.com", PW).await;
        // a fresh admin token for each admin call: a loaded machine is slow
        let admin = || async { server.signin("ann@example.com", PW).await.1 };
        let hammer = |t: String| {
            let server = &server;
            async move {
                for _ in 0..3 {
                    assert_eq!(server.get("/api/v1/groups/", Some(&t)).await.0, 200);
                    // the answer is rendered once, then shared by the requests
                    assert_eq!(server.get("/api/v1/auths/", Some(&t)).await.0, 200);
                }
            }
        };

        // sign-out
        let (_, s) = server.signin("bob@example.com", PW).await;
        hammer(token(&s).to_owned()).await;
        assert_eq!(
            server.get("/api/v1/auths/signout", Some(token(&s))).await.0,
            200
        );
        assert_detail(
            server.get("/api/v1/groups/", Some(token(&s))).await,
            401,
            "Invalid token",
        );

        // demotion to pending, then deletion
        let (_, s) = server.signin("bob@example.com", PW).await;
        hammer(token(&s).to_owned()).await;
        let (status, _) = server
            .post(
                "/api/v1/users/update/role",
                Some(token(&admin().await)),
                &json!({"id": bob["id"], "role": "pending"}),
            )
            .await;
        assert_eq!(status, 200);
        assert_detail(
            server.get("/api/v1/groups/", Some(token(&s))).await,
            403,
            "Access prohibited",
        );
        assert_eq!(
            server.get("/api/v1/auths/", Some(token(&s))).await.1["role"],
            "pending"
        );
        let res = client()
            .delete(server.at(&format!("/api/v1/users/{}", bob["id"].as_str().unwrap())))
            .bearer_auth(token(&admin().await))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_detail(
            server.get("/api/v1/auths/", Some(token(&s))).await,
            401,
            "Invalid token",
        );

        // expiry
        let s = admin().await;
        hammer(token(&s).to_owned()).await;
        let exp = s["expires_at"].as_i64().unwrap();
        let wait = exp * 1000 + 100
            - std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64;
        tokio::time::sleep(Duration::from_millis(wait.max(0) as u64)).await;
        assert_detail(
            server.get("/api/v1/auths/", Some(token(&s))).await,
            401,
            "Invalid token",
        );
    }
}
