//! Local accounts and session tokens over the real HTTP API.
use serde_json::json;
use tessera_tests::server::{client, TestServer};

#[tokio::test]
async fn first_signup_is_admin_and_token_works() {
    let server = TestServer::start().await;
    let admin = server
        .signup("Ann", "ann@example.com", "correct horse")
        .await;
    assert_eq!(admin["role"], "admin");
    assert_eq!(admin["token_type"], "Bearer");
    assert!(admin["expires_at"].is_null());
    let second = server
        .signup("Bob", "bob@example.com", "correct horse")
        .await;
    assert_eq!(second["role"], "pending");
    let (status, me) = server.get("/api/v1/auths/", admin["token"].as_str()).await;
    assert_eq!(status, 200);
    assert_eq!(me["email"], "ann@example.com");
    assert_eq!(me["auth_method"], "session");
    let res = client()
        .post(server.at("/api/v1/auths/signup"))
        .json(&json!({"name": "Ann 2", "email": "ANN@example.com", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        409,
        "same e-mail in another case is the same account"
    );
}
