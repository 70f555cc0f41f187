//! `tessera login`: its arguments, and the sign-in flow from the command line to the token.
//!
//! It signs in from a terminal through an OIDC provider configured on a
//! Tessera server, and hands out the Tessera session token.
//!
//! The flow (OpenBao's CLI flow): a listener on `127.0.0.1:{port}` is the
//! redirect target `http://localhost:{port}/oidc/callback`; the server
//! (`POST .../cli/start`) builds the provider's authorization URL (PKCE,
//! state, nonce) bound to a random client nonce only this process knows; the
//! person signs in with a browser; the provider redirects to the listener;
//! the code, the state and the client nonce go back to the server
//! (`POST .../cli/finish`), which answers with the session. The code and the
//! client nonce are never printed.
//!
//! The parts: `checks` (what comes from the command line, the server and the
//! provider), `api` (the calls to the server), `listener` (the loopback
//! redirect target), `callback` (what a redirect says), `browser` (the
//! opener), `token` (stdout or `--token-file`).
mod api;
mod browser;
mod callback;
mod checks;
mod listener;
mod token;

pub use api::{error_message, new_client_nonce};
pub use callback::{parse_callback, Callback, Received};
pub use checks::{
    base_url, check_provider_name, checked_auth_url, choose_provider, clean, state_of, DEFAULT_URL,
};
pub use listener::{redirect_uri, CALLBACK_PATH};
pub use token::write_token_file;

use anyhow::{anyhow, Context};
use api::{provider_path, Api};
use browser::open_browser;
use checks::is_loopback_url;
use listener::Callbacks;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tessera_shared::{routes, CliFinishForm, CliStartForm, CliStarted, PublicConfig, SessionUser};

/// How long to wait for the provider's redirect.
pub const CALLBACK_WAIT: Duration = Duration::from_secs(5 * 60);
/// What `--port` defaults to.
pub const DEFAULT_PORT: u16 = 8250;
/// The line printed (on stderr) before the authorization URL.
pub const INSTRUCTION: &str =
    "Complete the login via your OIDC provider. Open this URL in your browser:";

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
    eprintln!(
        "Waiting up to {} minutes for the provider to redirect to {redirect_uri} ...",
        CALLBACK_WAIT.as_secs() / 60
    );

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
    token::hand_out(&user, args.token_file.as_deref())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Where the login listens and which server paths it calls.
    #[test]
    fn redirect_uri_and_provider_paths() {
        assert_eq!(
            listener::redirect_uri(8250),
            "http://localhost:8250/oidc/callback"
        );
        assert_eq!(
            api::provider_path(tessera_shared::routes::OAUTH_CLI_START, "kc"),
            "/api/v1/auths/oauth/kc/cli/start"
        );
    }
    use std::path::Path;

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
}
