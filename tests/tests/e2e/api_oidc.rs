//! SSO sign-in (issue #7) against a real OpenID provider (`oidc-provider` on
//! loopback), driven without a browser: the code flow with PKCE, every
//! refusal, role mapping, merging by e-mail, runtime settings, the backup
//! password sign-in, token exchange, `form_post` and `tessera login`.
use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::Url;
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::Duration;
use tessera_shared::routes;
use tessera_tests::oidc::{
    drive_to_callback, driver_client, random_token, sign_in_via_provider, Account, ClientSpec,
    Faults, OidcProvider, ProviderSpec,
};
use tessera_tests::server::{binary, client, Builder, TestServer};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// The provider's name in Tessera (the `{provider}` in the paths).
pub const IDP: &str = "idp";
/// Its button label.
pub const LABEL: &str = "Test IdP";
/// The client Tessera is registered as.
pub const CLIENT_ID: &str = "tessera";
/// Its secret (never to be seen in an answer or a log).
pub const SECRET: &str = "tessera-client-secret-3f9a";
const ROOT_EMAIL: &str = "root@example.com";
const ROOT_PASSWORD: &str = "correct horse battery";

/// Tessera's future URL: the redirect URIs registered at the provider must
/// name its port before it starts.
pub fn reserve_url() -> String {
    format!("http://127.0.0.1:{}", tessera_tests::free_port())
}

/// `{url}/oauth/{name}/callback`.
pub fn callback(url: &str, name: &str) -> String {
    format!("{url}/oauth/{name}/callback")
}

/// An `[[oidc_providers]]` table.
pub fn provider_toml(
    name: &str,
    label: &str,
    discovery: &str,
    client_id: &str,
    extra: &str,
) -> String {
    format!(
        "[[oidc_providers]]\nname = \"{name}\"\ndisplay_name = \"{label}\"\ndiscovery_url = \"{discovery}\"\nclient_id = \"{client_id}\"\nclient_secret = \"{SECRET}\"\n{extra}\n"
    )
}

/// The Tessera server at `url` (from [`reserve_url`]) with `toml`.
pub async fn tessera_at(url: &str, toml: &str) -> TestServer {
    tessera_on(TestServer::builder(), url, toml).await
}

/// [`tessera_at`] from `builder` (e.g. one set to a database).
pub async fn tessera_on(builder: Builder, url: &str, toml: &str) -> TestServer {
    let listen = url.trim_start_matches("http://");
    builder
        .env("TESSERA_SERVER_LISTEN", listen)
        .env("TESSERA_SERVER_PUBLIC_URL", url)
        .toml(toml)
        .start()
        .await
}

/// Alice: a verified e-mail, no groups.
pub fn alice() -> Account {
    Account::new("alice-sub", "alice-password")
        .email("alice@example.com", true)
        .name("Alice Liddell")
        .username("alice")
        .picture("http://127.0.0.1:9/alice.png")
}

/// A provider with Tessera's client (its callback at `url` registered) and
/// `accounts`, and a Tessera with that provider as `idp` plus `extra` keys
/// in its table and `server_toml` elsewhere.
pub async fn sso(
    accounts: Vec<Account>,
    tessera_client: impl FnOnce(ClientSpec) -> ClientSpec,
    extra: &str,
    server_toml: &str,
) -> (OidcProvider, TestServer) {
    sso_from(
        ProviderSpec::new(),
        accounts,
        tessera_client,
        extra,
        server_toml,
    )
    .await
}

/// [`sso`] starting from `spec` (TTLs, issuer host, other clients).
pub async fn sso_from(
    spec: ProviderSpec,
    accounts: Vec<Account>,
    tessera_client: impl FnOnce(ClientSpec) -> ClientSpec,
    extra: &str,
    server_toml: &str,
) -> (OidcProvider, TestServer) {
    sso_on(
        TestServer::builder(),
        spec,
        accounts,
        tessera_client,
        extra,
        server_toml,
    )
    .await
}

/// [`sso_from`] with Tessera started from `builder`.
pub async fn sso_on(
    builder: Builder,
    spec: ProviderSpec,
    accounts: Vec<Account>,
    tessera_client: impl FnOnce(ClientSpec) -> ClientSpec,
    extra: &str,
    server_toml: &str,
) -> (OidcProvider, TestServer) {
    let url = reserve_url();
    let mut spec = spec.client(tessera_client(
        ClientSpec::new(CLIENT_ID, SECRET).redirect_uri(&callback(&url, IDP)),
    ));
    for a in accounts {
        spec = spec.account(a);
    }
    let provider = OidcProvider::start(spec).await;
    let toml = provider_toml(IDP, LABEL, &provider.discovery_url(), CLIENT_ID, extra);
    let server = tessera_on(builder, &url, &format!("{toml}\n{server_toml}")).await;
    (provider, server)
}

/// Where a sign-in landed (derefs to the URL), and the browser — the
/// client with its cookie jar — that went through it.
struct Landing {
    url: Url,
    browser: reqwest::Client,
}

impl std::ops::Deref for Landing {
    type Target = Url;
    fn deref(&self) -> &Url {
        &self.url
    }
}

impl std::fmt::Display for Landing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.url.fmt(f)
    }
}

