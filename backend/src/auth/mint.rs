//! Sessions minted from another credential (token exchange, page injection,
//! proxy-header callers): the [`policy`](super::policy) asked first, the
//! minting rate-limited per account and per client, and the session capped by
//! its source and dying with it ([`Origin::Exchange`]).
use super::policy::{self, Action};
use super::rate_limit::Limiter;
use super::session::{Origin, SessionKeys};
use super::{session_user, Principal};
use crate::error::Result;
use std::net::IpAddr;
use tessera_shared::{AuthMethod, SessionUser};

/// A new session for `p`'s user, minted from `p`'s credential, as a
/// `SessionUser` body naming the issuer that vouched for the caller.
/// `client`: the caller's address, for the per-client limit.
pub async fn exchanged_session(
    keys: &SessionKeys,
    limits: &dyn Limiter,
    now: i64,
    p: &Principal,
    client: Option<IpAddr>,
) -> Result<SessionUser> {
    policy::require(p.kind, Action::MintSession)?;
    limits.check(client, &p.user.id).await?;
    let (token, claims) = keys.mint(
        &p.user,
        now,
        Origin::Exchange {
            ends: p.expires_at,
            revocation_id: p.jti.as_deref(),
        },
    )?;
    let mut body = session_user(&p.user, token, claims.exp, AuthMethod::Session);
    if p.issuer.is_some() {
        body.issuer = p.issuer.as_deref().map(Into::into);
        body.subject = p.subject.as_deref().map(Into::into);
    }
    if let Some(m) = &p.metadata {
        body.metadata = m.as_ref().clone();
    }
    Ok(body)
}
