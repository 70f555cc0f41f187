//! The application state every handler and extractor shares, built once at
//! start-up from the validated config.
use crate::auth::account::Accounts;
use crate::auth::api_key::{ApiKeyAuthenticator, ApiKeys};
use crate::auth::assertion::AssertionKeys;
use crate::auth::embed::EmbedTickets;
use crate::auth::forward::Rules;
use crate::auth::grant::GrantCheck;
use crate::auth::idp::{Idp, IdpAuthenticator};
use crate::auth::ldap::{LdapDirectory, LdapSignIn};
use crate::auth::oidc::{Handles as OidcHandles, OidcProviders};
use crate::auth::password::{normalise_local_email, Passwords};
use crate::auth::password_signin::PasswordSignIn;
use crate::auth::rate_limit::{Limiter, Limits, LocalLimiter, SharedLimiter};
use crate::auth::revocation::Revocations;
use crate::auth::session::{SessionAuthenticator, SessionKeys};
use crate::auth::trusted_header::{TrustedHeaderAuthenticator, TrustedHeaders};
use crate::auth::Authenticators;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, Secret};
use crate::domain::audit::AuditTrail;
use crate::domain::Event;
use crate::replica::events::Follower;
use crate::replica::rate_limit::SharedCounters;
use crate::replica::revocations::SharedRevocations;
use crate::replica::single_use::{MemorySingleUse, RedisSingleUse, SingleUseStore};
use crate::replica::ReplicaSync;
use crate::store::audit::AuditWriter;
use crate::store::revocations::RevocationStore;
use crate::store::users::{NewLocalUser, Users};
use crate::store::Db;
use anyhow::Context;
use base64::Engine;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;
use tessera_shared::Role;

/// Shared state; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// What the state holds: each component built once, with the handles it
/// uses.
pub struct Inner {
    /// The validated configuration.
    pub config: Config,
    /// The database.
    pub db: Db,
    /// The user directory (cached).
    pub users: Users,
    /// Session token keys.
    pub sessions: Arc<SessionKeys>,
    /// Revoked token ids.
    pub revocations: Arc<Revocations>,
    /// Password hashing.
    pub passwords: Passwords,
    /// Password sign-in.
    pub password_signin: PasswordSignIn,
    /// Sign-in attempt limits.
    pub limiter: Arc<dyn Limiter>,
    /// Limits of sessions minted from another credential.
    pub minting: Arc<dyn Limiter>,
    /// The source of "now".
    pub clock: Arc<dyn Clock>,
    /// Trusted identity providers' verifier (also asked by
    /// `authenticators`).
    pub idp: Idp,
    /// Every way a request authenticates, asked in order.
    pub authenticators: Authenticators,
    /// The API key index.
    pub api_keys: Arc<ApiKeys>,
    /// LDAP sign-in, when `[ldap]` is configured.
    pub ldap: Option<LdapSignIn>,
    /// SSO providers (`[[oidc_providers]]` and saved settings).
    pub oidc: Arc<OidcProviders>,
    /// The state shared with other replicas (`[redis]`), or nothing.
    pub replica: ReplicaSync,
    /// Embed tickets.
    pub embed: EmbedTickets,
    /// `[[forward_auth.rules]]`.
    pub forward_rules: Rules,
    /// Forward auth's assertion keys (kept in the database, rotated).
    pub assertions: Arc<AssertionKeys>,
    /// Where security events are recorded (the audit log).
    pub audit: Arc<dyn AuditTrail>,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Opens the database, loads or creates secrets and bootstraps the admin.
    pub async fn build(config: Config) -> anyhow::Result<AppState> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// As [`AppState::build`], with a given clock (for tests).
    pub async fn build_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<AppState> {
        std::fs::create_dir_all(&config.server.data_dir).with_context(|| {
            format!("creating data folder {}", config.server.data_dir.display())
        })?;
        let db = open_database(&config).await?;
        let secret = session_secret(&config)?;
        let sessions = Arc::new(SessionKeys::new(
            &secret,
            config.session_issuer(),
            config.session.expires_in,
            config.session.exchanged_max_secs(),
        ));
        let replica = match config.redis() {
            Some(redis) => ReplicaSync::connect(&redis).await?,
            None => ReplicaSync::none(),
        };
        let revocation_store: Arc<dyn RevocationStore> = match replica.redis() {
            Some(redis) => Arc::new(SharedRevocations::new(Arc::new(db.clone()), redis.clone())),
            None => Arc::new(db.clone()),
        };
        let revocations = Arc::new(Revocations::load(revocation_store, clock.now()).await?);
        let users = Users::new(db.clone(), 100_000).announcing(Arc::new(replica.clone()));
        let accounts = Accounts {
            users: users.clone(),
            revocations: revocations.clone(),
        };
        let passwords = Passwords::new(config.password.min_length)?;
        let idp = Idp::new(&config.issuers, config.cache.verified_tokens)?;
        idp.start().await;
        let api_keys = Arc::new(load_api_keys(&config, &db).await?);
        let ldap = config
            .ldap
            .as_ref()
            .map(LdapDirectory::new)
            .transpose()
            .context("[ldap]")?
            .map(|directory| LdapSignIn {
                directory,
                users: users.clone(),
                clock: clock.clone(),
            });
        let audit: Arc<dyn AuditTrail> =
            AuditWriter::start(db.clone(), &config.audit, clock.clone());
        let oidc = sso_providers(
            &config, &secret, &db, &accounts, &sessions, &replica, &clock,
        );
        let oidc = Arc::new(oidc.await?.auditing(audit.clone()));
        let authenticators = authenticators(
            &config,
            Handles {
                db: &db,
                users: &users,
                accounts: accounts.clone(),
                sessions: &sessions,
                api_keys: &api_keys,
                idp: &idp,
                replica: &replica,
                clock: &clock,
                grants: oidc.clone(),
            },
        )?;
        let assertions = assertion_keys(&config, &db, &secret, &clock).await?;
        let password_signin = password_signin(&config, &users, &passwords);
        let state = AppState(Arc::new(Inner {
            oidc,
            users,
            limiter: limiter(Limits::signin(&config.rate_limit), &replica, &secret)?,
            minting: limiter(Limits::minting(&config.rate_limit), &replica, &secret)?,
            embed: embed_tickets(&config, &replica, &secret, &sessions, accounts, &clock)?,
            forward_rules: Rules::new(&config.forward_auth.rules),
            authenticators,
            idp,
            api_keys,
            ldap,
            password_signin,
            config,
            db,
            sessions,
            revocations,
            passwords,
            clock,
            replica,
            assertions,
            audit,
        }));
        state.bootstrap_admin().await?;
        state
            .replica
            .start(Arc::new(state.clone()))
            .await
            .context("following the other replicas through Redis")?;
        Ok(state)
    }

