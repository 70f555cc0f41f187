//! Accounts: the first sign-up becomes admin, pending users, role changes
//! and deletion.
use super::*;

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
        let claims = jwt_payload(token(&admin));
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