/// Signs `login` in at Tessera's `provider` from a fresh client; the final
/// redirect's URL and that client.
async fn sign_in_at(server: &TestServer, provider: &str, login: &str, password: &str) -> Landing {
    let start = server.at(&tessera_shared::routes::oauth_login(provider));
    let browser = driver_client();
    let location = sign_in_via_provider(&browser, &start, login, password)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "SSO sign-in of {login} at {provider}: {e:#}\n{}",
                server.log()
            )
        });
    Landing {
        url: Url::parse(&location).expect("final location"),
        browser,
    }
}

/// `POST /api/v1/auths/oauth/complete {code}` from `browser` (its cookies
/// go along): status and body.
async fn redeem(browser: &reqwest::Client, server: &TestServer, code: &str) -> (u16, Value) {
    let res = browser
        .post(server.at(routes::OAUTH_COMPLETE))
        .json(&json!({ "code": code }))
        .send()
        .await
        .expect("request");
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

/// The `/signin?error=` reason, if the URL is that.
fn error_of(url: &Url) -> Option<String> {
    (url.path() == "/signin")
        .then(|| {
            url.query_pairs()
                .find(|(k, _)| k == "error")
                .map(|(_, v)| v.into_owned())
        })
        .flatten()
}

/// The fragment's `key` of `/oauth/complete#code=...&next=...`.
fn fragment(url: &Url, key: &str) -> Option<String> {
    let frag = url.fragment()?;
    let parsed = Url::parse(&format!("http://fragment.invalid/?{frag}")).ok()?;
    parsed
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Asserts `url` is a refusal on Tessera's sign-in page; returns the reason.
fn assert_refused(server: &TestServer, url: &Url, what: &str) -> String {
    assert_eq!(
        url.origin().ascii_serialization(),
        server.url,
        "{what}: a refusal lands on Tessera, not {url}"
    );
    let reason =
        error_of(url).unwrap_or_else(|| panic!("{what}: expected /signin?error=, got {url}"));
    assert!(!reason.trim().is_empty(), "{what}: an empty reason");
    assert!(fragment(url, "code").is_none(), "{what}: {url}");
    reason
}

/// Redeems the one-time code of a successful sign-in in the browser that
/// signed in: status and body.
async fn complete(server: &TestServer, landing: &Landing) -> (u16, Value) {
    assert_eq!(
        landing.path(),
        "/oauth/complete",
        "not a successful sign-in: {landing}\n{}",
        server.log()
    );
    let code = fragment(landing, "code").unwrap_or_else(|| panic!("no code in {landing}"));
    redeem(&landing.browser, server, &code).await
}

/// A full successful SSO sign-in: the `SessionUser`.
pub async fn sso_session(
    server: &TestServer,
    provider: &str,
    login: &str,
    password: &str,
) -> Value {
    let url = sign_in_at(server, provider, login, password).await;
    let (status, body) = complete(server, &url).await;
    assert_eq!(status, 200, "{body}\n{}", server.log());
    body
}

fn token(user: &Value) -> String {
    user["token"].as_str().unwrap_or_default().to_owned()
}

/// The local bootstrap admin (the first sign-up): its token.
async fn root(server: &TestServer) -> String {
    token(&server.signup("Root", ROOT_EMAIL, ROOT_PASSWORD).await)
}

/// One GET without following redirects, with `client`: status and Location.
async fn get_raw(client: &reqwest::Client, url: &str) -> (u16, Option<String>) {
    let res = client.get(url).send().await.expect("request");
    let location = res
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (res.status().as_u16(), location)
}

/// A redirect's target resolved against `base`.
fn resolve(base: &str, location: &str) -> Url {
    Url::parse(base)
        .and_then(|b| b.join(location))
        .expect("location")
}

/// `/oauth/{name}/login` of a provider Tessera does not know starts nothing:
/// 404, or a refusal on the sign-in page.
async fn assert_no_such_provider(server: &TestServer, name: &str) {
    let (status, location) =
        get_raw(&driver_client(), &server.at(&routes::oauth_login(name))).await;
    if status == 303 {
        let url = resolve(&server.url, &location.unwrap_or_default());
        assert_refused(server, &url, &format!("unknown provider {name}"));
    } else {
        assert_eq!(status, 404, "unknown provider {name}");
    }
}

#[tokio::test]
async fn sign_in_with_pkce_lands_signed_in() {
    // the provider refuses any authorization request without PKCE
    let (provider, server) = sso(vec![alice()], ClientSpec::require_pkce, "", "").await;
    root(&server).await;

    // the login redirect: code flow, PKCE S256, state, nonce, the exact redirect URI
    let c = driver_client();
    let res = c
        .get(server.at(&routes::oauth_login(IDP)))
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), 303, "{}", server.log());
    let cookie = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("tessera_oauth="))
        .expect("the tessera_oauth cookie")
        .to_ascii_lowercase();
    for attribute in ["httponly", "samesite=lax", "path=/oauth"] {
        assert!(
            cookie.contains(attribute),
            "cookie lacks {attribute}: {cookie}"
        );
    }
    let auth = resolve(&server.url, res.headers()[LOCATION].to_str().unwrap_or(""));
    assert!(auth.as_str().starts_with(provider.issuer()), "{auth}");
    let q: std::collections::HashMap<_, _> = auth.query_pairs().into_owned().collect();
    assert_eq!(q.get("response_type").map(String::as_str), Some("code"));
    assert_eq!(q.get("client_id").map(String::as_str), Some(CLIENT_ID));
    assert_eq!(q.get("redirect_uri"), Some(&callback(&server.url, IDP)));
    assert_eq!(
        q.get("code_challenge_method").map(String::as_str),
        Some("S256")
    );
    assert!(q.get("code_challenge").is_some_and(|c| c.len() >= 43));
    assert!(q.get("state").is_some_and(|s| s.len() >= 16));
    assert!(q.get("nonce").is_some_and(|s| s.len() >= 16));
    assert!(q
        .get("scope")
        .is_some_and(|s| s.split(' ').any(|s| s == "openid")));

    // the whole round trip
    let url = sign_in_at(&server, IDP, "alice-sub", "alice-password").await;
    assert_eq!(url.origin().ascii_serialization(), server.url);
    assert!(fragment(&url, "next").is_none(), "{url}");
    let code = fragment(&url, "code").expect("code");
    let (status, user) = complete(&server, &url).await;
    assert_eq!(status, 200, "{user}\n{}", server.log());
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["name"], "Alice Liddell");
    assert_eq!(user["role"], "user");
    assert_eq!(user["token_type"], "Bearer");
    let (status, me) = server.get(routes::SESSION, Some(&token(&user))).await;
    assert_eq!(status, 200);
    assert_eq!(me["id"], user["id"]);

    // the one-time code is single use; made-up codes get nothing
    let (status, _) = complete(&server, &url).await;
    assert!(
        (400..500).contains(&status),
        "a redeemed code again: {status}"
    );
    for bad in ["", "x", &format!("{code}x")] {
        let (status, body) = server
            .post(routes::OAUTH_COMPLETE, None, &json!({ "code": bad }))
            .await;
        assert!(
            (400..500).contains(&status),
            "code {bad:?}: {status} {body}"
        );
    }

    // the same person signs in again: the same account, linked by (provider, subject)
    let again = sso_session(&server, IDP, "alice@example.com", "alice-password").await;
    assert_eq!(again["id"], user["id"]);

    // nothing secret reaches the log
    let log = server.log();
    assert!(!log.contains(SECRET), "the client secret is in the log");
    assert!(!log.contains(&code), "the one-time code is in the log");
    assert!(
        !log.contains(&token(&user)),
        "a session token is in the log"
    );
}

