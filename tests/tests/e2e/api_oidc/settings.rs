//! Provider settings changed at runtime by the admin (without locking
//! anyone out), the backup password sign-in, and the test round trip.
use super::*;

/// `GET /api/v1/admin/oidc_providers` as `token`: the entry `name`.
async fn settings_of(server: &TestServer, token: &str, name: &str) -> Value {
    let res = client()
        .get(server.at(routes::ADMIN_OIDC_PROVIDERS))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap_or_default();
    assert!(
        !text.contains(SECRET),
        "the client secret was returned: {text}"
    );
    let all: Value = serde_json::from_str(&text).expect("json");
    all.as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no provider {name} in {text}"))
}

async fn put_settings(server: &TestServer, token: &str, settings: &Value) -> (u16, String) {
    let name = settings["name"].as_str().unwrap_or_default();
    let res = client()
        .put(server.at(&routes::ADMIN_OIDC_PROVIDER.replace("{name}", name)))
        .bearer_auth(token)
        .json(settings)
        .send()
        .await
        .expect("request");
    (res.status().as_u16(), res.text().await.unwrap_or_default())
}

tessera_tests::on_both_databases! {
    async fn settings_change_at_runtime_without_lock_out(builder) {
        let accounts = vec![
            alice(),
            Account::new("tom", "pw-tom")
                .email("tom@example.com", true)
                .groups(&["trusted"]),
        ];
        let (provider, server) = sso_on(builder, ProviderSpec::new(), accounts, |c| c, "groups_claim = \"groups\"", "").await;
        let admin = root(&server).await;

        let s = settings_of(&server, &admin, IDP).await;
        assert_eq!(s["client_secret"], Value::Null);
        assert_eq!(s["client_secret_set"], true);
        assert_eq!(s["source"], "config");
        assert_eq!(s["client_id"], CLIENT_ID);
        assert_eq!(s["display_name"], LABEL);
        assert_eq!(s["discovery_url"], provider.discovery_url());

        let alice_token = only_admins_see_or_change_them(&server, &s).await;
        let restricted = restricting_to_a_group(&server, &admin, &s, &alice_token).await;
        let right = a_wrong_secret_then_the_right_one(&server, &admin, &restricted).await;
        invalid_settings_then_deleting_the_row(&server, &admin, &right).await;
        a_provider_only_in_the_database(&provider, &server, &admin).await;

        let log = server.log();
        for secret in [SECRET, "not-the-secret", "second-secret-77"] {
            assert!(!log.contains(secret), "{secret} is in the log");
        }
    }
}

/// Only admins see or change the settings; returns alice's session token.
async fn only_admins_see_or_change_them(server: &TestServer, s: &Value) -> String {
    let alice_session = sso_session(server, IDP, "alice-sub", "alice-password").await;
    let alice_token = token(&alice_session).to_owned();
    let (status, _) = server
        .get(routes::ADMIN_OIDC_PROVIDERS, Some(&alice_token))
        .await;
    assert_eq!(status, 403);
    let (status, _) = server.get(routes::ADMIN_OIDC_PROVIDERS, None).await;
    assert_eq!(status, 401);
    let (status, _) = put_settings(server, &alice_token, s).await;
    assert_eq!(status, 403);
    alice_token
}

/// Restricting to a group: alice (no groups) is refused next time, her
/// session lives on; the new label is public. Returns the saved settings.
async fn restricting_to_a_group(
    server: &TestServer,
    admin: &str,
    s: &Value,
    alice_token: &str,
) -> Value {
    // restrict to a group: alice (no groups) is refused next time, her session lives on
    let mut restricted = s.clone();
    restricted["user_groups"] = json!(["trusted"]);
    restricted["display_name"] = json!("Renamed IdP");
    let (status, body) = put_settings(server, admin, &restricted).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains(SECRET));
    let saved: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(saved["client_secret"], Value::Null);
    assert_eq!(
        saved["client_secret_set"], true,
        "a null secret keeps the stored one"
    );
    assert_eq!(saved["source"], "database");
    let url = sign_in_at(server, IDP, "alice-sub", "alice-password").await;
    assert_eq!(
        assert_refused(server, &url, "alice after the change"),
        "Access prohibited"
    );
    let (status, _) = server.get(routes::SESSION, Some(alice_token)).await;
    assert_eq!(status, 200, "an existing session keeps working");
    sso_session(server, IDP, "tom", "pw-tom").await;
    let (_, config) = server.get(routes::PUBLIC_CONFIG, None).await;
    assert!(
        config["oidc_providers"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["display_name"] == "Renamed IdP"),
        "{config}"
    );
    restricted
}

