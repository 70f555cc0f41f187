//! Local accounts and session tokens over the real HTTP API: every row of the
//! error table, each `expires_in` form, revocation across restarts, rate
//! limits, role changes and bad input.
use serde_json::{json, Value};
use std::time::Duration;
use tessera_tests::server::{client, TestServer};

const PW: &str = "correct horse";

fn token(user: &Value) -> &str {
    user["token"].as_str().expect("token")
}

/// Decodes a JWT's payload (unverified) for assertions.
fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("payload part");
    let bytes = base64_url_decode(part);
    serde_json::from_slice(&bytes).expect("payload json")
}

fn base64_url_decode(s: &str) -> Vec<u8> {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = ALPHA.iter().position(|&a| a == c).expect("base64url") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn base64_url_encode(bytes: &[u8]) -> String {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |a, &b| (a << 8) | b as u32) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(ALPHA[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn assert_detail(res: (u16, Value), status: u16, detail: &str) {
    assert_eq!(res.0, status, "body: {}", res.1);
    assert_eq!(res.1["detail"], detail);
}

tessera_tests::on_both_databases! {
    async fn first_signup_is_admin_and_later_ones_get_the_default_role(builder) {
        let server = builder.start().await;
        let (_, cfg) = server.get("/api/config", None).await;
        assert_eq!(cfg["first_user"], true);
        let admin = server.signup("Ann", "Ann@Example.com", PW).await;
        assert_eq!(admin["role"], "admin");
        assert_eq!(admin["email"], "ann@example.com");
        assert_eq!(admin["token_type"], "Bearer");
        assert!(
            admin["expires_at"].is_null(),
            "default lifetime is -1: never expires"
        );
        let claims = payload(token(&admin));
        assert_eq!(claims["sub"], admin["id"]);
        assert!(claims["jti"].is_string() && claims["iat"].is_i64() && claims.get("exp").is_none());

        let second = server.signup("Bob", "bob@example.com", PW).await;
        assert_eq!(second["role"], "pending");
        let (status, me) = server.get("/api/v1/auths/", Some(token(&admin))).await;
        assert_eq!(status, 200);
        assert_eq!(me["email"], "ann@example.com");
        assert_eq!(me["auth_method"], "session");
        assert_eq!(me["token"], admin["token"]);

        let dup = server
            .post(
                "/api/v1/auths/signup",
                None,
                &json!({"name": "Ann 2", "email": "ANN@example.com ", "password": PW}),
            )
            .await;
        assert_eq!(
            dup.0, 409,
            "same e-mail in another case is the same account"
        );
    }
}

#[tokio::test]
async fn error_table_rows() {
    let server = TestServer::builder()
        .toml("[signup]\ndefault_role = \"user\"")
        .start()
        .await;
    let admin = server.signup("Ann", "ann@example.com", PW).await;
    let user = server.signup("Bob", "bob@example.com", PW).await;
    assert_eq!(user["role"], "user");

    // 401 Invalid credentials: wrong password and unknown account alike
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

    // 401 Not authenticated
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

    // 401 Invalid token: malformed, forged, other scheme
    for bad in ["abc", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30."] {
        assert_detail(
            server.get("/api/v1/auths/", Some(bad)).await,
            401,
            "Invalid token",
        );
    }
    let t = token(&admin);
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
    let mut claims = payload(t);
    claims["sub"] = user["id"].clone();
    let swapped = format!(
        "{head}.{}.{sig}",
        base64_url_encode(claims.to_string().as_bytes())
    );
    assert_detail(
        server.get("/api/v1/auths/", Some(&swapped)).await,
        401,
        "Invalid token",
    );
    let none = format!(
        "{}.{body}.",
        base64_url_encode(br#"{"alg":"none","typ":"JWT","kid":"tessera-session"}"#)
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

    // 403 Access prohibited: a user on an admin endpoint
    assert_detail(
        server.get("/api/v1/users/", Some(token(&user))).await,
        403,
        "Access prohibited",
    );
    let (status, users) = server.get("/api/v1/users/", Some(t)).await;
    assert_eq!(status, 200);
    assert_eq!(users.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn pending_users_reach_only_their_profile() {
    let server = TestServer::start().await;
    let _admin = server.signup("Ann", "ann@example.com", PW).await;
    let pending = server.signup("Bob", "bob@example.com", PW).await;
    assert_eq!(pending["role"], "pending");
    assert_eq!(
        server.get("/api/v1/auths/", Some(token(&pending))).await.0,
        200
    );
    assert_detail(
        server.get("/api/v1/groups/", Some(token(&pending))).await,
        403,
        "Access prohibited",
    );
    assert_detail(
        server.get("/api/v1/users/", Some(token(&pending))).await,
        403,
        "Access prohibited",
    );
}

tessera_tests::on_both_databases! {
    async fn role_changes_and_deletion_take_effect_on_the_next_request(builder) {
        let server = builder.start().await;
        let admin = server.signup("Ann", "ann@example.com", PW).await;
        let bob = server.signup("Bob", "bob@example.com", PW).await;
        let bob_t = token(&bob);
        assert_eq!(server.get("/api/v1/groups/", Some(bob_t)).await.0, 403);

        let promote = |role: &'static str| json!({"id": bob["id"], "role": role});
        let (status, body) = server
            .post(
                "/api/v1/users/update/role",
                Some(token(&admin)),
                &promote("user"),
            )
            .await;
        assert_eq!((status, body["role"].as_str()), (200, Some("user")));
        assert_eq!(
            server.get("/api/v1/groups/", Some(bob_t)).await.0,
            200,
            "promotion applies at once"
        );
        assert_eq!(server.get("/api/v1/users/", Some(bob_t)).await.0, 403);

        server
            .post(
                "/api/v1/users/update/role",
                Some(token(&admin)),
                &promote("admin"),
            )
            .await;
        assert_eq!(server.get("/api/v1/users/", Some(bob_t)).await.0, 200);
        server
            .post(
                "/api/v1/users/update/role",
                Some(token(&admin)),
                &promote("pending"),
            )
            .await;
        assert_detail(
            server.get("/api/v1/users/", Some(bob_t)).await,
            403,
            "Access prohibited",
        );
        let (_, me) = server.get("/api/v1/auths/", Some(bob_t)).await;
        assert_eq!(me["role"], "pending");

        // bad role value and unknown user
        let (status, _) = server
            .post(
                "/api/v1/users/update/role",
                Some(token(&admin)),
                &json!({"id": bob["id"], "role": "root"}),
            )
            .await;
        assert_eq!(status, 422);
        let (status, _) = server
            .post(
                "/api/v1/users/update/role",
                Some(token(&admin)),
                &json!({"id": "nope", "role": "user"}),
            )
            .await;
        assert_eq!(status, 404);
        // the last admin cannot demote themselves
        let (status, _) = server
            .post(
                "/api/v1/users/update/role",
                Some(token(&admin)),
                &json!({"id": admin["id"], "role": "user"}),
            )
            .await;
        assert_eq!(status, 409);

        let res = client()
            .delete(server.at(&format!("/api/v1/users/{}", bob["id"].as_str().unwrap())))
            .bearer_auth(token(&admin))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_detail(
            server.get("/api/v1/auths/", Some(bob_t)).await,
            401,
            "Invalid token",
        );
    }
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
    let iat = payload(token(&ann))["iat"].as_i64().unwrap();
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
        let claims = payload(token(&ann));
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            secs,
            "{form}"
        );
    }
}

#[tokio::test]
async fn bad_config_fails_start_up_with_a_clear_message() {
    let (code, out) = TestServer::builder()
        .toml("[session]\nexpires_in = \"soon\"")
        .start_expecting_failure()
        .await;
    assert_eq!(code, 2);
    assert!(out.contains("expires_in") && out.contains("30m"), "{out}");

    let (code, out) = TestServer::builder()
        .env("TESSERA_ADMIN_EMAIL", "root@example.com")
        .start_expecting_failure()
        .await;
    assert_eq!(code, 2);
    assert!(out.contains("admin.password"), "{out}");

    let (code, out) = TestServer::builder()
        .toml("[server]\nlisen = 1")
        .start_expecting_failure()
        .await;
    assert_ne!(code, 0);
    assert!(out.contains("lisen") || out.contains("duplicate"), "{out}");

    let (code, out) = TestServer::builder()
        .toml("[signup]\nenabled = \"maybe\"")
        .start_expecting_failure()
        .await;
    assert_eq!(code, 2);
    assert!(
        out.contains("signup.enabled") || out.contains("enabled"),
        "{out}"
    );

    let (code, out) = TestServer::builder()
        .toml("[api_keys]\nsecret = \"short\"\nsecret_file = \"/run/secrets/k\"")
        .start_expecting_failure()
        .await;
    assert_eq!(code, 2);
    assert!(out.contains("api_keys.secret must be at least 32"), "{out}");
    assert!(
        out.contains("only one of api_keys.secret and api_keys.secret_file"),
        "{out}"
    );
    assert!(!out.contains("short"), "the secret is not echoed: {out}");

    let (code, out) = TestServer::builder()
        .toml("[api_keys]\nsecret_file = \"/nonexistent/tessera-api-keys\"")
        .start_expecting_failure()
        .await;
    assert_ne!(code, 0);
    assert!(
        out.contains("api_keys.secret_file /nonexistent/tessera-api-keys"),
        "{out}"
    );
}

tessera_tests::on_both_databases! {
    async fn admin_is_bootstrapped_from_the_environment(builder) {
        let server = builder
            .env("TESSERA_ADMIN_EMAIL", "root@example.com")
            .env("TESSERA_ADMIN_PASSWORD", "bootstrap secret")
            .toml("[signup]\nenabled = false")
            .start()
            .await;
        let (status, root) = server.signin("root@example.com", "bootstrap secret").await;
        assert_eq!(status, 200);
        assert_eq!(root["role"], "admin");
        assert!(
            !server.log().contains("bootstrap secret"),
            "passwords never reach the log"
        );
        let (status, body) = server
            .post(
                "/api/v1/auths/signup",
                None,
                &json!({"name": "Eve", "email": "eve@example.com", "password": PW}),
            )
            .await;
        assert_eq!(
            (status, body["detail"].as_str()),
            (403, Some("Sign-up is disabled"))
        );
        let (_, cfg) = server.get("/api/config", None).await;
        assert_eq!(cfg["signup_enabled"], false);
    }
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited() {
    let server = TestServer::builder()
        .toml("[rate_limit]\nper_account_per_minute = 3\nper_ip_per_minute = 6")
        .start()
        .await;
    server.signup("Ann", "ann@example.com", PW).await; // sign-up counts: attempt 1 for IP and account
    for _ in 0..2 {
        assert_eq!(
            server.signin("ann@example.com", "wrong password").await.0,
            401
        );
    }
    let res = client()
        .post(server.at("/api/v1/auths/signin"))
        .json(&json!({"email": "ann@example.com", "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        429,
        "the account is locked for now, even with the right password"
    );
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(
        res.json::<Value>().await.unwrap()["detail"],
        "Rate limit exceeded"
    );
    // another account from the same IP still works, until the IP's limit
    // (attempts from this IP so far: sign-up, 2 wrong, 1 refused = 4)
    assert_eq!(server.signin("other@example.com", "x").await.0, 401);
    assert_eq!(server.signin("third@example.com", "x").await.0, 401);
    assert_eq!(
        server.signin("fourth@example.com", "x").await.0,
        429,
        "per-IP limit: 6 a minute"
    );
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx() {
    let server = TestServer::start().await;
    let post_raw = |body: Vec<u8>, ctype: &'static str| {
        let url = server.at("/api/v1/auths/signin");
        async move {
            let res = client()
                .post(url)
                .header("content-type", ctype)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, body) = post_raw(b"{\"email\": ".to_vec(), "application/json").await;
    assert_eq!(status, 400);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("Malformed JSON"),
        "{body}"
    );

    let (status, body) = post_raw(b"{\"email\": \"a@b.co\"}".to_vec(), "application/json").await;
    assert_eq!(status, 422);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("missing field `password`"),
        "{body}"
    );

    let (status, body) = post_raw(
        b"{\"email\": 5, \"password\": []}".to_vec(),
        "application/json",
    )
    .await;
    assert_eq!(status, 422, "{body}");

    let (status, body) = post_raw(
        b"{\"email\": \"\xff\xfe\", \"password\": \"x\"}".to_vec(),
        "application/json",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["detail"].is_string());

    let mut big = b"{\"email\": \"".to_vec();
    big.extend(std::iter::repeat_n(b'a', 1024 * 1024));
    big.extend(b"\", \"password\": \"x\"}");
    let (status, body) = post_raw(big.clone(), "application/json").await;
    assert_eq!(status, 413);
    assert!(
        body["detail"].as_str().unwrap().contains("too large"),
        "{body}"
    );
    // the same body without a length (chunked): the limit holds as well
    let answer = chunked_post(&server.url, "/api/v1/auths/signin", &big).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("too large"), "{answer}");

    let (status, body) = post_raw(b"email=a".to_vec(), "application/x-www-form-urlencoded").await;
    assert_eq!(status, 415);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("application/json"),
        "{body}"
    );

    // sign-up input rules
    for (name, email, pw, why) in [
        ("", "a@b.co", PW, "empty name"),
        ("A", "not-an-email", PW, "bad e-mail"),
        ("A", "a@b.co", "short", "short password"),
    ] {
        let (status, body) = server
            .post(
                "/api/v1/auths/signup",
                None,
                &json!({"name": name, "email": email, "password": pw}),
            )
            .await;
        assert_eq!(status, 400, "{why}: {body}");
        assert!(body["detail"].is_string());
    }
    // the server is fine afterwards
    assert_eq!(server.get("/healthz", None).await.0, 200);
    let (status, ready) = server.get("/readyz", None).await;
    assert_eq!((status, ready["status"].as_str()), (200, Some("ready")));
    assert_detail(server.get("/api/v1/nothing", None).await, 404, "Not found");
}

const SIGNIN_DISABLED: &str = "Password sign-in is disabled";

#[tokio::test]
async fn disabled_password_signin_lets_only_the_bootstrap_admin_in() {
    let server = TestServer::builder()
        .env("TESSERA_ADMIN_EMAIL", "root@example.com")
        .env("TESSERA_ADMIN_PASSWORD", "bootstrap secret")
        .toml("[password]\nsignin_enabled = false\n[signup]\ndefault_role = \"user\"")
        .start()
        .await;
    let (_, cfg) = server.get("/api/config", None).await;
    assert_eq!(cfg["password_signin"], false);

    // sign-up follows [signup], not [password]
    let bob = server.signup("Bob", "bob@example.com", PW).await;
    assert_eq!(bob["role"], "user");

    // the same refusal whether the account exists, the password is right, or
    // the e-mail is the admin's with a wrong password
    for (email, password) in [
        ("bob@example.com", PW),
        ("bob@example.com", "wrong password"),
        ("nobody@example.com", PW),
        ("root@example.com", "wrong password"),
    ] {
        assert_detail(server.signin(email, password).await, 403, SIGNIN_DISABLED);
    }

    let (status, root) = server.signin("Root@Example.com", "bootstrap secret").await;
    assert_eq!(status, 200, "{root}");
    assert_eq!(root["role"], "admin");
    let (status, me) = server.get("/api/v1/auths/", Some(token(&root))).await;
    assert_eq!(
        (status, me["email"].as_str()),
        (200, Some("root@example.com"))
    );
    // a session from before keeps working: only sign-in is refused
    assert_eq!(server.get("/api/v1/auths/", Some(token(&bob))).await.0, 200);
}

tessera_tests::on_both_databases! {
    async fn without_an_admin_email_the_first_account_is_the_bootstrap_admin(builder) {
        let server = builder
            .env("TESSERA_PASSWORD_SIGNIN_ENABLED", "false")
            .toml("[signup]\ndefault_role = \"admin\"")
            .start()
            .await;
        let (_, cfg) = server.get("/api/config", None).await;
        assert_eq!(cfg["password_signin"], false);
        let ann = server.signup("Ann", "ann@example.com", PW).await;
        let bob = server.signup("Bob", "bob@example.com", PW).await;
        assert_eq!(
            (ann["role"].as_str(), bob["role"].as_str()),
            (Some("admin"), Some("admin"))
        );
        assert_detail(
            server.signin("bob@example.com", PW).await,
            403,
            SIGNIN_DISABLED,
        );
        assert_eq!(server.signin("ann@example.com", PW).await.0, 200);

        // once demoted, the first account is no longer let in
        let (status, _) = server
            .post(
                "/api/v1/users/update/role",
                Some(token(&bob)),
                &json!({"id": ann["id"], "role": "user"}),
            )
            .await;
        assert_eq!(status, 200);
        assert_detail(
            server.signin("ann@example.com", PW).await,
            403,
            SIGNIN_DISABLED,
        );
    }
}

#[tokio::test]
async fn password_signin_is_on_by_default() {
    let server = TestServer::builder()
        .toml("[signup]\ndefault_role = \"user\"")
        .start()
        .await;
    let (_, cfg) = server.get("/api/config", None).await;
    assert_eq!(cfg["password_signin"], true);
    server.signup("Ann", "ann@example.com", PW).await;
    server.signup("Bob", "bob@example.com", PW).await;
    assert_eq!(server.signin("bob@example.com", PW).await.0, 200);
    assert_detail(
        server.signin("bob@example.com", "wrong password").await,
        401,
        "Invalid credentials",
    );
    assert_detail(
        server.signin("nobody@example.com", PW).await,
        401,
        "Invalid credentials",
    );
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

/// POSTs `body` as JSON in 16 KiB chunks (`Transfer-Encoding: chunked`, no
/// length) over a plain connection; returns what the server answered. The
/// answer is read while the body is still being sent: the server may answer
/// and close before it has read the whole body.
async fn chunked_post(base: &str, path: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://");
    let (mut rx, mut tx) = tokio::net::TcpStream::connect(host)
        .await
        .unwrap()
        .into_split();
    let reader = tokio::spawn(async move {
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = rx.read(&mut buf).await {
            answer.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&answer).into_owned()
    });
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let mut frames = vec![head.into_bytes()];
    for chunk in body.chunks(16 * 1024) {
        let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
        frame.extend_from_slice(chunk);
        frame.extend_from_slice(b"\r\n");
        frames.push(frame);
    }
    frames.push(b"0\r\n\r\n".to_vec());
    for frame in frames {
        if tx.write_all(&frame).await.is_err() {
            break; // the server has answered and closed
        }
    }
    reader.await.unwrap()
}
