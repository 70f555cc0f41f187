//! Embed tickets and the sessions redeemed from them. A parent site's back
//! end mints a ticket (`POST /api/v1/embed/tickets`) for one origin, a few
//! path patterns, scopes and locked parameters; the framed page redeems it
//! once, within `[embed] ticket_expires_in` seconds, from that origin, for a
//! session token ([`CredentialKind::EmbedSession`]) that reaches only those
//! paths ([`super::confine`], asked by the authenticator chain for every request,
//! so no handler has to).
//!
//! Design: the restriction travels in the session token's signed claims
//! (`emb`), not in a server-side record: every replica enforces it without a
//! shared look-up, a lost record cannot widen it, and editing it breaks the
//! signature. The pending ticket is kept in the single-use store (by its
//! SHA-256, never in the clear), so it is redeemable once on any replica.
//! The session carries the account's epoch, ends no later than the
//! credential that minted its ticket (and dies with it when that one has a
//! revocation id), and no policy action but signing out is open to it.
use super::account::Accounts;
use super::confine::pattern_ok;
use super::memo::CredentialMemo;
use super::policy::{self, Action};
use super::principal::{session_user, Principal};
use super::rate_limit::Limiter;
use super::session::SessionKeys;
use crate::clock::Clock;
use crate::domain::user::PERMISSION_EMBED;
use crate::domain::User;
use crate::error::{Error, Result};
use crate::replica::single_use::SingleUseStore;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tessera_shared::embed::{SCOPE_READ, SCOPE_WRITE};
use tessera_shared::{AuthMethod, EmbedGrant, EmbedTicket, EmbedTicketForm, Role, SessionUser};

/// The single-use store's kind for pending tickets.
const KIND: &str = "embed-ticket";
/// Every ticket starts with this.
pub const TICKET_PREFIX: &str = "et_";
/// A session's life when the form names none.
pub const DEFAULT_SESSION_SECS: u64 = 600;
/// The longest a session may live.
pub const MAX_SESSION_SECS: u64 = 3600;
const MAX_PATHS: usize = 16;
const MAX_PARAMS_BYTES: usize = 4096;

/// 401: the ticket is not (or no longer) pending.
pub const TICKET_UNKNOWN: &str =
    "Embed ticket unknown, already used or expired: ask the parent page for a new one";
/// 401: redeemed from another origin (or without an `Origin` header).
pub const TICKET_WRONG_ORIGIN: &str =
    "Embed ticket redeemed from another origin than it was issued for (it is used up now)";
/// 401: the account or credential behind the ticket changed.
pub const TICKET_ACCOUNT_CHANGED: &str =
    "Embed ticket of an account or credential that ended or lost the embed permission";
/// 403: minting needs the permission.
pub const NO_EMBED_PERMISSION: &str =
    "Minting embed tickets needs the admin role or the embed permission";

/// A ticket waiting to be redeemed, as kept in the single-use store.
#[derive(Serialize, Deserialize)]
struct Pending {
    /// The account.
    sub: String,
    /// Its epoch when the ticket was minted.
    ep: i64,
    /// Redeemable until (Unix seconds).
    until: i64,
    /// The session's life.
    secs: u64,
    /// When the minting credential ends (Unix seconds), if it does.
    ends: Option<i64>,
    /// The minting credential's revocation id, if it has one.
    src: Option<String>,
    grant: EmbedGrant,
}

/// Mints and redeems embed tickets.
pub struct EmbedTickets {
    /// Pending tickets (shared by replicas through Redis).
    pub once: Arc<dyn SingleUseStore>,
    /// Session token keys.
    pub keys: Arc<SessionKeys>,
    /// The accounts and revocations.
    pub accounts: Accounts,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// `[embed] allowed_origins`.
    pub allowed_origins: Vec<String>,
    /// `[embed] ticket_expires_in`.
    pub ticket_secs: u64,
    /// The limits of minted credentials (`[rate_limit] mint_per_*`), so a
    /// leaked key cannot flood the single-use store.
    pub limits: Arc<dyn Limiter>,
}

fn bad(detail: &str) -> Error {
    Error::BadRequest(detail.into())
}

impl EmbedTickets {
    /// A new ticket for `p`'s account, bound to what `form` names. 403 when
    /// `p` may not mint one, 400 when the form asks for something invalid,
    /// 429 past the minting limits (per account, per `client` address).
    pub async fn issue(
        &self,
        p: &Principal,
        form: EmbedTicketForm,
        client: Option<IpAddr>,
    ) -> Result<EmbedTicket> {
        policy::require(p.kind, Action::MintEmbedTicket)?;
        if p.user.role < Role::User || !p.user.has_permission(PERMISSION_EMBED) {
            return Err(Error::Forbidden(NO_EMBED_PERMISSION));
        }
        self.limits.check(client, &p.user.id).await?;
        let grant = self.grant(form.origin, form.paths, form.scopes, form.params)?;
        let secs = form.session_seconds.unwrap_or(DEFAULT_SESSION_SECS);
        if !(1..=MAX_SESSION_SECS).contains(&secs) {
            return Err(bad("session_seconds must be 1 to 3600"));
        }
        let now = self.clock.now();
        let ticket = format!(
            "{TICKET_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
        );
        let pending = Pending {
            sub: p.user.id.clone(),
            ep: p.user.epoch,
            until: now.saturating_add(self.ticket_secs as i64),
            secs,
            ends: p.expires_at,
            src: p.jti.as_deref().map(str::to_owned),
            grant,
        };
        let value = serde_json::to_string(&pending)
            .map_err(|e| anyhow::anyhow!("encoding a pending embed ticket: {e}"))?;
        self.once
            .put(KIND, &ticket, value, Duration::from_secs(self.ticket_secs))
            .await?;
        tracing::info!(user = %p.user.id, kind = %p.kind, origin = %pending.grant.origin, "embed ticket issued");
        Ok(EmbedTicket {
            ticket,
            expires_in: self.ticket_secs,
        })
    }