#[tokio::test]
async fn next_stays_on_tessera() {
    let (_provider, server) = sso(vec![alice()], |c| c, "", "").await;
    let start = |next: &str| {
        let mut u = Url::parse(&server.at(&routes::oauth_login(IDP))).expect("url");
        u.query_pairs_mut().append_pair("next", next);
        u.to_string()
    };
    let go = |next: String| async move {
        let location = sign_in_via_provider(&driver_client(), &next, "alice-sub", "alice-password")
            .await
            .expect("sign-in");
        Url::parse(&location).expect("url")
    };
    let url = go(start("/settings/profile?tab=1")).await;
    assert_eq!(url.path(), "/oauth/complete", "{url}");
    assert_eq!(
        fragment(&url, "next").as_deref(),
        Some("/settings/profile?tab=1")
    );

    for evil in [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "\\\\evil.example",
        "http:evil.example",
        "javascript:alert(1)",
        "/%2F%2Fevil.example",
        "evil.example",
        " //evil.example",
    ] {
        let url = go(start(evil)).await;
        assert_eq!(
            url.origin().ascii_serialization(),
            server.url,
            "next={evil:?} left Tessera: {url}"
        );
        if let Some(next) = fragment(&url, "next") {
            let resolved = resolve(&server.url, &next);
            assert!(
                next.starts_with('/')
                    && !next.starts_with("//")
                    && !next.starts_with("/\\")
                    && resolved.origin().ascii_serialization() == server.url,
                "next={evil:?} handed on as {next:?}"
            );
        }
    }
}

/// Providers in Tessera whose client at the provider issues bad ID tokens.
const FAULTY: [&str; 4] = ["badaud", "badnonce", "expired", "badazp"];