    async fn bootstrap_admin(&self) -> anyhow::Result<()> {
        let (Some(email), Some(password)) = (&self.config.admin.email, &self.config.admin.password)
        else {
            return Ok(());
        };
        let email = normalise_local_email(email);
        if self.users.find_local_credentials(&email).await?.is_some() {
            return Ok(());
        }
        let hash = self.passwords.hash(password.expose()).await?;
        let name = self
            .config
            .admin
            .name
            .clone()
            .unwrap_or_else(|| "Admin".into());
        let user = self
            .users
            .create_local(
                NewLocalUser {
                    name: &name,
                    email: &email,
                    password_hash: &hash,
                    role: Role::Admin,
                },
                self.clock.now(),
            )
            .await?;
        if user.role != Role::Admin {
            self.users
                .set_role(&user.id, Role::Admin, self.clock.now())
                .await?;
        }
        tracing::info!(email = %email, "bootstrapped the admin account");
        Ok(())
    }
}

/// Password sign-in with the configured switch and bootstrap admin.
fn password_signin(config: &Config, users: &Users, passwords: &Passwords) -> PasswordSignIn {
    PasswordSignIn {
        users: users.clone(),
        passwords: passwords.clone(),
        enabled: config.password.signin_enabled,
        admin_email: config.admin.email.as_deref().map(normalise_local_email),
    }
}

/// The API key index, keys hashed under `[api_keys] secret` (or the one
/// generated into the data folder).
async fn load_api_keys(config: &Config, db: &Db) -> anyhow::Result<ApiKeys> {
    let api_key_secret = configured_secret(
        "api_keys",
        config.api_keys.secret.as_ref(),
        config.api_keys.secret_file.as_deref(),
        &config.server.data_dir.join("api_key.secret"),
    )?;
    Ok(ApiKeys::load(
        db,
        api_key_secret,
        config.api_keys.unknown_per_ip_per_minute,
    )
    .await?)
}

