//! Roles from the provider's groups, the allowed groups, and merging with
//! a local account by verified e-mail only.
use super::*;

#[tokio::test]
async fn roles_from_groups_and_the_allowed_groups() {
    let accounts = vec![
        Account::new("ann", "pw-ann")
            .email("ann@example.com", true)
            .groups(&["Admin"]),
        Account::new("bob", "pw-bob")
            .email("bob@example.com", true)
            .groups(&["TRUSTED"]),
        Account::new("carl", "pw-carl")
            .email("carl@example.com", true)
            .groups(&["untrusted"]),
        Account::new("dora", "pw-dora").email("dora@example.com", true),
    ];
    let (provider, server) = sso(
        accounts,
        |c| c,
        "groups_claim = \"groups\"\nadmin_groups = [\"admin\"]\nuser_groups = [\"trusted\"]",
        "",
    )
    .await;
    root(&server).await;

    let ann = sso_session(&server, IDP, "ann", "pw-ann").await;
    assert_eq!(ann["role"], "admin", "admin_groups, case-insensitively");
    let bob = sso_session(&server, IDP, "bob", "pw-bob").await;
    assert_eq!(bob["role"], "user", "user_groups, case-insensitively");
    for (who, pw) in [("carl", "pw-carl"), ("dora", "pw-dora")] {
        let url = sign_in_at(&server, IDP, who, pw).await;
        let reason = assert_refused(&server, &url, who);
        assert_eq!(reason, "Access prohibited", "{who}");
    }

    // groups are synced on every sign-in
    let groups = |v: &Value| -> Vec<String> {
        v["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| g.as_str().or_else(|| g["name"].as_str()))
            .map(str::to_lowercase)
            .collect()
    };
    provider
        .put_account(
            &Account::new("bob", "pw-bob")
                .email("bob@example.com", true)
                .groups(&["trusted", "Blue-Team"]),
        )
        .await;
    let bob2 = sso_session(&server, IDP, "bob", "pw-bob").await;
    assert_eq!(bob2["id"], bob["id"]);
    let (_, me) = server.get(routes::SESSION, Some(token(&bob2))).await;
    assert!(groups(&me).contains(&"blue-team".to_owned()), "{me}");
    // out of the allowed groups: refused at the next sign-in
    provider
        .put_account(
            &Account::new("bob", "pw-bob")
                .email("bob@example.com", true)
                .groups(&["untrusted"]),
        )
        .await;
    let url = sign_in_at(&server, IDP, "bob", "pw-bob").await;
    assert_eq!(
        assert_refused(&server, &url, "bob, moved out"),
        "Access prohibited"
    );

    // the REST form of the refusal: token exchange of carl's access token
    let cb = callback(&server.url, IDP);
    let tessera = ClientSpec::new(CLIENT_ID, SECRET).redirect_uri(&cb);
    let tokens = provider
        .code_flow(&tessera, &cb, "carl", "pw-carl", true)
        .await
        .expect("carl's tokens");
    let (status, body) = server
        .post(
            &routes::OAUTH_TOKEN_EXCHANGE.replace("{provider}", IDP),
            None,
            &json!({"token": tokens["access_token"]}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["detail"], "Access prohibited");
}

tessera_tests::on_both_databases! {
    async fn merge_by_verified_email_only(builder) {
        let url = reserve_url();
        let provider = OidcProvider::start(
            ProviderSpec::new()
                .client(
                    ClientSpec::new(CLIENT_ID, SECRET)
                        .redirect_uri(&callback(&url, IDP))
                        .redirect_uri(&callback(&url, "nomerge")),
                )
                .account(Account::new("erin-sub", "pw").email("erin@example.com", true))
                .account(
                    Account::new("mallory", "pw")
                        .email(ROOT_EMAIL, false)
                        .username("root"),
                )
                .account(
                    Account::new("trudy", "pw")
                        .email("trudy@example.com", true)
                        .username("Root")
                        .name("Root"),
                ),
        )
        .await;
        let d = provider.discovery_url();
        let toml = provider_toml(IDP, LABEL, &d, CLIENT_ID, "merge_accounts_by_email = true")
            + &provider_toml("nomerge", "No merge", &d, CLIENT_ID, "");
        let server = tessera_on(builder, &url, &toml).await;
        let root_token = root(&server).await;
        let (_, root_me) = server.get(routes::SESSION, Some(&root_token)).await;
        let erin = server
            .signup("Erin", "erin@example.com", "erin password 1")
            .await;

        // a verified e-mail links to the local account
        let linked = sso_session(&server, IDP, "erin-sub", "pw").await;
        assert_eq!(linked["id"], erin["id"], "merged by verified e-mail");

        // an unverified e-mail that matches the root admin's is never merged:
        // with merging on, the sign-in is refused with a reason saying why
        let url_m = sign_in_at(&server, IDP, "mallory", "pw").await;
        let reason = assert_refused(&server, &url_m, "unverified e-mail");
        assert!(reason.contains("did not verify"), "{reason}");
        // and the root admin's own account is untouched by it
        let (_, root_after) = server.get(routes::SESSION, Some(&root_token)).await;
        assert_eq!(root_after["email"], ROOT_EMAIL);
        assert_eq!(root_after["role"], "admin");
        let (status, _) = server.signin(ROOT_EMAIL, PASSWORD).await;
        assert_eq!(status, 200);

        // without merging, the same verified e-mail does not take the account over
        let url_n = sign_in_at(&server, "nomerge", "erin-sub", "pw").await;
        if url_n.path() == "/oauth/complete" {
            let (status, other) = complete(&server, &url_n).await;
            if status == 200 {
                assert_ne!(
                    other["id"], erin["id"],
                    "linked without merge_accounts_by_email"
                );
            }
        } else {
            assert_refused(&server, &url_n, "e-mail taken, no merging");
        }

        // a username claim equal to the root admin's name links to nothing
        let trudy = sso_session(&server, "nomerge", "trudy", "pw").await;
        assert_ne!(trudy["id"], root_me["id"]);
        assert_ne!(trudy["role"], "admin");
        assert_eq!(trudy["email"], "trudy@example.com");
    }
}