#[tokio::test]
async fn every_bad_callback_is_refused() {
    let url = reserve_url();
    let with = |name: &str, faults: Faults| {
        ClientSpec::new(name, SECRET)
            .redirect_uri(&callback(&url, name))
            .faults(faults)
    };
    let provider = OidcProvider::start(
        ProviderSpec::new()
            .client(ClientSpec::new(CLIENT_ID, SECRET).redirect_uri(&callback(&url, IDP)))
            .client(with(
                "badaud",
                Faults {
                    id_token_audience: Some("someone-else".into()),
                    ..Faults::default()
                },
            ))
            .client(with(
                "badnonce",
                Faults {
                    id_token_nonce: Some(random_token()),
                    ..Faults::default()
                },
            ))
            .client(with(
                "expired",
                Faults {
                    id_token_expired_by: Some(600),
                    ..Faults::default()
                },
            ))
            .client(with(
                "badazp",
                Faults {
                    id_token_azp: Some("another-client".into()),
                    ..Faults::default()
                },
            ))
            .account(alice()),
    )
    .await;
    let d = provider.discovery_url();
    let mut toml = provider_toml(IDP, LABEL, &d, CLIENT_ID, "");
    for name in FAULTY {
        toml.push_str(&provider_toml(name, name, &d, name, ""));
    }
    let server = tessera_at(&url, &toml).await;
    let login = server.at(&routes::oauth_login(IDP));

    // the misbehaving provider's ID tokens: wrong aud, another nonce,
    // expired, azp naming another client
    for name in FAULTY {
        let url = sign_in_at(&server, name, "alice-sub", "alice-password").await;
        assert_refused(&server, &url, name);
    }
    // the same clients without their faults work: the fault was the reason
    for name in FAULTY {
        provider
            .put_client(&ClientSpec::new(name, SECRET).redirect_uri(&callback(&url, name)))
            .await;
        sso_session(&server, name, "alice-sub", "alice-password").await;
    }

    // a tampered state
    let c = driver_client();
    let cb = drive_to_callback(&c, &login, "alice-sub", "alice-password")
        .await
        .expect("to the callback");
    let mut tampered = Url::parse(&cb).expect("callback");
    let pairs: Vec<(String, String)> = tampered.query_pairs().into_owned().collect();
    tampered
        .query_pairs_mut()
        .clear()
        .extend_pairs(pairs.iter().map(|(k, v)| {
            if k == "state" {
                (k.clone(), format!("{v}x"))
            } else {
                (k.clone(), v.clone())
            }
        }));
    let (status, location) = get_raw(&c, tampered.as_str()).await;
    assert_eq!(status, 303, "tampered state");
    assert_refused(
        &server,
        &resolve(&server.url, &location.unwrap_or_default()),
        "tampered state",
    );

    // a callback in another browser than the one that started the login
    let c1 = driver_client();
    let cb1 = drive_to_callback(&c1, &login, "alice-sub", "alice-password")
        .await
        .expect("to the callback");
    let c2 = driver_client();
    let (status, _) = get_raw(&c2, &login).await;
    assert_eq!(status, 303);
    let (_, location) = get_raw(&c2, &cb1).await;
    assert_refused(
        &server,
        &resolve(&server.url, &location.unwrap_or_default()),
        "another browser's callback",
    );
    // and no browser at all (no login started): a callback without a prior login
    let (_, location) = get_raw(&driver_client(), &cb1).await;
    assert_refused(
        &server,
        &resolve(&server.url, &location.unwrap_or_default()),
        "callback without cookie",
    );
    let made_up = format!("{}?code=abc&state=def", callback(&server.url, IDP));
    let (_, location) = get_raw(&driver_client(), &made_up).await;
    assert_refused(
        &server,
        &resolve(&server.url, &location.unwrap_or_default()),
        "made-up callback",
    );

    // a replayed callback: works once, then never again
    let c = driver_client();
    let cb = drive_to_callback(&c, &login, "alice-sub", "alice-password")
        .await
        .expect("to the callback");
    let (status, location) = get_raw(&c, &cb).await;
    assert_eq!(status, 303);
    let first = resolve(&server.url, &location.unwrap_or_default());
    assert_eq!(first.path(), "/oauth/complete", "{first}\n{}", server.log());
    let (_, location) = get_raw(&c, &cb).await;
    assert_refused(
        &server,
        &resolve(&server.url, &location.unwrap_or_default()),
        "replayed callback",
    );
    // the same code with a fresh login (new state and nonce) is no good either
    let c = driver_client();
    let (_, location) = get_raw(&c, &login).await;
    let auth = resolve(&server.url, &location.unwrap_or_default());
    let state: String = auth
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let code: String = Url::parse(&cb)
        .expect("cb")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let mut replay = Url::parse(&callback(&server.url, IDP)).expect("url");
    replay
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &state)
        .append_pair("iss", provider.issuer());
    let (_, location) = get_raw(&c, replay.as_str()).await;
    assert_refused(
        &server,
        &resolve(&server.url, &location.unwrap_or_default()),
        "a used code under a new state",
    );

    // the provider reports an error (the person cancelled)
    let c = driver_client();
    let (_, location) = get_raw(&c, &login).await;
    let auth = resolve(&server.url, &location.unwrap_or_default());
    let state: String = auth
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let mut cancelled = Url::parse(&callback(&server.url, IDP)).expect("url");
    cancelled
        .query_pairs_mut()
        .append_pair("error", "access_denied")
        .append_pair("state", &state);
    let (_, location) = get_raw(&c, cancelled.as_str()).await;
    assert_refused(
        &server,
        &resolve(&server.url, &location.unwrap_or_default()),
        "provider error",
    );

    assert_no_such_provider(&server, "nope").await;

    // still fine for an honest sign-in
    sso_session(&server, IDP, "alice-sub", "alice-password").await;
    let log = server.log();
    assert!(!log.contains(SECRET), "the client secret is in the log");
    assert!(
        !log.contains(&code),
        "a provider authorization code is in the log"
    );
}

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
    let (_, me) = server.get(routes::SESSION, Some(&token(&bob2))).await;
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
        let (status, _) = server.signin(ROOT_EMAIL, ROOT_PASSWORD).await;
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

        // only admins see or change them
        let alice_session = sso_session(&server, IDP, "alice-sub", "alice-password").await;
        let alice_token = token(&alice_session);
        let (status, _) = server
            .get(routes::ADMIN_OIDC_PROVIDERS, Some(&alice_token))
            .await;
        assert_eq!(status, 403);
        let (status, _) = server.get(routes::ADMIN_OIDC_PROVIDERS, None).await;
        assert_eq!(status, 401);
        let (status, _) = put_settings(&server, &alice_token, &s).await;
        assert_eq!(status, 403);

        // restrict to a group: alice (no groups) is refused next time, her session lives on
        let mut restricted = s.clone();
        restricted["user_groups"] = json!(["trusted"]);
        restricted["display_name"] = json!("Renamed IdP");
        let (status, body) = put_settings(&server, &admin, &restricted).await;
        assert_eq!(status, 200, "{body}");
        assert!(!body.contains(SECRET));
        let saved: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(saved["client_secret"], Value::Null);
        assert_eq!(
            saved["client_secret_set"], true,
            "a null secret keeps the stored one"
        );
        assert_eq!(saved["source"], "database");
        let url = sign_in_at(&server, IDP, "alice-sub", "alice-password").await;
        assert_eq!(
            assert_refused(&server, &url, "alice after the change"),
            "Access prohibited"
        );
        let (status, _) = server.get(routes::SESSION, Some(&alice_token)).await;
        assert_eq!(status, 200, "an existing session keeps working");
        sso_session(&server, IDP, "tom", "pw-tom").await;
        let (_, config) = server.get(routes::PUBLIC_CONFIG, None).await;
        assert!(
            config["oidc_providers"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["display_name"] == "Renamed IdP"),
            "{config}"
        );

        // a wrong secret breaks the next sign-in; the right one repairs it
        let mut wrong = restricted.clone();
        wrong["client_secret"] = json!("not-the-secret");
        let (status, body) = put_settings(&server, &admin, &wrong).await;
        assert_eq!(status, 200, "{body}");
        assert!(!body.contains("not-the-secret"), "{body}");
        let url = sign_in_at(&server, IDP, "tom", "pw-tom").await;
        assert_refused(&server, &url, "wrong client secret");
        let mut right = restricted.clone();
        right["client_secret"] = json!(SECRET);
        let (status, _) = put_settings(&server, &admin, &right).await;
        assert_eq!(status, 200);
        sso_session(&server, IDP, "tom", "pw-tom").await;
        assert!(!settings_of(&server, &admin, IDP)
            .await
            .to_string()
            .contains(SECRET));

        // invalid settings are refused, naming the field
        let mut invalid = right.clone();
        invalid["client_secret"] = Value::Null;
        invalid["discovery_url"] = json!("not a url");
        let (status, body) = put_settings(&server, &admin, &invalid).await;
        assert_eq!(status, 422, "{body}");
        assert!(body.contains("discovery_url"), "{body}");
        sso_session(&server, IDP, "tom", "pw-tom").await;

        // deleting the database row falls back to the config file
        let res = client()
            .delete(server.at(&routes::ADMIN_OIDC_PROVIDER.replace("{name}", IDP)))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("delete");
        assert_eq!(res.status(), 204);
        let s = settings_of(&server, &admin, IDP).await;
        assert_eq!(s["source"], "config");
        assert_eq!(s["user_groups"], json!([]));
        sso_session(&server, IDP, "alice-sub", "alice-password").await;

        // a provider that exists only in the database: added, used, removed
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
        let (status, body) = put_settings(&server, &admin, &second).await;
        assert_eq!(status, 200, "{body}");
        assert!(!body.contains("second-secret-77"), "{body}");
        let listed = settings_of(&server, &admin, "second").await;
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
        let via_second = sso_session(&server, "second", "tom", "pw-tom").await;
        assert_eq!(via_second["email"], "tom@example.com");
        let res = client()
            .delete(server.at(&routes::ADMIN_OIDC_PROVIDER.replace("{name}", "second")))
            .bearer_auth(&admin)
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
        assert_no_such_provider(&server, "second").await;
        let (status, _) = server.get(routes::SESSION, Some(&token(&via_second))).await;
        assert_eq!(status, 200, "a session outlives its provider's settings");

        let log = server.log();
        for secret in [SECRET, "not-the-secret", "second-secret-77"] {
            assert!(!log.contains(secret), "{secret} is in the log");
        }
    }
}