/// Embed tickets: pending ones kept in one-time state of their own (a
/// flood of them cannot push out SSO sign-ins' in one replica's memory),
/// minted within the minting limits.
fn embed_tickets(
    config: &Config,
    replica: &ReplicaSync,
    secret: &[u8],
    sessions: &Arc<SessionKeys>,
    accounts: Accounts,
    clock: &Arc<dyn Clock>,
) -> anyhow::Result<EmbedTickets> {
    Ok(EmbedTickets {
        once: single_use_store(replica),
        keys: sessions.clone(),
        accounts,
        clock: clock.clone(),
        allowed_origins: config.embed.allowed_origins.clone(),
        ticket_secs: config.embed.ticket_expires_in,
        limits: limiter(Limits::minting(&config.rate_limit), replica, secret)?,
    })
}

/// One-time state: in memory for one replica, in Redis for several.
fn single_use_store(replica: &ReplicaSync) -> Arc<dyn SingleUseStore> {
    match replica.redis() {
        Some(redis) => Arc::new(RedisSingleUse::new(redis.clone())),
        None => Arc::new(MemorySingleUse::default()),
    }
}

/// Forward auth's assertion keys, loaded (or made) and kept refreshed.
async fn assertion_keys(
    config: &Config,
    db: &Db,
    secret: &[u8],
    clock: &Arc<dyn Clock>,
) -> anyhow::Result<Arc<AssertionKeys>> {
    let keys = AssertionKeys::load(
        db.clone(),
        secret,
        &config.assertion,
        config.session_issuer(),
        clock.clone(),
    )
    .await
    .context("loading the assertion keys")?;
    let keys = Arc::new(keys);
    keep_refreshed(&keys);
    Ok(keys)
}

/// Reloads the assertion keys in the background (rotating them when due)
/// for as long as they are in use.
fn keep_refreshed(keys: &Arc<AssertionKeys>) {
    let weak = Arc::downgrade(keys);
    let every = keys.refresh_every();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(keys) = weak.upgrade() else { return };
            if let Err(e) = keys.refresh().await {
                tracing::warn!(error = %e, "reloading the assertion keys failed; the current ones stay");
            }
        }
    });
}

/// The handles the authenticators are built from.
struct Handles<'a> {
    db: &'a Db,
    users: &'a Users,
    accounts: Accounts,
    sessions: &'a Arc<SessionKeys>,
    api_keys: &'a Arc<ApiKeys>,
    idp: &'a Idp,
    replica: &'a ReplicaSync,
    clock: &'a Arc<dyn Clock>,
    /// Keeps the grants of SSO sessions that live as long as them.
    grants: Arc<dyn GrantCheck>,
}

/// Every way a request authenticates, each given the handles it uses.
fn authenticators(config: &Config, h: Handles<'_>) -> anyhow::Result<Authenticators> {
    let Handles {
        db,
        users,
        accounts,
        sessions,
        api_keys,
        idp,
        replica,
        clock,
        grants,
    } = h;
    let proxy = config
        .trusted_header
        .as_ref()
        .map(|th| TrustedHeaders::new(th, config.server.public_url.as_deref()))
        .transpose()
        .context("[trusted_header]")?
        .map(Arc::new);
    Ok(Authenticators {
        bearer: vec![
            Box::new(
                SessionAuthenticator::new(
                    sessions.clone(),
                    accounts.clone(),
                    clock.clone(),
                    config.cache.verified_tokens,
                )?
                .with_grants(grants),
            ),
            Box::new(ApiKeyAuthenticator {
                enabled: config.api_keys.enabled,
                keys: api_keys.clone(),
                db: db.clone(),
                users: users.clone(),
                proxy: proxy.clone(),
                clock: clock.clone(),
            }),
            Box::new(IdpAuthenticator::new(idp.clone(), accounts, clock.clone())),
        ],
        trusted_header: proxy
            .map(|headers| TrustedHeaderAuthenticator::new(headers, users.clone(), clock.clone())),
        replica: replica.clone(),
    })
}

