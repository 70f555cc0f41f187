//! Trusted-header sign-in through a real nginx: the proxy (connecting from
//! 127.0.0.2, the only trusted address) sets the identity headers; the same
//! headers sent directly from 127.0.0.1 are stripped and ignored.
use serde_json::{json, Value};
use tessera_shared::routes;
use tessera_tests::browser::Browser;
use tessera_tests::nginx::{Nginx, PROXY_SOURCE};
use tessera_tests::server::{client, send, status_and_json, TestServer};

/// The proxy copies the SSO gateway's answer (here: the test's `X-Test-*`
/// headers) into the trusted headers; an empty value sends no header.
pub(crate) const PROXY_HEADERS: &str = "proxy_set_header X-Forwarded-Email $http_x_test_email;
            proxy_set_header X-Forwarded-User $http_x_test_name;
            proxy_set_header X-Forwarded-Groups $http_x_test_groups;";

pub(crate) fn trusted_header_toml() -> String {
    format!(
        "[trusted_header]\nemail_header = \"X-Forwarded-Email\"\nname_header = \"X-Forwarded-User\"\n\
         groups_header = \"X-Forwarded-Groups\"\ntrusted_proxies = [\"{PROXY_SOURCE}/32\"]\n\
         create_groups = true\nadmin_groups = [\"admins\"]\n"
    )
}

async fn server_and_proxy(extra_toml: &str) -> (TestServer, Nginx) {
    let server = TestServer::builder()
        .toml(&trusted_header_toml())
        .toml(extra_toml)
        .start()
        .await;
    let proxy = Nginx::start(&server.url, PROXY_HEADERS).await;
    (server, proxy)
}

async fn get(url: &str, headers: &[(&str, &str)], token: Option<&str>) -> (u16, Value) {
    send(client().get(url), token, headers).await
}