#[tokio::test]
async fn backup_login_for_the_bootstrap_admin_only() {
    let (_provider, mut server) = sso(vec![alice()], |c| c, "", "").await;
    // a local account made while password sign-in was on
    server.signup("Root", ROOT_EMAIL, ROOT_PASSWORD).await;
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
    let (status, body) = server.signin(ROOT_EMAIL, ROOT_PASSWORD).await;
    assert_eq!(status, 200, "{body}\n{}", server.log());
    assert_eq!(body["role"], "admin");
    // SSO still works
    sso_session(&server, IDP, "alice-sub", "alice-password").await;
}

#[tokio::test]
async fn token_exchange_of_a_provider_access_token() {
    let (provider, server) = sso(vec![alice()], |c| c, "", "").await;
    root(&server).await;
    let cb = callback(&server.url, IDP);
    let tessera = ClientSpec::new(CLIENT_ID, SECRET).redirect_uri(&cb);
    let tokens = provider
        .code_flow(&tessera, &cb, "alice-sub", "alice-password", true)
        .await
        .expect("tokens");
    let path = routes::OAUTH_TOKEN_EXCHANGE.replace("{provider}", IDP);
    let (status, user) = server
        .post(&path, None, &json!({"token": tokens["access_token"]}))
        .await;
    assert_eq!(status, 200, "{user}\n{}", server.log());
    assert_eq!(user["email"], "alice@example.com");
    let (status, me) = server.get(routes::SESSION, Some(&token(&user))).await;
    assert_eq!(status, 200);
    assert_eq!(me["email"], "alice@example.com");
    // the same person as through the browser flow
    let browser = sso_session(&server, IDP, "alice-sub", "alice-password").await;
    assert_eq!(browser["id"], user["id"]);

    for garbage in [
        "garbage",
        "",
        &format!("{}x", tokens["access_token"].as_str().unwrap_or("")),
    ] {
        let (status, body) = server.post(&path, None, &json!({"token": garbage})).await;
        assert_eq!(status, 401, "{garbage:?}: {body}");
        assert_eq!(body["detail"], "Invalid token");
    }
    let (status, _) = server
        .post(
            &routes::OAUTH_TOKEN_EXCHANGE.replace("{provider}", "nope"),
            None,
            &json!({"token": tokens["access_token"]}),
        )
        .await;
    assert!(
        (400..500).contains(&status),
        "an unknown provider: {status}"
    );
}

