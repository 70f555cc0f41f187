//! SSO sign-in (issue #7) against a real OpenID provider (`oidc-provider` on
//! loopback), driven without a browser: the code flow with PKCE, every
//! refusal, role mapping, merging by e-mail, runtime settings, the backup
//! password sign-in, token exchange, `form_post` and `tessera login`; and
//! the provider's logouts (back-channel, RP-initiated).
use crate::support::token;
pub use crate::support::PASSWORD;
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
use tessera_tests::server::{binary, client, status_and_json, Builder, TestServer};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

mod cli;
mod logout;
mod refresh;
mod refusals;
mod roles;
mod rp_logout;
mod settings;
mod sign_in;
mod tokens;

/// The provider's name in Tessera (the `{provider}` in the paths).
pub const IDP: &str = "idp";
/// Its button label.
pub const LABEL: &str = "Test IdP";
/// The client Tessera is registered as.
pub const CLIENT_ID: &str = "tessera";
/// Its secret (never to be seen in an answer or a log).
pub const SECRET: &str = "tessera-client-secret-3f9a";
/// The local bootstrap admin's e-mail (its password is [`PASSWORD`]).
pub const ROOT_EMAIL: &str = "root@example.com";

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
    status_and_json(res).await
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

/// The local bootstrap admin (the first sign-up): its token.
async fn root(server: &TestServer) -> String {
    token(&server.signup("Root", ROOT_EMAIL, PASSWORD).await).to_owned()
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