#[tokio::test]
async fn signed_in_through_the_proxy_with_groups_synced() {
    let (server, proxy) = server_and_proxy("").await;
    let dana = [
        ("X-Test-Email", "Dana@Example.org"),
        ("X-Test-Name", "Dana Scully"),
        ("X-Test-Groups", "admins, agents"),
    ];
    let (status, me) = get(&proxy.at(routes::SESSION), &dana, None).await;
    assert_eq!(status, 200, "{me}\nnginx: {}", proxy.log());
    assert_eq!(me["email"], "dana@example.org");
    assert_eq!(me["name"], "Dana Scully");
    assert_eq!(me["role"], "admin");
    assert_eq!(me["groups"], json!(["admins", "agents"]));
    assert_eq!(me["auth_method"], "trusted_header");
    // a fresh session token for the SPA to keep: it works without the proxy
    let token = me["token"].as_str().expect("a token");
    assert!(!token.is_empty());
    let (status, direct) = server.get(routes::SESSION, Some(token)).await;
    assert_eq!(status, 200);
    assert_eq!(direct["id"], me["id"]);
    assert_eq!(direct["auth_method"], "session");

    // the groups header changes: the account follows, the id stays
    let (status, later) = get(
        &proxy.at(routes::SESSION),
        &[
            ("X-Test-Email", "dana@example.org"),
            ("X-Test-Groups", "agents"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "{later}");
    assert_eq!(later["id"], me["id"]);
    assert_eq!(later["groups"], json!(["agents"]));
    assert_eq!(later["role"], "user");

    // no groups header at all: the groups are kept
    let (status, kept) = get(
        &proxy.at(routes::SESSION),
        &[("X-Test-Email", "dana@example.org")],
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(kept["groups"], json!(["agents"]));

    // any protected endpoint works through the proxy, with no token at all
    let (status, users) = get(
        &proxy.at(routes::USERS),
        &[
            ("X-Test-Email", "root@example.org"),
            ("X-Test-Groups", "admins"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "{users}");
    let emails: Vec<&str> = users
        .as_array()
        .expect("user list")
        .iter()
        .filter_map(|u| u["email"].as_str())
        .collect();
    assert_eq!(emails, ["dana@example.org", "root@example.org"]);
    assert!(users
        .as_array()
        .expect("user list")
        .iter()
        .all(|u| u["source"] == "trusted_header"));
}

#[tokio::test]
async fn the_same_headers_from_anyone_else_are_ignored() {
    let (server, proxy) = server_and_proxy("").await;
    let forged = [
        ("X-Forwarded-Email", "dana@example.org"),
        ("X-Forwarded-Groups", "admins"),
    ];
    // sent straight to Tessera from 127.0.0.1, which is no trusted proxy
    let (status, body) = get(&server.at(routes::SESSION), &forged, None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["detail"], "Not authenticated");
    // claiming to come through the proxy changes nothing
    let mut spoofed = forged.to_vec();
    spoofed.push(("X-Forwarded-For", PROXY_SOURCE));
    let (status, body) = get(&server.at(routes::SESSION), &spoofed, None).await;
    assert_eq!(
        status, 401,
        "X-Forwarded-For from an untrusted peer: {body}"
    );
    // sent through nginx without the gateway's answer: nginx replaces them
    let (status, body) = get(&proxy.at(routes::SESSION), &forged, None).await;
    assert_eq!(
        status, 401,
        "client-sent identity headers through nginx: {body}"
    );

    // nobody was created by all that
    let (status, users) = get(
        &proxy.at(routes::USERS),
        &[
            ("X-Test-Email", "root@example.org"),
            ("X-Test-Groups", "admins"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(users.as_array().map(Vec::len), Some(1), "{users}");
}

#[tokio::test]
async fn allowed_groups_apply_to_proxy_sign_in() {
    let server = TestServer::builder()
        .toml(&trusted_header_toml().replace(
            "admin_groups = [\"admins\"]",
            "admin_groups = [\"admins\"]\nuser_groups = [\"staff\"]",
        ))
        .start()
        .await;
    let proxy = Nginx::start(&server.url, PROXY_HEADERS).await;
    let (status, body) = get(
        &proxy.at(routes::SESSION),
        &[
            ("X-Test-Email", "eve@example.org"),
            ("X-Test-Groups", "guests"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = get(
        &proxy.at(routes::SESSION),
        &[
            ("X-Test-Email", "eve@example.org"),
            ("X-Test-Groups", "staff"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["role"], "user");
}

async fn failed_signins(url: &str, attempts: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for i in 0..attempts {
        let res = client()
            .post(format!("{url}{}", routes::SIGNIN))
            .header("X-Forwarded-For", format!("203.0.113.{i}"))
            .json(&json!({"email": format!("user{i}@example.org"), "password": "wrong password"}))
            .send()
            .await
            .expect("sign-in request");
        statuses.push(res.status().as_u16());
    }
    statuses
}

#[tokio::test]
async fn spoofed_forwarded_for_does_not_dodge_the_per_ip_limit() {
    let limits = "[rate_limit]\nper_ip_per_minute = 3\nper_account_per_minute = 100\n";
    // straight from an untrusted peer: X-Forwarded-For is ignored
    let (server, _proxy) = server_and_proxy(limits).await;
    assert_eq!(failed_signins(&server.url, 4).await, [401, 401, 401, 429]);
    drop(server);
    // through the proxy: the client-supplied hops left of the proxy's are ignored
    let (_server, proxy) = server_and_proxy(limits).await;
    assert_eq!(failed_signins(&proxy.url, 4).await, [401, 401, 401, 429]);
}

#[tokio::test]
async fn the_spa_loaded_through_the_proxy_lands_signed_in() -> anyhow::Result<()> {
    use anyhow::Context;
    tessera_tests::browser::require_dist()?;
    let server = TestServer::builder()
        .toml(&trusted_header_toml())
        .start()
        .await;
    // the SSO gateway has vouched for Dana
    let proxy = Nginx::start(
        &server.url,
        "proxy_set_header X-Forwarded-Email dana@example.org;
            proxy_set_header X-Forwarded-User \"Dana Scully\";
            proxy_set_header X-Forwarded-Groups admins;",
    )
    .await;
    let browser = Browser::start(&proxy.url).await?;
    browser.goto("/").await?;
    browser.wait_for_path("/dashboard").await?;
    browser
        .wait_for_text("#user-email", "dana@example.org")
        .await?;
    browser.wait_for_text("#user-name", "Dana Scully").await?;
    browser.wait_for_text("#user-role", "admin").await?;
    let stored = browser
        .local_storage("tessera.user")
        .await?
        .context("the SPA stored no session")?;
    let stored: Value = serde_json::from_str(&stored)?;
    let token = stored["token"].as_str().context("no token stored")?;
    let (status, me) = server.get(routes::SESSION, Some(token)).await;
    anyhow::ensure!(status == 200, "the stored token does not work: {me}");
    browser.close().await?;

    // the same SPA straight from Tessera: nobody vouches, the sign-in page
    let direct = Browser::start(&server.url).await?;
    direct.goto("/").await?;
    direct.wait_for_path("/login").await?;
    direct.close().await
}

/// `POST path` through `proxy` with `headers` and, when given, this
/// Content-Type and body; the status and the JSON answer.
async fn post_via(
    url: &str,
    headers: &[(&str, &str)],
    content: Option<(&str, &str)>,
) -> (u16, Value) {
    let mut req = client().post(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some((ctype, body)) = content {
        req = req.header("content-type", ctype).body(body.to_owned());
    }
    let res = req.send().await.expect("request");
    status_and_json(res).await
}

/// The browser sends the proxy's sign-in with every request, whichever page
/// made it: another site's form or script must not create (and so replace)
/// the person's API key.
#[tokio::test]
async fn another_sites_page_cannot_change_anything_through_the_proxy() {
    let own = "https://tessera.example";
    let server = TestServer::builder()
        .env("TESSERA_SERVER_PUBLIC_URL", own)
        .toml(&trusted_header_toml())
        .toml("[api_keys]\nenabled = true\n")
        .start()
        .await;
    let proxy = Nginx::start(&server.url, PROXY_HEADERS).await;
    let key_url = proxy.at(routes::API_KEY);
    let dana = [
        ("X-Test-Email", "dana@example.org"),
        ("X-Test-Groups", "admins"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut h = dana.to_vec();
        h.extend_from_slice(extra);
        h
    };
    let json = Some(("application/json", "{}"));

    // a cross-site HTML form: url-encoded (or multipart, or text/plain)
    for (extra, ctype, body) in [
        (
            &[
                ("Origin", "https://evil.example"),
                ("Sec-Fetch-Site", "cross-site"),
            ][..],
            "application/x-www-form-urlencoded",
            "",
        ),
        (&[][..], "application/x-www-form-urlencoded", "x=1"),
        (&[("Origin", "null")][..], "text/plain", "{}"),
    ] {
        let (status, body) = post_via(&key_url, &with(extra), Some((ctype, body))).await;
        assert_eq!(status, 415, "{extra:?} {ctype}: {body}");
        assert!(body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("application/json")));
    }
    // JSON from another origin (a script that got past CORS, a sibling site)
    for extra in [
        &[("Origin", "https://evil.example")][..],
        &[
            ("Origin", "https://evil.example"),
            ("Sec-Fetch-Site", "cross-site"),
        ],
        &[("Origin", "http://tessera.example")],
        &[("Origin", "null")],
        &[("Sec-Fetch-Site", "same-site")],
        &[("Origin", own), ("Sec-Fetch-Site", "cross-site")],
    ] {
        let (status, body) = post_via(&key_url, &with(extra), json).await;
        assert_eq!(status, 403, "{extra:?}: {body}");
        assert!(
            body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("Cross-site")),
            "{body}"
        );
    }
    let (status, body) = get(&key_url, &dana, None).await;
    assert_eq!(status, 404, "a refused request made a key: {body}");

    // this site's own page: the key is made
    let (status, body) = post_via(
        &key_url,
        &with(&[("Origin", own), ("Sec-Fetch-Site", "same-origin")]),
        json,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let key = body["api_key"].as_str().expect("a key").to_owned();
    let (status, me) = server.get(routes::SESSION, Some(&key)).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], "dana@example.org");
    // and a client that is no browser (no Origin, no Sec-Fetch-Site)
    let (status, body) = post_via(&key_url, &dana, json).await;
    assert_eq!(status, 200, "{body}");
    // reading is never refused, whoever asks
    let (status, _) = get(&key_url, &with(&[("Origin", "https://evil.example")]), None).await;
    assert_eq!(status, 200);
}
