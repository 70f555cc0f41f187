//! LDAP sign-in against a real slapd: roles from groups, group sync, refused
//! credentials, filter injection, and the directory being down.
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tessera_shared::routes;
use tessera_tests::server::{client, status_and_json, TestServer};
use tessera_tests::slapd::{Person, Slapd, ADMIN_DN, ADMIN_PASSWORD, GROUPS, PEOPLE};

const PEOPLE_IN_DIRECTORY: &[Person<'static>] = &[
    Person {
        uid: "alice",
        name: "Alice Liddell",
        mail: Some("alice@example.org"),
        password: "alice-pass",
        groups: &["admins", "devs"],
    },
    Person {
        uid: "bob",
        name: "Bob Builder",
        mail: Some("bob@example.org"),
        password: "bob-pass",
        groups: &["devs"],
    },
    Person {
        uid: "carol",
        name: "Carol Danvers",
        mail: Some("carol@example.org"),
        password: "carol-pass",
        groups: &[],
    },
    Person {
        uid: "nomail",
        name: "No Mail",
        mail: None,
        password: "nomail-pass",
        groups: &[],
    },
];

/// `[ldap]` for `url` with the service bind, plus `extra` keys.
fn ldap_toml(url: &str, extra: &str) -> String {
    format!(
        "[ldap]\nurl = {url:?}\nbind_dn = {ADMIN_DN:?}\nbind_password = {ADMIN_PASSWORD:?}\n\
         search_base = {PEOPLE:?}\nsearch_filter = \"(objectClass=inetOrgPerson)\"\n\
         admin_groups = [\"admins\"]\nconnect_timeout = \"2s\"\noperation_timeout = \"2s\"\n{extra}\n"
    )
}

async fn start_server(url: &str, extra: &str) -> TestServer {
    TestServer::builder()
        .toml(&ldap_toml(url, extra))
        .start()
        .await
}

async fn ldap_signin(server: &TestServer, user: &str, password: &str) -> (u16, Value) {
    let res = client()
        .post(server.at(routes::LDAP_SIGNIN))
        .json(&json!({"user": user, "password": password}))
        .send()
        .await
        .expect("ldap sign-in request");
    status_and_json(res).await
}

#[tokio::test]
async fn signin_maps_groups_to_roles_and_issues_a_session() {
    let slapd = Slapd::start(PEOPLE_IN_DIRECTORY).await;
    let server = start_server(&slapd.url, "create_groups = true").await;
    let (_, config) = server.get(routes::PUBLIC_CONFIG, None).await;
    assert_eq!(config["ldap_enabled"], true);

    let (status, alice) = ldap_signin(&server, "alice", "alice-pass").await;
    assert_eq!(status, 200, "{alice}");
    assert_eq!(alice["email"], "alice@example.org");
    assert_eq!(alice["name"], "Alice Liddell");
    assert_eq!(alice["role"], "admin", "member of admin_groups");
    assert_eq!(alice["groups"], json!(["admins", "devs"]));
    let (status, me) = server.get(routes::SESSION, alice["token"].as_str()).await;
    assert_eq!(status, 200);
    assert_eq!(me["id"], alice["id"]);
    assert_eq!(me["auth_method"], "session");

    let (status, bob) = ldap_signin(&server, "bob", "bob-pass").await;
    assert_eq!(status, 200, "{bob}");
    assert_eq!(bob["role"], "user", "default_role");
    assert_eq!(bob["groups"], json!(["devs"]));

    // the same person again, typed in another case: the same account
    let (status, again) = ldap_signin(&server, "ALICE", "alice-pass").await;
    assert_eq!(status, 200);
    assert_eq!(again["id"], alice["id"]);

    let (status, users) = server.get(routes::USERS, alice["token"].as_str()).await;
    assert_eq!(status, 200);
    let sources: Vec<&str> = users
        .as_array()
        .expect("user list")
        .iter()
        .filter_map(|u| u["source"].as_str())
        .collect();
    assert_eq!(sources, ["ldap", "ldap"]);

    let (status, body) = ldap_signin(&server, "nomail", "nomail-pass").await;
    assert_eq!(status, 403, "an account without e-mail is refused: {body}");

    let log = server.log();
    for secret in ["alice-pass", "bob-pass", ADMIN_PASSWORD] {
        assert!(!log.contains(secret), "{secret} reached the log");
    }
}