#[tokio::test]
async fn form_post_response_mode() {
    let (_provider, server) = sso(vec![alice()], |c| c, "response_mode = \"form_post\"", "").await;
    let (_, location) = get_raw(&driver_client(), &server.at(&routes::oauth_login(IDP))).await;
    let auth = resolve(&server.url, &location.unwrap_or_default());
    assert!(
        auth.query_pairs()
            .any(|(k, v)| k == "response_mode" && v == "form_post"),
        "{auth}"
    );
    let user = sso_session(&server, IDP, "alice-sub", "alice-password").await;
    assert_eq!(user["email"], "alice@example.com");
    // a GET to the callback proves nothing for form_post
    let (_, location) = get_raw(
        &driver_client(),
        &format!("{}?code=a&state=b", callback(&server.url, IDP)),
    )
    .await;
    assert_refused(
        &server,
        &resolve(&server.url, &location.unwrap_or_default()),
        "GET callback",
    );
}

#[tokio::test]
async fn claims_from_userinfo_when_the_id_token_lacks_them() {
    let url = reserve_url();
    let provider = OidcProvider::start(
        ProviderSpec::new()
            .claims_only_in_userinfo()
            .client(ClientSpec::new(CLIENT_ID, SECRET).redirect_uri(&callback(&url, IDP)))
            .account(alice()),
    )
    .await;
    // the secret from `client_secret_file` this time
    let secrets = tempfile::tempdir().expect("temp dir");
    let secret_file = secrets.path().join("client-secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).expect("secret file");
    let toml = format!(
        "[[oidc_providers]]\nname = \"{IDP}\"\ndisplay_name = \"{LABEL}\"\ndiscovery_url = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret_file = {:?}\n",
        provider.discovery_url(),
        secret_file
    );
    let server = tessera_at(&url, &toml).await;
    let user = sso_session(&server, IDP, "alice-sub", "alice-password").await;
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["name"], "Alice Liddell");
}