/// A wrong secret breaks the next sign-in; the right one repairs it.
/// Returns the repaired settings.
async fn a_wrong_secret_then_the_right_one(
    server: &TestServer,
    admin: &str,
    restricted: &Value,
) -> Value {
    let mut wrong = restricted.clone();
    wrong["client_secret"] = json!("not-the-secret");
    let (status, body) = put_settings(server, admin, &wrong).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("not-the-secret"), "{body}");
    let url = sign_in_at(server, IDP, "tom", "pw-tom").await;
    assert_refused(server, &url, "wrong client secret");
    let mut right = restricted.clone();
    right["client_secret"] = json!(SECRET);
    let (status, _) = put_settings(server, admin, &right).await;
    assert_eq!(status, 200);
    sso_session(server, IDP, "tom", "pw-tom").await;
    assert!(!settings_of(server, admin, IDP)
        .await
        .to_string()
        .contains(SECRET));
    right
}

/// Invalid settings are refused, naming the field; deleting the database
/// row falls back to the config file.
async fn invalid_settings_then_deleting_the_row(server: &TestServer, admin: &str, right: &Value) {
    // invalid settings are refused, naming the field
    let mut invalid = right.clone();
    invalid["client_secret"] = Value::Null;
    invalid["discovery_url"] = json!("not a url");
    let (status, body) = put_settings(server, admin, &invalid).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("discovery_url"), "{body}");
    sso_session(server, IDP, "tom", "pw-tom").await;

    // deleting the database row falls back to the config file
    let res = client()
        .delete(server.at(&routes::ADMIN_OIDC_PROVIDER.replace("{name}", IDP)))
        .bearer_auth(admin)
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 204);
    let s = settings_of(server, admin, IDP).await;
    assert_eq!(s["source"], "config");
    assert_eq!(s["user_groups"], json!([]));
    sso_session(server, IDP, "alice-sub", "alice-password").await;
}

/// A provider that exists only in the database: added, used, removed; its
/// session outlives its settings.
async fn a_provider_only_in_the_database(
    provider: &OidcProvider,
    server: &TestServer,
    admin: &str,
) {
    provider
        .put_client(
            &ClientSpec::new("second", "second-secret-77")
                .redirect_uri(&callback(&server.url, "second")),
        )
        .await;
    let second = json!({
        "name": "second",
        "display_name": "Second IdP",
        "discovery_url": provider.discovery_url(),
        "client_id": "second",
        "client_secret": "second-secret-77",
    });
    let (status, body) = put_settings(server, admin, &second).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("second-secret-77"), "{body}");
    let listed = settings_of(server, admin, "second").await;
    assert_eq!(listed["source"], "database");
    assert_eq!(listed["client_secret_set"], true);
    let (_, config) = server.get(routes::PUBLIC_CONFIG, None).await;
    assert!(
        config["oidc_providers"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == "second" && p["display_name"] == "Second IdP"),
        "{config}"
    );
    let via_second = sso_session(server, "second", "tom", "pw-tom").await;
    assert_eq!(via_second["email"], "tom@example.com");
    let res = client()
        .delete(server.at(&routes::ADMIN_OIDC_PROVIDER.replace("{name}", "second")))
        .bearer_auth(admin)
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 204);
    let (_, config) = server.get(routes::PUBLIC_CONFIG, None).await;
    assert!(
        !config["oidc_providers"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == "second"),
        "{config}"
    );
    assert_no_such_provider(server, "second").await;
    let (status, _) = server.get(routes::SESSION, Some(token(&via_second))).await;
    assert_eq!(status, 200, "a session outlives its provider's settings");
}

#[tokio::test]
async fn backup_login_for_the_bootstrap_admin_only() {
    let (_provider, mut server) = sso(vec![alice()], |c| c, "", "").await;
    // a local account made while password sign-in was on
    server.signup("Root", ROOT_EMAIL, PASSWORD).await;
    server
        .signup("Bob", "bob@example.com", "bob password 1")
        .await;
    let path = server.dir.path().join("tessera.toml");
    let config = std::fs::read_to_string(&path).expect("config");
    std::fs::write(
        &path,
        // the bootstrap admin is the first account created (no `[admin] email`)
        format!("{config}\n[password]\nsignin_enabled = false\n"),
    )
    .expect("config");
    server.restart().await;

    let (_, config) = server.get(routes::PUBLIC_CONFIG, None).await;
    assert_eq!(config["password_signin"], false, "{config}");
    assert!(config["oidc_providers"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| p["name"] == IDP));
    let (status, body) = server.signin("bob@example.com", "bob password 1").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["detail"], "Password sign-in is disabled");
    let (status, _) = server.signin("bob@example.com", "wrong password").await;
    assert_eq!(status, 403, "a wrong password while disabled");
    // 401, or the same 403 so the answer does not single the bootstrap admin out
    let (status, body) = server.signin(ROOT_EMAIL, "wrong password").await;
    assert!(
        status == 401 || status == 403,
        "the bootstrap admin's wrong password: {status} {body}"
    );
    assert!(body.get("token").is_none());
    let (status, body) = server.signin(ROOT_EMAIL, PASSWORD).await;
    assert_eq!(status, 200, "{body}\n{}", server.log());
    assert_eq!(body["role"], "admin");
    // SSO still works
    sso_session(&server, IDP, "alice-sub", "alice-password").await;
}