/// The SSO providers of `[[oidc_providers]]` with the settings saved in the
/// database merged in; their one-time state is kept in memory, or in Redis
/// for every replica.
async fn sso_providers(
    config: &Config,
    secret: &[u8],
    db: &Db,
    accounts: &Accounts,
    sessions: &Arc<SessionKeys>,
    replica: &ReplicaSync,
    clock: &Arc<dyn Clock>,
) -> anyhow::Result<OidcProviders> {
    let once = single_use_store(replica);
    let handles = OidcHandles {
        db: db.clone(),
        users: accounts.users.clone(),
        sessions: sessions.clone(),
        revocations: accounts.revocations.clone(),
        once,
        announcer: Arc::new(replica.clone()),
        clock: clock.clone(),
    };
    let oidc = OidcProviders::new(config, secret, handles).context("[[oidc_providers]]")?;
    oidc.reload().await.context("loading saved SSO providers")?;
    Ok(oidc)
}

/// `limits` counted in this process, or in Redis for every replica (keyed
/// by a key derived from the session secret, which they share).
fn limiter(
    limits: Limits,
    replica: &ReplicaSync,
    secret: &[u8],
) -> anyhow::Result<Arc<dyn Limiter>> {
    Ok(match replica.redis() {
        Some(redis) => Arc::new(SharedLimiter::new(
            limits,
            SharedCounters::new(redis.clone(), secret)?,
        )),
        None => Arc::new(LocalLimiter::new(limits)),
    })
}

/// The database of `[database] url` (or the embedded SQLite default), migrated.
pub async fn open_database(config: &Config) -> anyhow::Result<Db> {
    let url = config.database_url()?;
    let backend = crate::store::Backend::of_url(url.expose())
        .context("database.url: only sqlite:, postgres: and postgresql: URLs are supported")?;
    Db::connect_with(url.expose(), config.database_pool(backend))
        .await
        .context("opening the database")
}

/// This replica's caches follow the changes other replicas announce.
#[async_trait::async_trait]
impl Follower for AppState {
    async fn apply(&self, event: Event) {
        match event {
            Event::Revoked { jti, exp } => self.revocations.note(jti, exp),
            Event::User { id } => self.users.forget(&id),
            Event::UserDeleted { id } | Event::SignedOutEverywhere { id } => {
                self.users.forget(&id);
                self.api_keys.forget_user(&id);
            }
            Event::AllUsers => self.users.forget_all(),
            Event::ApiKey { user_id } => self.api_keys.forget_user(&user_id),
            Event::OidcProviders => {
                if let Err(e) = self.oidc.reload().await {
                    tracing::warn!(error = %e, "reloading SSO providers after a change failed");
                }
            }
        }
    }

    fn forget_everything(&self) {
        self.users.forget_all();
        self.api_keys.forget_all();
        self.authenticators.forget_all();
    }

    async fn catch_up(&self) -> crate::Result<()> {
        self.revocations.reload(self.clock.now()).await?;
        self.forget_everything();
        self.oidc.reload().await?;
        Ok(())
    }
}

/// The session secret: `[session] secret`, `secret_file`, or generated once
/// into `<data_dir>/session.secret` (mode 0600).
fn session_secret(config: &Config) -> anyhow::Result<Vec<u8>> {
    configured_secret(
        "session",
        config.session.secret.as_ref(),
        config.session.secret_file.as_deref(),
        &config.server.data_dir.join("session.secret"),
    )
}

/// A section's `secret` (checked at start-up), else its `secret_file`, else
/// the secret generated once into `generated`.
fn configured_secret(
    section: &str,
    secret: Option<&Secret>,
    file: Option<&Path>,
    generated: &Path,
) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = secret {
        return Ok(secret.expose().as_bytes().to_vec());
    }
    if let Some(file) = file {
        let s = Secret::read_file(&format!("{section}.secret_file"), file)?;
        anyhow::ensure!(
            s.expose().len() >= 32,
            "{section}.secret_file {} holds fewer than 32 characters",
            file.display()
        );
        return Ok(s.expose().as_bytes().to_vec());
    }
    generated_secret(generated)
}

/// A secret generated once into `path` (mode 0600) and read from there after.
fn generated_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    match std::fs::read_to_string(path) {
        Ok(s) if s.trim().len() >= 32 => Ok(s.trim().as_bytes().to_vec()),
        Ok(_) => anyhow::bail!(
            "{} is too short; delete it to have a new one generated",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let bytes: [u8; 48] = rand::random();
            let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
            write_private(path, &secret).with_context(|| format!("writing {}", path.display()))?;
            tracing::info!(path = %path.display(), "generated a secret");
            Ok(secret.into_bytes())
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}
