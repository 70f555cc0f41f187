//! OpenID Connect Back-Channel Logout 1.0: a provider tells Tessera, server
//! to server, that one of its sessions ended (`sid`) or that a user signed
//! out of it (`sub`). The logout token is verified like an ID token — the
//! provider's keys, `iss`, `aud` = the client id, `iat`, `exp` when present —
//! and must carry the back-channel logout event, a `sid` and/or a `sub`, a
//! `jti` never seen before, and no `nonce` (so an ID token cannot pass for
//! one).
//!
//! What it ends, on every replica (revocations and users are shared):
//! - with a `sid`: every Tessera session signed in through that provider
//!   session (they carry its id as `src`) and every IdP token of that issuer
//!   carrying the same `sid` claim;
//! - with only a `sub`: every session of that user (the SSO account, and the
//!   account of an `[[issuers]]` entry with the same issuer URL), and their
//!   IdP tokens issued until now.
use super::flow::IdTokenVerifier;
use super::OidcProviders;
use crate::auth::idp::token::{self, Reason};
use crate::auth::revocation::{provider_session, seen_token};
use crate::domain::audit::{AuditAction, Record};
use crate::domain::external_id;
use crate::error::{Error, Result};
use serde_json::Value;

/// The event a logout token carries.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// A logout token without `exp` is accepted this long after its `iat`.
const MAX_AGE_WITHOUT_EXP: i64 = 300;
/// How long an ended provider session is remembered at least: what was
/// signed in through it is refused at least this long.
const ENDED_SESSION_KEPT_SECS: i64 = 30 * 86_400;

/// What a verified logout token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutClaims {
    /// The provider session that ended.
    pub sid: Option<String>,
    /// The user who signed out.
    pub sub: Option<String>,
    /// The token's id, used once.
    pub jti: String,
    /// Until when a replay of the token must be refused (its `exp`, or
    /// `iat` plus the age a token without `exp` is accepted).
    pub replayable_until: i64,
}

impl IdTokenVerifier {
    /// Verifies a logout token at `now` (Back-Channel Logout 1.0, §2.6).
    pub async fn verify_logout(&self, token: &str, now: i64) -> Result<LogoutClaims, Reason> {
        let parsed = self.signed(token, token::LOGOUT_TYPES).await?;
        let c = &self.rules.config;
        let leeway = c.leeway_seconds as i64;
        let r = &parsed.registered;
        if r.iss.as_deref() != Some(c.issuer.as_str()) {
            return Err("iss does not match the provider");
        }
        if !r
            .aud
            .as_ref()
            .is_some_and(|a| a.0.iter().any(|a| a == self.client_id()))
        {
            return Err("aud does not contain the client id");
        }
        let iat = r.iat.ok_or("iat missing")?;
        if iat > now.saturating_add(leeway) {
            return Err("iat in the future");
        }
        let replayable_until = match r.exp {
            Some(exp) if now >= exp.saturating_add(leeway) => return Err("token expired"),
            Some(exp) => exp.saturating_add(leeway),
            None if now > iat.saturating_add(MAX_AGE_WITHOUT_EXP + leeway) => {
                return Err("token without exp older than five minutes")
            }
            None => iat.saturating_add(MAX_AGE_WITHOUT_EXP + leeway),
        };
        let claims = &parsed.claims;
        if claims.contains_key("nonce") {
            return Err("a logout token must not carry a nonce");
        }
        match claims.get("events") {
            Some(Value::Object(events))
                if matches!(events.get(BACKCHANNEL_LOGOUT_EVENT), Some(Value::Object(_))) => {}
            _ => return Err("events does not hold the back-channel logout event"),
        }
        let text = |name: &str| -> Result<Option<String>, Reason> {
            match claims.get(name) {
                None => Ok(None),
                Some(Value::String(s)) if !s.is_empty() && !s.chars().any(char::is_control) => {
                    Ok(Some(s.clone()))
                }
                Some(_) => Err("sid, sub or jti is not a printable string"),
            }
        };
        let (sid, sub, jti) = (text("sid")?, text("sub")?, text("jti")?);
        if sid.is_none() && sub.is_none() {
            return Err("neither sid nor sub");
        }
        Ok(LogoutClaims {
            sid,
            sub,
            jti: jti.ok_or("jti missing")?,
            replayable_until,
        })
    }
}

/// 400 detail of a logout token that was refused (the reason is logged).
pub const REFUSED: &str = "The logout token was refused";

impl OidcProviders {
    /// Ends what the logout token `token` from provider `name` names: 400
    /// for a token that is not a valid, fresh logout token of that provider.
    pub async fn backchannel_logout(&self, name: &str, token: &str) -> Result<()> {
        let refused = |reason: &str| {
            tracing::info!(provider = %name, reason, "back-channel logout refused");
            Error::BadRequest(REFUSED.into())
        };
        let provider = self.get(name).ok_or(Error::NotFound("No such provider"))?;
        let d = provider.discovered().await.map_err(|e| {
            tracing::warn!(provider = %name, error = %e, "back-channel logout: provider unreachable");
            Error::Unavailable("The provider's keys could not be read")
        })?;
        let verifier = d
            .id_tokens
            .as_ref()
            .ok_or_else(|| refused("the provider signs no tokens (plain OAuth 2.0)"))?;
        let now = self.clock.now();
        let logout = verifier.verify_logout(token, now).await.map_err(refused)?;
        // used once, on every replica: a replay cannot end a later session
        let fresh = self
            .revocations
            .revoke(
                &seen_token(&d.issuer, &logout.jti),
                Some(logout.replayable_until),
            )
            .await?;
        if !fresh {
            return Err(refused("jti seen before (a replay)"));
        }
        if let Some(sid) = &logout.sid {
            // for as long as a session signed in through it may live (for
            // good when sessions never expire)
            let until = self
                .sessions
                .longest_life_secs()
                .map(|life| now.saturating_add(life.max(ENDED_SESSION_KEPT_SECS)));
            self.revocations
                .revoke(&provider_session(&d.issuer, sid), until)
                .await?;
            tracing::info!(provider = %name, "provider session ended by back-channel logout");
            self.audit.record(
                Record::new(AuditAction::BackchannelLogout)
                    .method(format!("sso:{name}"))
                    .detail("provider session ended"),
            );
            return Ok(());
        }
        let Some(sub) = &logout.sub else {
            return Ok(());
        };
        let mut accounts = vec![match self.db.oidc_link(&provider.config.name, sub).await? {
            Some(id) => id,
            None => external_id(&provider.config.name, sub),
        }];
        accounts.extend(
            self.issuers
                .iter()
                .filter(|(url, _)| url.trim_end_matches('/') == d.issuer.trim_end_matches('/'))
                .map(|(_, issuer)| external_id(issuer, sub)),
        );
        for id in accounts {
            if let Some(user) = self.users.end_sessions(&id, now).await? {
                tracing::info!(provider = %name, user = %user.id, "user signed out by back-channel logout");
                self.audit.record(
                    Record::new(AuditAction::BackchannelLogout)
                        .method(format!("sso:{name}"))
                        .account(user.email.clone())
                        .detail("account's sessions ended"),
                );
            }
        }
        Ok(())
    }
}
