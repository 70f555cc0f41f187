//! `tessera login`: signs in from a terminal through an OIDC provider
//! configured on a Tessera server, and hands out the Tessera session token.
//!
//! The flow (OpenBao's CLI flow): a listener on `127.0.0.1:{port}` is the
//! redirect target `http://localhost:{port}/oidc/callback`; the server
//! (`POST .../cli/start`) builds the provider's authorization URL (PKCE,
//! state, nonce) bound to a random client nonce only this process knows; the
//! person signs in with a browser; the provider redirects to the listener;
//! the code, the state and the client nonce go back to the server
//! (`POST .../cli/finish`), which answers with the session. The code and the
//! client nonce are never printed.
use anyhow::{anyhow, Context};
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;
use tessera_shared::{routes, CliFinishForm, CliStartForm, CliStarted, PublicConfig, SessionUser};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

/// The path of the loopback redirect URI.
pub const CALLBACK_PATH: &str = "/oidc/callback";
/// How long to wait for the provider's redirect.
pub const CALLBACK_WAIT: Duration = Duration::from_secs(5 * 60);
/// What `--url` defaults to.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";
/// What `--port` defaults to.
pub const DEFAULT_PORT: u16 = 8250;
/// The line printed (on stderr) before the authorization URL.
pub const INSTRUCTION: &str =
    "Complete the login via your OIDC provider. Open this URL in your browser:";
/// Longest text taken from a server or provider into a message.
const MAX_MESSAGE_CHARS: usize = 300;

/// How to sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// Through an OAuth 2.0 / OpenID Connect provider configured on the server.
    Oidc,
}

/// `tessera login`.
#[derive(Debug, Clone, clap::Args)]
pub struct LoginArgs {
    /// Sign-in method; only `oidc` for now (an `[[oidc_providers]]` entry of the server).
    #[arg(long, value_enum, default_value_t = Method::Oidc)]
    pub method: Method,
    /// The provider's `name` on the server. Default: the server's only provider.
    #[arg(long, value_name = "NAME")]
    pub provider: Option<String>,
    /// Tessera's URL.
    #[arg(long, env = "TESSERA_URL", default_value = DEFAULT_URL, value_name = "URL")]
    pub url: String,
    /// Port of the local listener (127.0.0.1) that receives the provider's
    /// redirect: the provider must allow http://localhost:PORT/oidc/callback.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Do not open a browser; only print the URL to open.
    #[arg(long)]
    pub skip_browser: bool,
    /// Write the token to this file (mode 0600, replaced atomically) instead
    /// of printing it on stdout.
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
}

