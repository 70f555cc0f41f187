//! `tessera admin`: account repairs straight against the configured
//! database, for when nobody can sign in (the last admin locked out, a lost
//! password, an account to stop at once). It loads the configuration like
//! `tessera serve` and changes the database the way the admin API does;
//! with `[redis]`, running replicas are told at once. Without `[redis]`, a
//! running server keeps its cached copy of a changed account until it
//! restarts: the command says so.
//!
//! A password is read from standard input (one line), never from the
//! command line, where it would stay in the shell's history and be visible
//! to every user of the machine in the process list.
use crate::auth::password::{normalise_local_email, Passwords};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::domain::audit::{AuditAction, Record};
use crate::domain::User;
use crate::replica::ReplicaSync;
use crate::store::audit::Stamped;
use crate::store::users::{NewLocalUser, Users};
use crate::store::Db;
use anyhow::{bail, Context};
use std::io::BufRead;
use std::process::ExitCode;
use std::sync::Arc;
use tessera_shared::Role;

/// `tessera admin <command>`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AdminCommand {
    /// Every account: id, e-mail, role, where it signs in, name.
    ListUsers,
    /// A local account with a password read from standard input.
    CreateUser {
        /// E-mail address (the sign-in name).
        #[arg(long)]
        email: String,
        /// Display name (default: the part of the e-mail before `@`).
        #[arg(long)]
        name: Option<String>,
        /// admin, user or pending.
        #[arg(long, default_value = "user")]
        role: String,
    },
    /// Changes an account's role (admin, user or pending).
    SetRole {
        /// The account's id or e-mail.
        user: String,
        /// admin, user or pending.
        role: String,
    },
    /// Sets a local account's password (read from standard input) and ends
    /// its sessions.
    ResetPassword {
        /// The account's id or e-mail.
        user: String,
    },
    /// Ends every credential of an account: sessions, API key, IdP tokens
    /// issued until now.
    SignoutUser {
        /// The account's id or e-mail.
        user: String,
    },
}

/// Runs `command` against `config`'s database; problems on stderr, exit 1.
pub fn run(config: Config, command: AdminCommand) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tessera: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(&config, command)) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tessera: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(config: &Config, command: AdminCommand) -> anyhow::Result<String> {
    std::fs::create_dir_all(&config.server.data_dir)
        .with_context(|| format!("creating data folder {}", config.server.data_dir.display()))?;
    let db = crate::state::open_database(config).await?;
    let replica = match config.redis() {
        Some(redis) => Some(ReplicaSync::connect(&redis).await?),
        None => None,
    };
    let mut users = Users::new(db.clone(), 16);
    if let Some(r) = &replica {
        users = users.announcing(Arc::new(r.clone()));
    }
    let now = SystemClock.now();
    let changed = |what: String| {
        if replica.is_some() {
            format!("{what}\n")
        } else {
            format!(
                "{what}\nWithout [redis], a running Tessera keeps its cached copy of this account until it restarts: restart it for this to apply there.\n"
            )
        }
    };
    Ok(match command {
        AdminCommand::ListUsers => list(&users.list().await?),
        AdminCommand::CreateUser { email, name, role } => {
            let role = role_of(&role)?;
            let email = normalise_local_email(&email);
            if !email.contains('@') {
                bail!("--email must be an e-mail address");
            }
            let name = name.unwrap_or_else(|| email.split('@').next().unwrap_or("").to_owned());
            let hash = new_password_hash(config).await?;
            let user = users
                .create_local(
                    NewLocalUser {
                        name: &name,
                        email: &email,
                        password_hash: &hash,
                        role,
                    },
                    now,
                )
                .await?;
            audit(
                &db,
                now,
                AuditAction::UserCreated,
                &user.email,
                Some(user.role.to_string()),
            )
            .await?;
            format!("created {} {} ({})\n", user.id, user.email, user.role)
        }
        AdminCommand::SetRole { user, role } => {
            let role = role_of(&role)?;
            let u = find(&users, &user).await?;
            users.set_role(&u.id, role, now).await?;
            audit(
                &db,
                now,
                AuditAction::RoleChanged,
                &u.email,
                Some(role.to_string()),
            )
            .await?;
            changed(format!("{} is now {role}", u.email))
        }
        AdminCommand::ResetPassword { user } => {
            let u = find(&users, &user).await?;
            if u.source != "local" {
                bail!(
                    "{} signs in through {}: it has no password here",
                    u.email,
                    u.source
                );
            }
            let hash = new_password_hash(config).await?;
            if users.reset_password(&u.id, &hash, now).await?.is_none() {
                bail!("{} has no local password to reset", u.email);
            }
            audit(&db, now, AuditAction::PasswordReset, &u.email, None).await?;
            changed(format!(
                "password of {} set; its sessions have ended",
                u.email
            ))
        }
        AdminCommand::SignoutUser { user } => {
            let u = find(&users, &user).await?;
            users.sign_out_everywhere(&u.id, now).await?;
            audit(&db, now, AuditAction::SignedOutEverywhere, &u.email, None).await?;
            changed(format!("{} is signed out everywhere", u.email))
        }
    })
}

/// Records what the command did in the audit log, done by `cli:<the
/// operating-system user>`.
async fn audit(
    db: &Db,
    at: i64,
    action: AuditAction,
    account: &str,
    detail: Option<String>,
) -> anyhow::Result<()> {
    let who = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    let mut record = Record::new(action)
        .method("cli")
        .actor(format!("cli:{who}"))
        .account(account);
    record.detail = detail;
    db.insert_audit(&[Stamped { at, record }])
        .await
        .context("recording the change in the audit log")
}

fn role_of(s: &str) -> anyhow::Result<Role> {
    Role::parse(s).with_context(|| format!("unknown role {s:?}: use admin, user or pending"))
}

/// The account whose id is `who`, or whose e-mail is (any case).
async fn find(users: &Users, who: &str) -> anyhow::Result<User> {
    users
        .list()
        .await?
        .into_iter()
        .find(|u| u.id == who || u.email.eq_ignore_ascii_case(who))
        .with_context(|| format!("no account with the id or e-mail {who:?}"))
}

/// A password read from standard input (one line), checked against
/// `[password]`, hashed.
async fn new_password_hash(config: &Config) -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        bail!("no password on standard input (e.g. `read -rs P && printf '%s\\n' \"$P\" | tessera admin ...`)");
    }
    let passwords = Passwords::new(config.password.min_length)?;
    passwords.check_policy(password)?;
    Ok(passwords.hash(password).await?)
}

/// One line per account: id, e-mail, role, source, name; tab-separated.
fn list(users: &[User]) -> String {
    let mut out = String::from("id\temail\trole\tsource\tname\n");
    for u in users {
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\n",
            u.id, u.email, u.role, u.source, u.name
        ));
    }
    out
}