#[tokio::test]
async fn wrong_empty_and_injected_credentials_are_refused() {
    let slapd = Slapd::start(PEOPLE_IN_DIRECTORY).await;
    let server = start_server(&slapd.url, "").await;
    for (user, password, why) in [
        ("alice", "wrong", "wrong password"),
        (
            "alice",
            "",
            "empty password (an anonymous bind would succeed)",
        ),
        ("", "alice-pass", "empty user"),
        ("nobody", "alice-pass", "unknown user"),
        ("*", "alice-pass", "wildcard user"),
        ("*)(uid=*", "alice-pass", "filter injection"),
        ("alice)(|(uid=*", "alice-pass", "filter injection"),
        ("*)(uid=*", "", "filter injection with an empty password"),
        ("al*", "alice-pass", "substring user"),
        (
            "*)(mail=alice@example.org",
            "alice-pass",
            "filter injection",
        ),
    ] {
        let (status, body) = ldap_signin(&server, user, password).await;
        assert_eq!(status, 401, "{why}: {user:?} got {body}");
        assert_eq!(body["detail"], "Invalid credentials", "{why}");
    }
    let (status, _) = ldap_signin(&server, "alice", "alice-pass").await;
    assert_eq!(status, 200, "the real password still works");
}

#[tokio::test]
async fn groups_sync_on_every_signin_and_are_created_only_when_allowed() {
    let slapd = Slapd::start(PEOPLE_IN_DIRECTORY).await;

    // without creation: Tessera knows no group, so none is synced (roles still map)
    let strict = start_server(&slapd.url, "create_groups = false").await;
    let (status, alice) = ldap_signin(&strict, "alice", "alice-pass").await;
    assert_eq!(status, 200, "{alice}");
    assert_eq!(alice["groups"], json!([]));
    assert_eq!(alice["role"], "admin");
    drop(strict);

    // with creation, and read by a group search instead of memberOf
    let creating = start_server(
        &slapd.url,
        &format!(
            "create_groups = true\ngroup_search_base = {GROUPS:?}\ngroup_search_filter = \"(&(objectClass=groupOfNames)(member={{dn}}))\""
        ),
    )
    .await;
    let (status, alice) = ldap_signin(&creating, "alice", "alice-pass").await;
    assert_eq!(status, 200, "{alice}");
    assert_eq!(alice["groups"], json!(["admins", "devs"]));

    // alice leaves devs and admins in the directory: the next sign-in follows
    slapd
        .ldapmodify(&format!(
            "dn: cn=devs,{GROUPS}\nchangetype: modify\ndelete: member\nmember: uid=alice,{PEOPLE}\n\n\
             dn: cn=admins,{GROUPS}\nchangetype: modify\nreplace: member\nmember: uid=bob,{PEOPLE}\n"
        ))
        .await;
    let (status, later) = ldap_signin(&creating, "alice", "alice-pass").await;
    assert_eq!(status, 200, "{later}");
    assert_eq!(later["id"], alice["id"]);
    assert_eq!(later["groups"], json!([]));
    assert_eq!(later["role"], "user", "no longer an admin");
}

#[tokio::test]
async fn allowed_groups_refuse_everyone_else() {
    let slapd = Slapd::start(PEOPLE_IN_DIRECTORY).await;
    let server = start_server(&slapd.url, "user_groups = [\"devs\"]").await;
    let (status, body) = ldap_signin(&server, "carol", "carol-pass").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["detail"], "Access prohibited");
    let (status, bob) = ldap_signin(&server, "bob", "bob-pass").await;
    assert_eq!(status, 200, "{bob}");
    assert_eq!(bob["role"], "user");
    let (status, alice) = ldap_signin(&server, "alice", "alice-pass").await;
    assert_eq!(status, 200);
    assert_eq!(alice["role"], "admin");
}