/// Runs `tessera login`: the token on stdout (or in `--token-file`) and exit
/// 0, or a message on stderr and exit 1.
pub fn run(args: LoginArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tessera login: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(login(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera login: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn login(args: LoginArgs) -> anyhow::Result<()> {
    let Method::Oidc = args.method;
    let base = base_url(&args.url).map_err(|e| anyhow!(e))?;
    if let Some(name) = &args.provider {
        check_provider_name(name).map_err(|e| anyhow!(e))?;
    }
    if base.starts_with("http://") && !is_loopback_url(&base) {
        eprintln!(
            "Warning: {base} is plain http: the session token crosses the network unencrypted."
        );
    }
    let listener = Callbacks::bind(args.port).await?;
    let redirect_uri = redirect_uri(listener.port);
    let api = Api::new(&base)?;
    let provider = match args.provider {
        Some(name) => name,
        None => {
            let config: PublicConfig = api.get(routes::PUBLIC_CONFIG).await?;
            let names: Vec<&str> = config
                .oidc_providers
                .iter()
                .map(|p| p.name.as_str())
                .collect();
            choose_provider(&names).map_err(|e| anyhow!(e))?
        }
    };
    let client_nonce = new_client_nonce();
    let started: CliStarted = api
        .post(
            &provider_path(routes::OAUTH_CLI_START, &provider),
            &CliStartForm {
                redirect_uri: redirect_uri.clone(),
                client_nonce: client_nonce.clone(),
            },
        )
        .await
        .with_context(|| format!("cannot start the login at provider `{provider}`"))?;
    let auth_url = checked_auth_url(&started.auth_url).map_err(|e| anyhow!(e))?;
    let expected_state = state_of(&auth_url);

    eprintln!("{INSTRUCTION}");
    eprintln!("{auth_url}");
    if !args.skip_browser {
        if let Err(e) = open_browser(&auth_url) {
            eprintln!("(Could not open a browser: {e}. Open the URL above yourself.)");
        }
    }
    eprintln!("Waiting up to 5 minutes for the provider to redirect to {redirect_uri} ...");

    let received = listener.wait(expected_state, CALLBACK_WAIT).await?;
    let user: SessionUser = api
        .post(
            &provider_path(routes::OAUTH_CLI_FINISH, &provider),
            &CliFinishForm {
                state: received.state,
                code: received.code,
                client_nonce,
            },
        )
        .await
        .context("the server did not finish the login")?;
    match &args.token_file {
        Some(path) => {
            write_token_file(path, &user.token)
                .with_context(|| format!("cannot write the token to {}", path.display()))?;
            eprintln!(
                "Signed in as {}; the session token is in {}",
                clean(&user.email),
                path.display()
            );
        }
        None => {
            eprintln!("Signed in as {}.", clean(&user.email));
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", user.token)
                .and_then(|()| out.flush())
                .context("cannot write the token to stdout")?;
        }
    }
    Ok(())
}

/// `--url` as a base without a trailing slash: http(s), with a host, no
/// query or fragment (a path prefix is kept).
pub fn base_url(url: &str) -> Result<String, String> {
    let parsed = url::Url::parse(url.trim())
        .map_err(|e| format!("--url `{url}` is not a URL ({e}); e.g. {DEFAULT_URL}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(format!(
            "--url `{url}` must be an http:// or https:// URL of the Tessera server"
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() || !parsed.username().is_empty() {
        return Err(format!(
            "--url `{url}` must not carry a query, fragment or user name"
        ));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

fn is_loopback_url(url: &str) -> bool {
    match url::Url::parse(url)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
    {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A provider name as the server accepts it: `[a-z0-9_-]`, 1–40 characters.
pub fn check_provider_name(name: &str) -> Result<(), String> {
    let ok = (1..=40).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "--provider `{}` is not a provider name: 1 to 40 of a-z, 0-9, _ and -",
            clean(name)
        ))
    }
}

/// The provider to use when `--provider` is not given: the server's only one.
pub fn choose_provider(available: &[&str]) -> Result<String, String> {
    match available {
        [only] => Ok((*only).to_owned()),
        [] => Err("the server offers no OIDC provider".into()),
        several => Err(format!(
            "the server offers several OIDC providers; choose one with --provider: {}",
            several
                .iter()
                .map(|n| clean(n))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// `http://localhost:{port}/oidc/callback`.
pub fn redirect_uri(port: u16) -> String {
    format!("http://localhost:{port}{CALLBACK_PATH}")
}

/// `template` (a route with `{provider}`) for `provider`.
fn provider_path(template: &str, provider: &str) -> String {
    template.replace("{provider}", provider)
}

/// 256 random bits, base64url: binds the server's flow to this process.
pub fn new_client_nonce() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The server's authorization URL, refused unless it is an http(s) URL (it
/// is handed to a browser opener, so nothing that could read as an option).
pub fn checked_auth_url(url: &str) -> Result<String, String> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Ok(u.as_str().to_owned())
        }
        _ => Err("the server answered with an unusable authorization URL".into()),
    }
}

/// The `state` the server put in the authorization URL, when there is one:
/// callbacks carrying another state are not ours.
pub fn state_of(auth_url: &str) -> Option<String> {
    let url = url::Url::parse(auth_url).ok()?;
    let mut states = url.query_pairs().filter(|(k, _)| k == "state");
    let state = states.next()?.1.into_owned();
    (states.next().is_none() && !state.is_empty()).then_some(state)
}

/// What the loopback listener made of a request to the callback path.
#[derive(Debug, PartialEq, Eq)]
pub enum Callback {
    /// The provider's answer with a code: finish the login.
    Code(Received),
    /// The provider's refusal (`error`, `error_description`): the login ends
    /// with this message.
    Refused(String),
    /// Not the answer to this login (another `state`, or a malformed query):
    /// answered 400, and the wait goes on.
    Stray(&'static str),
}

/// The code and state the provider sent.
#[derive(PartialEq, Eq)]
pub struct Received {
    /// `state`.
    pub state: String,
    /// `code`.
    pub code: String,
}

impl std::fmt::Debug for Received {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Received { state: ***, code: *** }")
    }
}

/// Reads the callback's query (or `form_post` body). `expected_state` is the
/// state of the authorization URL, when it had one.
pub fn parse_callback(query: Option<&str>, expected_state: Option<&str>) -> Callback {
    let (mut code, mut state, mut error, mut description) = (None, None, None, None);
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let slot = match key.as_ref() {
            "code" => &mut code,
            "state" => &mut state,
            "error" => &mut error,
            "error_description" => &mut description,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Callback::Stray("a parameter is repeated");
        }
    }
    let state_matches = match (expected_state, state.as_deref()) {
        (None, _) => true,
        (Some(want), Some(got)) => bool::from(want.as_bytes().ct_eq(got.as_bytes())),
        (Some(_), None) => false,
    };
    if let Some(error) = error {
        // RFC 6749 §4.1.2.1 wants the state back, but some providers omit it
        // on errors; an error with a foreign state is someone else's.
        if state.is_some() && !state_matches {
            return Callback::Stray("the state does not belong to this login");
        }
        let message = match description.filter(|d| !d.trim().is_empty()) {
            Some(d) => format!("{}: {}", clean(&error), clean(&d)),
            None => clean(&error),
        };
        return Callback::Refused(message);
    }
    if !state_matches {
        return Callback::Stray("the state does not belong to this login");
    }
    match (code, state) {
        (Some(code), Some(state)) if !code.is_empty() => Callback::Code(Received { state, code }),
        _ => Callback::Stray("the redirect carries no code and state"),
    }
}

/// Text from elsewhere made safe for a terminal: control characters
/// (escape sequences) replaced, length bounded.
pub fn clean(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_MESSAGE_CHARS)
        .collect();
    if s.chars().count() > MAX_MESSAGE_CHARS {
        out.push('…');
    }
    out
}

/// A readable message for a failed call: the server's `detail` when the
/// body is `{"detail": "..."}`, and the status.
pub fn error_message(status: reqwest::StatusCode, body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Detail {
        detail: serde_json::Value,
    }
    let detail = serde_json::from_slice::<Detail>(body)
        .ok()
        .map(|d| match d.detail {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        })
        .filter(|d| !d.trim().is_empty());
    match detail {
        Some(d) => format!("{} (HTTP {})", clean(&d), status.as_u16()),
        None => format!("the server answered HTTP {status}"),
    }
}

/// Writes `token` to `path` with mode 0600: into a new file beside it, then
/// renamed over it, so no reader ever sees a partial or wider-readable file.
pub fn write_token_file(path: &Path, token: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let suffix: u64 = rand::random();
    let tmp = dir.join(format!(".{}.{suffix:016x}.tmp", name.to_string_lossy()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let written = opts.open(&tmp).and_then(|mut f| {
        f.write_all(token.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Hands `url` to the desktop's opener; the caller prints it anyway.
fn open_browser(url: &str) -> std::io::Result<()> {
    #[cfg(target_os = "macos")]
    let mut cmd = std::process::Command::new("open");
    #[cfg(windows)]
    let mut cmd = {
        let mut c = std::process::Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler");
        c
    };
    #[cfg(not(any(target_os = "macos", windows)))]
    let mut cmd = std::process::Command::new("xdg-open");
    let mut child = cmd
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// The calls to the Tessera server.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(base: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("tessera-login/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(Self {
            base: base.to_owned(),
            http,
        })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.answer(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        self.answer(self.http.post(format!("{}{path}", self.base)).json(body))
            .await
    }

    async fn answer<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> anyhow::Result<T> {
        let res = req
            .send()
            .await
            .map_err(|e| anyhow!("cannot reach Tessera at {}: {}", self.base, causes(&e)))?;
        let status = res.status();
        let body = res
            .bytes()
            .await
            .map_err(|e| anyhow!("reading Tessera's answer: {}", causes(&e)))?;
        if !status.is_success() {
            return Err(anyhow!(error_message(status, &body)));
        }
        serde_json::from_slice(&body).map_err(|_| {
            anyhow!(
                "unexpected answer from {} (HTTP {status}): is --url a Tessera server?",
                self.base
            )
        })
    }
}

/// A reqwest error with its causes ("connection refused"), without the URL.
fn causes(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut next: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(cause) = next {
        let text = cause.to_string();
        if !parts.iter().any(|p: &String| p.contains(&text)) {
            parts.push(text);
        }
        next = cause.source();
    }
    let head = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    match parts.last() {
        Some(last) => format!("{head} ({})", clean(last)),
        None => head.to_owned(),
    }
}

/// The loopback listener for the provider's redirect.
struct Callbacks {
    port: u16,
    listeners: Vec<TcpListener>,
}

/// What the callback handler shares with the wait.
struct Shared {
    expected_state: Option<String>,
    done: AtomicBool,
    outcome: mpsc::Sender<Result<Received, String>>,
}

impl Callbacks {
    /// Binds `127.0.0.1:{port}` (and `[::1]` on the same port when it can,
    /// as `localhost` may resolve to either).
    async fn bind(port: u16) -> anyhow::Result<Self> {
        let v4 = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| bind_error(port, &e))?;
        let port = v4.local_addr()?.port();
        let mut listeners = vec![v4];
        if let Ok(v6) = TcpListener::bind(("::1", port)).await {
            listeners.push(v6);
        }
        Ok(Self { port, listeners })
    }

    /// Serves the callback path until the provider's answer arrives (or
    /// `wait` passes), then stops listening.
    async fn wait(
        self,
        expected_state: Option<String>,
        wait: Duration,
    ) -> anyhow::Result<Received> {
        let (tx, mut rx) = mpsc::channel(1);
        let shared = Arc::new(Shared {
            expected_state,
            done: AtomicBool::new(false),
            outcome: tx,
        });
        let app = callback_router(shared);
        let mut stops = Vec::new();
        let mut servers = Vec::new();
        for listener in self.listeners {
            let (stop, stopped) = oneshot::channel::<()>();
            stops.push(stop);
            let server = axum::serve(listener, app.clone()).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            servers.push(tokio::spawn(async move { server.await }));
        }
        let outcome = tokio::time::timeout(wait, rx.recv()).await;
        for stop in stops {
            let _ = stop.send(());
        }
        // let the answer page reach the browser before the process ends
        for server in servers {
            let _ = tokio::time::timeout(Duration::from_secs(3), server).await;
        }
        match outcome {
            Ok(Some(Ok(received))) => Ok(received),
            Ok(Some(Err(message))) => Err(anyhow!("the provider refused the login: {message}")),
            Ok(None) => Err(anyhow!("the callback listener stopped unexpectedly")),
            Err(_) => Err(anyhow!(
                "no answer from the provider within {}; run `tessera login` again",
                humantime::format_duration(wait)
            )),
        }
    }
}

fn bind_error(port: u16, e: &std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::AddrInUse {
        anyhow!(
            "port {port} on 127.0.0.1 is already in use (another `tessera login`?); \
             stop that program or choose another port with --port (the provider must allow \
             http://localhost:PORT{CALLBACK_PATH} for it)"
        )
    } else {
        anyhow!("cannot listen on 127.0.0.1:{port}: {e}")
    }
}

/// The listener's routes: the callback path (GET, and POST for
/// `form_post`); everything else is 404.
fn callback_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(CALLBACK_PATH, get(callback_get).post(callback_post))
        .fallback(|| async { (StatusCode::NOT_FOUND, "Not found") })
        .with_state(shared)
}

async fn callback_get(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    on_callback(&shared, query.as_deref())
}

async fn callback_post(State(shared): State<Arc<Shared>>, body: String) -> Response {
    on_callback(&shared, Some(&body))
}

fn on_callback(shared: &Shared, query: Option<&str>) -> Response {
    if shared.done.load(Ordering::SeqCst) {
        return page(StatusCode::OK, PAGE_ALREADY_DONE);
    }
    let outcome = match parse_callback(query, shared.expected_state.as_deref()) {
        Callback::Stray(_) => return page(StatusCode::BAD_REQUEST, PAGE_STRAY),
        Callback::Code(received) => Ok(received),
        Callback::Refused(message) => Err(message),
    };
    if shared.done.swap(true, Ordering::SeqCst) {
        return page(StatusCode::OK, PAGE_ALREADY_DONE);
    }
    let failed = outcome.is_err();
    if shared.outcome.try_send(outcome).is_err() {
        return page(StatusCode::INTERNAL_SERVER_ERROR, PAGE_FAILED);
    }
    if failed {
        page(StatusCode::OK, PAGE_FAILED)
    } else {
        page(StatusCode::OK, PAGE_DONE)
    }
}

const PAGE_DONE: &str = "Signed in. You can close this window and return to the terminal.";
const PAGE_FAILED: &str = "The login failed. The terminal says why; you can close this window.";
const PAGE_ALREADY_DONE: &str = "This login is already complete. You can close this window.";
const PAGE_STRAY: &str = "This page does not belong to the login in progress.";

/// A small fixed HTML page (nothing from the request is echoed).
fn page(status: StatusCode, message: &'static str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Tessera login</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>Tessera</h1><p>{message}</p></body></html>"
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        html,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        login: LoginArgs,
    }

    fn parse(args: &[&str]) -> Result<LoginArgs, clap::Error> {
        Cmd::try_parse_from(std::iter::once("login").chain(args.iter().copied())).map(|c| c.login)
    }

    #[test]
    fn arguments_and_defaults() {
        let a = parse(&["--method", "oidc", "--provider", "kc"]).unwrap();
        assert_eq!(a.method, Method::Oidc);
        assert_eq!(a.provider.as_deref(), Some("kc"));
        assert_eq!(a.port, 8250);
        assert!(!a.skip_browser);
        assert!(a.token_file.is_none());
        if std::env::var_os("TESSERA_URL").is_none() {
            assert_eq!(a.url, DEFAULT_URL);
        }
        let a = parse(&[
            "--provider=kc",
            "--url",
            "https://auth.example.com",
            "--port",
            "9000",
            "--skip-browser",
            "--token-file",
            "/tmp/t",
        ])
        .unwrap();
        assert_eq!((a.port, a.skip_browser), (9000, true));
        assert_eq!(a.url, "https://auth.example.com");
        assert_eq!(a.token_file.as_deref(), Some(Path::new("/tmp/t")));
        for bad in [
            &["--method", "password"][..],
            &["--method=ldap"],
            &["--port", "70000"],
            &["--port", "x"],
            &["--bogus"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn urls_and_provider_names() {
        assert_eq!(
            base_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            base_url("https://example.com/tessera/").unwrap(),
            "https://example.com/tessera"
        );
        for bad in [
            "127.0.0.1:8080",
            "ftp://example.com",
            "https://example.com/?x=1",
            "https://u:p@example.com",
            "",
        ] {
            assert!(base_url(bad).is_err(), "{bad}");
        }
        assert!(is_loopback_url("http://localhost:8080"));
        assert!(is_loopback_url("http://127.0.0.1:8080"));
        assert!(is_loopback_url("http://[::1]:8080"));
        assert!(!is_loopback_url("http://auth.example.com"));

        for good in ["kc", "my-idp_2", &"a".repeat(40)] {
            assert!(check_provider_name(good).is_ok(), "{good}");
        }
        for bad in ["", "KC", "a/b", "a b", "../x", "é", &"a".repeat(41)] {
            assert!(check_provider_name(bad).is_err(), "{bad}");
        }
        assert_eq!(choose_provider(&["kc"]).unwrap(), "kc");
        assert!(choose_provider(&[]).is_err());
        let several = choose_provider(&["kc", "gh"]).unwrap_err();
        assert!(
            several.contains("kc, gh") && several.contains("--provider"),
            "{several}"
        );
        assert_eq!(redirect_uri(8250), "http://localhost:8250/oidc/callback");
        assert_eq!(
            provider_path(routes::OAUTH_CLI_START, "kc"),
            "/api/v1/auths/oauth/kc/cli/start"
        );
    }

    #[test]
    fn client_nonces_are_long_and_fresh() {
        let a = new_client_nonce();
        let b = new_client_nonce();
        assert_ne!(a, b);
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&a)
            .unwrap();
        assert!(bytes.len() * 8 >= 128);
    }

    #[test]
    fn auth_url_and_its_state() {
        let url = "https://idp.example/auth?client_id=c&state=s%2B1&code_challenge=x";
        assert_eq!(checked_auth_url(url).unwrap(), url);
        assert_eq!(state_of(url).as_deref(), Some("s+1"));
        assert_eq!(state_of("https://idp.example/auth?client_id=c"), None);
        assert_eq!(state_of("https://idp.example/auth?state=a&state=b"), None);
        for bad in [
            "--help",
            "javascript:alert(1)",
            "file:///etc/passwd",
            "/relative",
        ] {
            assert!(checked_auth_url(bad).is_err(), "{bad}");
        }
    }

    fn code(state: &str, code: &str) -> Callback {
        Callback::Code(Received {
            state: state.into(),
            code: code.into(),
        })
    }

    #[test]
    fn callback_with_a_code() {
        assert_eq!(
            parse_callback(Some("code=c1&state=s1"), Some("s1")),
            code("s1", "c1")
        );
        assert_eq!(
            parse_callback(
                Some("state=s%201&code=a%2Bb&iss=https%3A%2F%2Fidp"),
                Some("s 1")
            ),
            code("s 1", "a+b")
        );
        // without a known state, any state is passed on (the server checks it)
        assert_eq!(parse_callback(Some("code=c&state=x"), None), code("x", "c"));
    }

    #[test]
    fn callbacks_that_are_not_ours_are_ignored() {
        for query in [
            Some("code=c1&state=other"),
            Some("code=c1"),
            Some("state=s1"),
            Some("code=&state=s1"),
            Some("code=c1&code=c2&state=s1"),
            Some("code=c1&state=s1&state=s1"),
            Some(""),
            None,
        ] {
            assert!(
                matches!(parse_callback(query, Some("s1")), Callback::Stray(_)),
                "{query:?}"
            );
        }
        assert!(matches!(
            parse_callback(Some("error=access_denied&state=other"), Some("s1")),
            Callback::Stray(_)
        ));
    }

    #[test]
    fn callback_with_an_error_ends_the_login() {
        assert_eq!(
            parse_callback(
                Some("error=access_denied&error_description=The+user+said+no&state=s1"),
                Some("s1")
            ),
            Callback::Refused("access_denied: The user said no".into())
        );
        assert_eq!(
            parse_callback(Some("error=login_required"), Some("s1")),
            Callback::Refused("login_required".into()),
            "an error without a state still ends the login"
        );
        assert_eq!(
            parse_callback(Some("error=x&error_description=%1b%5b31mred"), None),
            Callback::Refused("x:  [31mred".into()),
            "no terminal escapes from the URL"
        );
    }

    #[test]
    fn server_errors_read_well() {
        let forbidden = reqwest::StatusCode::FORBIDDEN;
        assert_eq!(
            error_message(forbidden, br#"{"detail":"Access prohibited"}"#),
            "Access prohibited (HTTP 403)"
        );
        assert_eq!(
            error_message(
                reqwest::StatusCode::UNPROCESSABLE_ENTITY,
                br#"{"detail":[{"msg":"x"}]}"#
            ),
            r#"[{"msg":"x"}] (HTTP 422)"#
        );
        assert_eq!(
            error_message(reqwest::StatusCode::BAD_GATEWAY, b"<html>oops</html>"),
            "the server answered HTTP 502 Bad Gateway"
        );
        let long = format!(r#"{{"detail":"{}"}}"#, "x".repeat(1000));
        assert!(error_message(forbidden, long.as_bytes()).chars().count() < 400);
    }

    #[test]
    fn received_debug_hides_the_code() {
        let r = Received {
            state: "the-state".into(),
            code: "the-code".into(),
        };
        let s = format!("{r:?}");
        assert!(!s.contains("the-code") && !s.contains("the-state"), "{s}");
    }

    #[cfg(unix)]
    #[test]
    fn token_file_is_private_and_replaced_whole() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "old token").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_token_file(&path, "new-token").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new-token");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("token")],
            "no temporary file left"
        );

        let fresh = dir.path().join("fresh");
        write_token_file(&fresh, "t").unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        assert!(write_token_file(&dir.path().join("missing/dir/token"), "t").is_err());
        assert!(
            write_token_file(dir.path(), "t").is_err(),
            "a folder is not replaced"
        );
    }

    async fn listening(
        expected_state: &str,
    ) -> (u16, tokio::task::JoinHandle<anyhow::Result<Received>>) {
        let callbacks = Callbacks::bind(0).await.unwrap();
        let port = callbacks.port;
        let state = expected_state.to_owned();
        let wait = tokio::spawn(callbacks.wait(Some(state), Duration::from_secs(20)));
        (port, wait)
    }

    fn http() -> reqwest::Client {
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    #[tokio::test]
    async fn the_listener_takes_the_first_callback_of_this_login() {
        let (port, wait) = listening("s1").await;
        let base = format!("http://127.0.0.1:{port}");
        let res = http()
            .get(format!("{base}/favicon.ico"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
        let res = http()
            .get(format!("{base}/oidc/callback?code=c&state=forged"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "a foreign state does not end the wait");
        let res = http()
            .get(format!("{base}/oidc/callback?code=c1&state=s1"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
        let html = res.text().await.unwrap();
        assert!(html.contains("Signed in") && !html.contains("c1"), "{html}");
        let received = wait.await.unwrap().unwrap();
        assert_eq!(
            received,
            Received {
                state: "s1".into(),
                code: "c1".into()
            }
        );
        assert!(
            http()
                .get(format!("{base}/oidc/callback"))
                .send()
                .await
                .is_err(),
            "the listener is closed once the answer arrived"
        );
    }

    #[tokio::test]
    async fn the_listener_reports_the_providers_refusal() {
        let (port, wait) = listening("s1").await;
        let res = http()
            .get(format!(
                "http://127.0.0.1:{port}/oidc/callback?error=access_denied&error_description=Not+in+group&state=s1"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.text().await.unwrap().contains("failed"));
        let err = wait.await.unwrap().unwrap_err().to_string();
        assert!(err.contains("access_denied: Not in group"), "{err}");
    }

    #[tokio::test]
    async fn the_wait_ends_after_the_timeout() {
        let callbacks = Callbacks::bind(0).await.unwrap();
        let err = callbacks
            .wait(Some("s".into()), Duration::from_millis(50))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("no answer from the provider"), "{err}");
    }

    #[tokio::test]
    async fn a_taken_port_is_reported_clearly() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = Callbacks::bind(port).await.err().unwrap().to_string();
        assert!(
            err.contains(&format!("port {port}")) && err.contains("--port"),
            "{err}"
        );
    }
}
