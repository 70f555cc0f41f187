//! The `tessera` binary: parses the command line, loads the config, serves;
//! `tessera login` is a client (backend/src/cli/).
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use tessera::config::{Config, Overrides};

/// mimalloc instead of the system allocator: a request allocates and frees
/// some tens of small blocks, and glibc's malloc spent far more on them
/// (figures in docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CONFIG_HELP: &str = "\
CONFIGURATION
  Read from the TOML file given by --config (default: ./tessera.toml when it exists),
  then overridden by environment variables TESSERA_<SECTION>_<KEY>, e.g.
  TESSERA_SERVER_LISTEN=0.0.0.0:8080 or TESSERA_SESSION_EXPIRES_IN=7d.

  [server]     listen (127.0.0.1:8080), data_dir (./data), public_url, static_dir (./dist), name,
               log_requests (false: no line per request)
  [database]   url: sqlite:... (default: in the data folder) or postgres://... | url_file,
               max_connections, connect_timeout_seconds (5). See docs/postgres.md.
  [session]    secret | secret_file (default: generated once into <data_dir>/session.secret),
               expires_in: -1 never (default), 0 single use, or 30m, 2h, 7d, 4w,
               exchanged_expires_in (8h): sessions minted from another credential
  [signup]     enabled (true), default_role (pending)
  [admin]      email, password, name: bootstrap admin (TESSERA_ADMIN_EMAIL, TESSERA_ADMIN_PASSWORD)
  [rate_limit] per_ip_per_minute (30), per_account_per_minute (10): sign-ins;
               mint_per_ip_per_minute (120), mint_per_account_per_minute (30): minted sessions
  [api_keys]   enabled (false), restrict_endpoints, allowed_endpoints, secret | secret_file,
               unknown_per_ip_per_minute (60)
  [password]   min_length (8), signin_enabled (true: false refuses all but the bootstrap admin)
  [ldap]       url, ca_file, starttls, bind_dn, bind_password, search_base, username_attribute (uid),
               mail_attribute, name_attribute, search_filter, group_attribute (memberOf),
               create_groups, admin_groups, user_groups, default_role, *_timeout (5s)
  [trusted_header] email_header, name_header, groups_header, trusted_proxies (CIDRs, required)
               See docs/ldap-and-proxy.md.
  [redis]      url (redis:// or rediss://) | url_file, ca_file, key_prefix (tessera:), timeout (2s),
               resync (5m): state shared by several replicas. See docs/scale-out.md.

  See README.md for the full reference.";

/// Sign-in and token validation for web apps.
#[derive(Parser, Debug)]
#[command(name = "tessera", version, about, after_help = CONFIG_HELP)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

/// The server's options: before or after `serve`.
#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Config file (TOML). Default: ./tessera.toml when it exists.
    #[arg(long, env = "TESSERA_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080 (`[server] listen`).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Folder for the database and generated secrets (`[server] data_dir`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start the server (the default).
    #[command(after_help = CONFIG_HELP)]
    Serve(ServeArgs),
    /// Sign in to a Tessera server through one of its OIDC providers from a
    /// terminal (a browser completes the login) and print the session token.
    Login(tessera::cli::login::LoginArgs),
    /// Work with the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Repair accounts straight in the configured database (when nobody can
    /// sign in): list-users, create-user, set-role, reset-password,
    /// signout-user. Passwords are read from standard input.
    Admin(AdminArgs),
}

/// `tessera admin`: the configuration to use, and the command.
#[derive(clap::Args, Debug)]
struct AdminArgs {
    #[command(flatten)]
    serve: ServeArgs,
    #[command(subcommand)]
    command: tessera::cli::admin::AdminCommand,
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Load the configuration as `tessera serve` would (file, TESSERA_*
    /// variables, flags), validate it and print the effective configuration
    /// as TOML with every secret masked; exit 2 naming what to fix.
    #[command(after_help = CONFIG_HELP)]
    Check(ServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let serve = match cli.command {
        None => cli.serve,
        Some(Command::Serve(after)) => ServeArgs {
            config: after.config.or(cli.serve.config),
            listen: after.listen.or(cli.serve.listen),
            data_dir: after.data_dir.or(cli.serve.data_dir),
        },
        Some(Command::Login(args)) => return tessera::cli::login::run(args),
        Some(Command::Admin(args)) => {
            return match load(args.serve) {
                Ok(config) => tessera::cli::admin::run(config, args.command),
                Err(code) => code,
            };
        }
        Some(Command::Config(ConfigCommand::Check(args))) => {
            for var in unknown_variables() {
                eprintln!("tessera: warning: unknown variable {var} ignored");
            }
            return match load(args) {
                Ok(config) => tessera::cli::config_check::print(&config),
                Err(code) => code,
            };
        }
    };
    let config = match load(serve) {
        Ok(c) => c,
        Err(code) => return code,
    };
    tessera::telemetry::init(config.log.format);
    for var in unknown_variables() {
        tracing::warn!(variable = %var, "unknown TESSERA_ variable ignored");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tessera: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The configuration of `serve`: defaults, the file, `TESSERA_*`, flags;
/// validated. On failure the problems are on stderr and the exit code is 2.
fn load(serve: ServeArgs) -> Result<Config, ExitCode> {
    // rustls is built with two providers (reqwest brings ring); clients
    // that ask for the process default (Redis over rediss://) get aws-lc.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let (file, required) = match serve.config {
        Some(path) => (path, true),
        None => (PathBuf::from("tessera.toml"), false),
    };
    let overrides = Overrides {
        listen: serve.listen,
        data_dir: serve.data_dir,
    };
    let config = match Config::load(&file, required, &overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tessera: {e}");
            return Err(ExitCode::from(2));
        }
    };
    Ok(config)
}

/// `TESSERA_*` variables that name no setting (typos, most likely).
fn unknown_variables() -> Vec<String> {
    Config::unknown_env_vars()
        .into_iter()
        .filter(|v| v != "TESSERA_CONFIG" && v != "TESSERA_URL")
        .collect()
}

async fn run(config: Config) -> anyhow::Result<()> {
    let listen = config.server.listen;
    let state = tessera::AppState::build(config).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr()?;
    if state.users.count().await? == 0 {
        println!("No account yet: the first account created becomes the admin.");
    }
    println!("Tessera is listening on http://{addr}");
    tessera::serve(listener, state).await?;
    Ok(())
}