async fn assert_unavailable_quickly(server: &TestServer, why: &str) {
    let started = Instant::now();
    let (status, body) = ldap_signin(server, "alice", "alice-pass").await;
    let took = started.elapsed();
    assert_eq!(status, 503, "{why}: {body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("LDAP server unavailable")),
        "{why}: {body}"
    );
    assert!(took < Duration::from_secs(6), "{why}: took {took:?}");
}

#[tokio::test]
async fn a_directory_that_is_down_or_silent_gives_503_not_a_hang() {
    // refused: nothing listens
    let port = tessera_tests::free_port();
    let server = start_server(&format!("ldap://127.0.0.1:{port}"), "").await;
    assert_unavailable_quickly(&server, "connection refused").await;
    drop(server);

    // silent: accepts the connection, never answers
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ldap://{}", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((conn, _)) = silent.accept().await {
            conns.push(conn);
        }
    });
    let server = start_server(&url, "").await;
    assert_unavailable_quickly(&server, "silent server").await;
    held.abort();
    drop(server);

    // stopped while Tessera runs
    let mut slapd = Slapd::start(PEOPLE_IN_DIRECTORY).await;
    let server = start_server(&slapd.url, "").await;
    let (status, _) = ldap_signin(&server, "alice", "alice-pass").await;
    assert_eq!(status, 200);
    slapd.stop().await;
    assert_unavailable_quickly(&server, "slapd stopped").await;
}

#[tokio::test]
async fn ldap_signin_is_404_when_not_configured() {
    let server = TestServer::start().await;
    let (status, _) = ldap_signin(&server, "alice", "alice-pass").await;
    assert_eq!(status, 404);
    let (_, config) = server.get(routes::PUBLIC_CONFIG, None).await;
    assert_eq!(config["ldap_enabled"], false);
}

#[tokio::test]
async fn ldaps_and_starttls_verify_the_server_against_ca_file() {
    let slapd = Slapd::start_with_tls(PEOPLE_IN_DIRECTORY).await;
    let ca = slapd.ca_file.clone().expect("a CA file");
    let ldaps = slapd.ldaps_url.clone().expect("an ldaps URL");
    let ca_line = format!("ca_file = {:?}", ca.display().to_string());

    let server = start_server(&ldaps, &ca_line).await;
    let (status, body) = ldap_signin(&server, "alice", "alice-pass").await;
    assert_eq!(status, 200, "ldaps with ca_file: {body}\n{}", server.log());
    drop(server);

    let server = start_server(&slapd.url, &format!("{ca_line}\nstarttls = true")).await;
    let (status, body) = ldap_signin(&server, "alice", "alice-pass").await;
    assert_eq!(
        status,
        200,
        "StartTLS with ca_file: {body}\n{}",
        server.log()
    );
    drop(server);

    // without the test CA the certificate is not trusted: no sign-in
    let server = start_server(&ldaps, "").await;
    assert_unavailable_quickly(&server, "ldaps with an unknown CA").await;
}

#[tokio::test]
async fn the_spa_offers_ldap_sign_in() -> anyhow::Result<()> {
    tessera_tests::browser::require_dist()?;
    let slapd = Slapd::start(PEOPLE_IN_DIRECTORY).await;
    let server = start_server(&slapd.url, "create_groups = true").await;
    let browser = tessera_tests::browser::Browser::start(&server.url).await?;
    browser.goto("/login").await?;
    browser.fill("#ldap-user", "alice").await?;
    browser.fill("#ldap-password", "wrong").await?;
    browser.click("#ldap-submit").await?;
    browser
        .wait_for_text("#ldap-error", "Invalid credentials")
        .await?;
    browser.fill("#ldap-password", "alice-pass").await?;
    browser.click("#ldap-submit").await?;
    browser.wait_for_path("/dashboard").await?;
    browser
        .wait_for_text("#user-email", "alice@example.org")
        .await?;
    browser.wait_for_text("#user-role", "admin").await?;
    browser.close().await
}
