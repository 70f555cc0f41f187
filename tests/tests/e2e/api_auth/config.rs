//! Sign-up and sign-in config: bad configs stop start-up, the bootstrap
//! admin, and password sign-in switched off.
use super::*;

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