    /// The checked grant of a ticket form.
    fn grant(
        &self,
        origin: String,
        paths: Vec<String>,
        scopes: Vec<String>,
        params: serde_json::Map<String, serde_json::Value>,
    ) -> Result<EmbedGrant> {
        if !self.allowed_origins.contains(&origin) {
            return Err(bad("origin is not one of [embed] allowed_origins"));
        }
        if paths.is_empty() || paths.len() > MAX_PATHS {
            return Err(bad("paths must name 1 to 16 path patterns"));
        }
        if let Some(p) = paths.iter().find(|p| !pattern_ok(p)) {
            return Err(Error::BadRequest(format!(
                "path pattern `{}` is not allowed: write /api/... with plain segments (letters, digits, - . _ ~), no `..` or `%`, and `/*` only at the end",
                p.chars().take(80).collect::<String>()
            )));
        }
        let mut scopes = if scopes.is_empty() {
            vec![SCOPE_READ.to_owned()]
        } else {
            scopes
        };
        if scopes.iter().any(|s| s != SCOPE_READ && s != SCOPE_WRITE) {
            return Err(bad("scopes must be read or write"));
        }
        scopes.sort();
        scopes.dedup();
        let params_len = serde_json::to_vec(&params).map_or(usize::MAX, |v| v.len());
        if params_len > MAX_PARAMS_BYTES {
            return Err(bad("params must be at most 4096 bytes of JSON"));
        }
        Ok(EmbedGrant {
            origin,
            paths,
            scopes,
            params,
        })
    }

    /// The session of a pending `ticket`, redeemed by a page of `origin`
    /// (its `Origin` header). The ticket is used up whatever the outcome.
    pub async fn redeem(&self, ticket: &str, origin: Option<&str>) -> Result<SessionUser> {
        if !ticket.starts_with(TICKET_PREFIX) || ticket.len() > 128 {
            return Err(Error::Unauthorized(TICKET_UNKNOWN));
        }
        let value = self
            .once
            .take(KIND, ticket)
            .await?
            .ok_or(Error::Unauthorized(TICKET_UNKNOWN))?;
        let pending: Pending = serde_json::from_str(&value)
            .map_err(|e| anyhow::anyhow!("decoding a pending embed ticket: {e}"))?;
        let now = self.clock.now();
        if now >= pending.until {
            return Err(Error::Unauthorized(TICKET_UNKNOWN));
        }
        let same_origin = origin.is_some_and(|o| {
            constant_time_eq::constant_time_eq(o.as_bytes(), pending.grant.origin.as_bytes())
        });
        if !same_origin {
            tracing::info!(user = %pending.sub, "embed ticket redeemed from another origin");
            return Err(Error::Unauthorized(TICKET_WRONG_ORIGIN));
        }
        let user = self.account(&pending).await?;
        let mut exp = now.saturating_add(pending.secs as i64);
        if let Some(ends) = pending.ends {
            exp = exp.min(ends);
        }
        if let Some(longest) = self.keys.longest_life_secs() {
            exp = exp.min(now.saturating_add(longest));
        }
        if exp <= now {
            return Err(Error::Unauthorized(TICKET_ACCOUNT_CHANGED));
        }
        let (token, _) =
            self.keys
                .mint_embed(&user, now, exp, pending.src, pending.grant.clone())?;
        tracing::info!(user = %user.id, origin = %pending.grant.origin, "embed ticket redeemed");
        let mut body = session_user(&user, token, Some(exp), AuthMethod::Session);
        body.embed = Some(pending.grant);
        Ok(body)
    }

    /// The ticket's account, as long as it and the minting credential still
    /// stand and it may still embed.
    async fn account(&self, pending: &Pending) -> Result<Arc<User>> {
        let user = match self
            .accounts
            .holder(
                [pending.src.as_deref(), None],
                &pending.sub,
                &CredentialMemo::default(),
            )
            .await
        {
            Ok(user) => user,
            Err(Error::InvalidToken(_)) => return Err(Error::Unauthorized(TICKET_ACCOUNT_CHANGED)),
            Err(e) => return Err(e),
        };
        if user.epoch != pending.ep
            || user.role < Role::User
            || !user.has_permission(PERMISSION_EMBED)
        {
            return Err(Error::Unauthorized(TICKET_ACCOUNT_CHANGED));
        }
        Ok(user)
    }
}

#[cfg(test)]
mod tests;