#[tokio::test]
async fn cli_login_with_skip_browser() {
    let cli_port = tessera_tests::free_port();
    let loopback = format!("http://localhost:{cli_port}/oidc/callback");
    let other_port = tessera_tests::free_port();
    let manual = format!("http://127.0.0.1:{other_port}/oidc/callback");
    let (provider, server) = sso(
        vec![alice()],
        |c| c.redirect_uri(&loopback).redirect_uri(&manual),
        "",
        "",
    )
    .await;
    root(&server).await;

    let mut child = tokio::process::Command::new(binary())
        .args([
            "login",
            "--method",
            "oidc",
            "--provider",
            IDP,
            "--url",
            &server.url,
        ])
        .args(["--port", &cli_port.to_string(), "--skip-browser"])
        .env_remove("TESSERA_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("tessera login");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = String::new();
    let auth_url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push_str(&line);
            seen.push('\n');
            let line = line.trim();
            if line.starts_with("http://") || line.starts_with("https://") {
                return Some(line.to_owned());
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .unwrap_or_else(|| {
        panic!(
            "no URL from tessera login; it said:\n{seen}\n{}",
            server.log()
        )
    });
    assert!(
        seen.contains("Complete the login via your OIDC provider"),
        "{seen}"
    );
    assert!(auth_url.starts_with(provider.issuer()), "{auth_url}");
    let cb = sign_in_via_provider(&driver_client(), &auth_url, "alice-sub", "alice-password")
        .await
        .expect("through the provider");
    assert!(cb.starts_with(&loopback), "{cb}");
    let res = client().get(&cb).send().await.expect("the CLI's listener");
    assert_eq!(res.status(), 200);
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("tessera login should finish")
        .expect("exit status");
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.read_to_string(&mut out).await;
    }
    assert!(
        status.success(),
        "tessera login failed: {seen}\n{}",
        server.log()
    );
    let cli_token = out.trim();
    assert!(
        !cli_token.is_empty() && !cli_token.contains('\n'),
        "stdout: {out:?}"
    );
    let (status, me) = server.get(routes::SESSION, Some(cli_token)).await;
    assert_eq!(status, 200);
    assert_eq!(me["email"], "alice@example.com");

    // the server side of the CLI flow: loopback redirect URIs only, bound to the client nonce
    let start = routes::OAUTH_CLI_START.replace("{provider}", IDP);
    let finish = routes::OAUTH_CLI_FINISH.replace("{provider}", IDP);
    for bad in [
        "http://evil.example/oidc/callback",
        "https://localhost:8250/oidc/callback",
        "http://localhost:8250/elsewhere",
        &format!("{}/oauth/{IDP}/callback", server.url),
    ] {
        let (status, body) = server
            .post(
                &start,
                None,
                &json!({"redirect_uri": bad, "client_nonce": random_token()}),
            )
            .await;
        assert!(
            (400..500).contains(&status),
            "redirect URI {bad}: {status} {body}"
        );
    }
    let nonce = random_token();
    let (status, started) = server
        .post(
            &start,
            None,
            &json!({"redirect_uri": manual, "client_nonce": nonce}),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let url = started["auth_url"].as_str().expect("auth_url");
    let cb = sign_in_via_provider(&driver_client(), url, "alice-sub", "alice-password")
        .await
        .expect("through the provider");
    let cb = Url::parse(&cb).expect("callback");
    let param = |k: &str| {
        cb.query_pairs()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let (status, body) = server
        .post(
            &finish,
            None,
            &json!({"state": param("state"), "code": param("code"), "client_nonce": random_token()}),
        )
        .await;
    assert!(
        (400..500).contains(&status),
        "a wrong client nonce: {status} {body}"
    );
    assert!(body.get("token").is_none());

    // the CLI reports a failure: an unknown provider
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(binary())
            .args([
                "login",
                "--method",
                "oidc",
                "--provider",
                "nope",
                "--url",
                &server.url,
            ])
            .args([
                "--port",
                &tessera_tests::free_port().to_string(),
                "--skip-browser",
            ])
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("tessera login with an unknown provider should give up")
    .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(!out.stderr.is_empty());
}

#[tokio::test]
async fn the_session_does_not_outlive_the_access_token() {
    let (_provider, server) = sso_from(
        ProviderSpec::new().access_token_ttl(4),
        vec![alice()],
        |c| c,
        "",
        "",
    )
    .await;
    root(&server).await;
    let before = tessera_tests::keyserver::now();
    let user = sso_session(&server, IDP, "alice-sub", "alice-password").await;
    let expires = user["expires_at"]
        .as_i64()
        .unwrap_or_else(|| panic!("a session without expiry outlives the access token: {user}"));
    assert!(
        expires <= before + 6,
        "expires_at {expires}, access token gone at ~{}",
        before + 4
    );
    let (status, _) = server.get(routes::SESSION, Some(&token(&user))).await;
    assert_eq!(status, 200);
    let wait = (expires - tessera_tests::keyserver::now() + 2).max(0) as u64;
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let (status, _) = server.get(routes::SESSION, Some(&token(&user))).await;
    assert_eq!(
        status, 401,
        "the session outlived the provider's access token"
    );
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
    let run = |draft: Value, login: &'static str, password: &'static str| {
        let server = &server;
        let admin = admin.clone();
        let issuer = issuer.clone();
        async move {
            let (status, started) = server
                .post(routes::ADMIN_OIDC_TEST, Some(&admin), &draft)
                .await;
            assert_eq!(status, 200, "{started}\n{}", server.log());
            assert_eq!(started["issuer"], issuer);
            let login_url = started["login_url"].as_str().expect("login_url");
            assert!(
                login_url.starts_with(&format!("/oauth/{IDP}/login?test=")),
                "{login_url}"
            );
            let location =
                sign_in_via_provider(&driver_client(), &server.at(login_url), login, password)
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
                    Some(&admin),
                    &json!({ "code": code }),
                )
                .await;
            assert_eq!(status, 200, "{report}");
            report
        }
    };

    // a draft restricted to a group: tom passes, alice would be refused
    let mut draft = saved.clone();
    draft["groups_claim"] = json!("groups");
    draft["user_groups"] = json!(["trusted"]);
    let report = run(draft.clone(), "tom", "pw-tom").await;
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["role"], "user");
    assert_eq!(report["claims"]["email"], "tom@example.com");
    assert!(
        report["groups"]
            .as_array()
            .is_some_and(|g| g.iter().any(|g| g == "trusted")),
        "{report}"
    );
    let report = run(draft, "alice-sub", "alice-password").await;
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
        .post(
            routes::ADMIN_OIDC_TEST,
            Some(&token(&alice_session)),
            &saved,
        )
        .await;
    assert_eq!(status, 403);
}

/// Two replicas sharing one database and one Redis (docs/scale-out.md): the
/// hand-over code of a sign-in that ended on one is redeemed on the other,
/// exactly once.
#[tokio::test]
async fn a_hand_over_code_is_redeemed_once_on_any_replica() {
    let redis = tessera_tests::redis::RedisServer::start().await;
    let shared = tempfile::tempdir().expect("temp dir");
    let server_toml = format!(
        "[redis]\nurl = \"{}\"\n[session]\nsecret = \"replicas-share-this-session-secret-0123\"\n[database]\nurl = \"sqlite://{}?mode=rwc\"\n",
        redis.url,
        shared.path().join("tessera.db").display()
    );
    let (provider, a) = sso(vec![alice()], |c| c, "", &server_toml).await;
    let b = tessera_at(
        &reserve_url(),
        &format!(
            "{}\n{server_toml}",
            provider_toml(IDP, LABEL, &provider.discovery_url(), CLIENT_ID, "")
        ),
    )
    .await;
    let url = sign_in_at(&a, IDP, "alice-sub", "alice-password").await;
    let code = fragment(&url, "code").unwrap_or_else(|| panic!("no code in {url}"));
    // behind one load balancer the browser's cookie goes to either replica
    // (cookies are per host, not per port)
    let (status, session) = redeem(&url.browser, &b, &code).await;
    assert_eq!(status, 200, "{session}\n{}", b.log());
    assert_eq!(session["email"], "alice@example.com");
    for server in [&a, &b] {
        let (status, _) = server
            .post(routes::OAUTH_COMPLETE, None, &json!({ "code": code }))
            .await;
        assert_eq!(status, 401, "a code is redeemed once");
    }
    let (status, me) = a.get(routes::SESSION, Some(&token(&session))).await;
    assert_eq!((status, &me["email"]), (200, &json!("alice@example.com")));
}

/// Issue 15, login CSRF: a hand-over code is redeemed only in the browser
/// whose callback issued it. An attacker who finishes a sign-in of their own
/// and sends a victim the code (a link to `/oauth/complete#code=…`) cannot
/// sign the victim in as the attacker; the attacker's own browser still can,
/// because a refused redemption leaves the code alone.
#[tokio::test]
async fn a_hand_over_code_is_redeemed_only_in_the_browser_that_signed_in() {
    let (_provider, server) = sso(vec![alice()], |c| c, "", "").await;
    let login = server.at(&routes::oauth_login(IDP));

    // the attacker signs in with their own account, up to Tessera's answer
    let attacker = driver_client();
    let cb = drive_to_callback(&attacker, &login, "alice-sub", "alice-password")
        .await
        .expect("to the callback");
    let res = attacker.get(&cb).send().await.expect("callback");
    assert_eq!(res.status(), 303, "{}", server.log());
    let binding = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("tessera_handover="))
        .expect("the tessera_handover cookie")
        .to_owned();
    let lower = binding.to_ascii_lowercase();
    for attribute in [
        "httponly",
        "samesite=lax",
        "path=/api/v1/auths/oauth/complete",
        "max-age=60",
    ] {
        assert!(lower.contains(attribute), "lacks {attribute}: {binding}");
    }
    assert!(!lower.contains("secure"), "public_url is http: {binding}");
    let secret = binding
        .trim_start_matches("tessera_handover=")
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(secret.len() >= 43, "{binding}");
    let landing = resolve(&server.url, res.headers()[LOCATION].to_str().unwrap_or(""));
    let code = fragment(&landing, "code").unwrap_or_else(|| panic!("no code in {landing}"));

    // the victim's browser, which started a sign-in of its own but holds no
    // binding: refused with a reason, no session
    let victim = driver_client();
    let (status, _) = get_raw(&victim, &login).await;
    assert_eq!(status, 303);
    let (status, body) = redeem(&victim, &server, &code).await;
    assert_eq!(
        status, 403,
        "the victim redeemed the attacker's code: {body}"
    );
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("another browser")),
        "{body}"
    );
    assert!(body.get("token").is_none(), "{body}");
    // no cookies at all (a cross-site script, curl): refused too
    let (status, body) = server
        .post(routes::OAUTH_COMPLETE, None, &json!({ "code": code }))
        .await;
    assert_eq!(status, 403, "{body}");
    // a victim holding the binding of a sign-in of their own: still refused
    let victim_own = sign_in_at(&server, IDP, "alice-sub", "alice-password").await;
    let (status, body) = redeem(&victim_own.browser, &server, &code).await;
    assert_eq!(status, 403, "another browser's binding: {body}");

    // the attacker's own browser: the refusals did not use the code up
    let (status, user) = redeem(&attacker, &server, &code).await;
    assert_eq!(status, 200, "{user}\n{}", server.log());
    assert_eq!(user["email"], "alice@example.com");
    let (status, _) = redeem(&attacker, &server, &code).await;
    assert_eq!(status, 401, "used once");
    // and the victim's own code works in the victim's browser
    let (status, own) = complete(&server, &victim_own).await;
    assert_eq!(status, 200, "{own}");

    let log = server.log();
    assert!(!log.contains(&secret), "the binding secret is in the log");
    assert!(!log.contains(&code), "the hand-over code is in the log");
}