#[tokio::test]
async fn the_test_round_trip_checks_unsaved_settings_and_signs_no_one_in() {
    let accounts = vec![
        alice(),
        Account::new("tom", "pw-tom")
            .email("tom@example.com", true)
            .groups(&["trusted"]),
    ];
    let (provider, server) = sso(accounts, |c| c, "", "").await;
    let admin = root(&server).await;
    let saved = settings_of(&server, &admin, IDP).await;

    let issuer = provider.issuer().to_owned();
    // a draft restricted to a group: tom passes, alice would be refused
    let mut draft = saved.clone();
    draft["groups_claim"] = json!("groups");
    draft["user_groups"] = json!(["trusted"]);
    let report = test_round_trip(&server, &admin, &issuer, draft.clone(), "tom", "pw-tom").await;
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["role"], "user");
    assert_eq!(report["claims"]["email"], "tom@example.com");
    assert!(
        report["groups"]
            .as_array()
            .is_some_and(|g| g.iter().any(|g| g == "trusted")),
        "{report}"
    );
    let report = test_round_trip(
        &server,
        &admin,
        &issuer,
        draft,
        "alice-sub",
        "alice-password",
    )
    .await;
    assert_eq!(report["ok"], false, "{report}");
    assert!(
        report["detail"]
            .as_str()
            .unwrap_or("")
            .contains("Access prohibited"),
        "{report}"
    );

    // nothing was saved, nobody was provisioned
    assert_eq!(settings_of(&server, &admin, IDP).await, saved);
    let (_, users) = server.get(routes::USERS, Some(&admin)).await;
    assert!(!users.to_string().contains("tom@example.com"), "{users}");

    // a discovery that fails is reported at once
    let mut broken = saved.clone();
    broken["discovery_url"] = json!(format!(
        "{}/nowhere/.well-known/openid-configuration",
        provider.issuer()
    ));
    let (status, body) = server
        .post(routes::ADMIN_OIDC_TEST, Some(&admin), &broken)
        .await;
    assert!(status == 502 || status == 422, "{status} {body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    // and it is for admins only
    let alice_session = sso_session(&server, IDP, "alice-sub", "alice-password").await;
    let (status, _) = server
        .post(routes::ADMIN_OIDC_TEST, Some(token(&alice_session)), &saved)
        .await;
    assert_eq!(status, 403);
}

/// Starts the test round trip of `draft` as `admin`, signs `login` in at the
/// provider, and reads the report (only an admin may).
async fn test_round_trip(
    server: &TestServer,
    admin: &str,
    issuer: &str,
    draft: Value,
    login: &str,
    password: &str,
) -> Value {
    let (status, started) = server
        .post(routes::ADMIN_OIDC_TEST, Some(admin), &draft)
        .await;
    assert_eq!(status, 200, "{started}\n{}", server.log());
    assert_eq!(started["issuer"], issuer);
    let login_url = started["login_url"].as_str().expect("login_url");
    assert!(
        login_url.starts_with(&format!("/oauth/{IDP}/login?test=")),
        "{login_url}"
    );
    let location = sign_in_via_provider(&driver_client(), &server.at(login_url), login, password)
        .await
        .expect("the test round trip");
    let url = Url::parse(&location).expect("url");
    assert_eq!(url.path(), "/settings/security/test", "{url}");
    let code = fragment(&url, "code").expect("code");
    // only an admin may read the report
    let (status, _) = server
        .post(
            routes::ADMIN_OIDC_TEST_RESULT,
            None,
            &json!({ "code": code }),
        )
        .await;
    assert_eq!(status, 401);
    let (status, report) = server
        .post(
            routes::ADMIN_OIDC_TEST_RESULT,
            Some(admin),
            &json!({ "code": code }),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    report
}
