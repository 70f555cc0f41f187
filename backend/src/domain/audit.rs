//! Security events for the audit log, and the small interface they are
//! recorded through (the store's writer implements it; tests may keep them).
//!
//! A record holds names, addresses and short reasons — never a token,
//! password or key: the types here have no field that could take one.
use crate::error::Error;
use std::net::IpAddr;
pub use tessera_shared::AuditAction;

/// One security event, as a handler or a sign-in path knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// What happened.
    pub action: AuditAction,
    /// How (`password`, `ldap`, `sso:<provider>`, a credential kind, `cli`).
    pub method: Option<String>,
    /// Who did it, when someone signed in did.
    pub actor: Option<String>,
    /// The account concerned.
    pub account: Option<String>,
    /// The client's address.
    pub ip: Option<IpAddr>,
    /// A short, secret-free detail.
    pub detail: Option<String>,
}

impl Record {
    /// A record of `action` with nothing else known yet.
    pub fn new(action: AuditAction) -> Self {
        Self {
            action,
            method: None,
            actor: None,
            account: None,
            ip: None,
            detail: None,
        }
    }

    /// With how it happened.
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }

    /// With who did it.
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// With the account concerned.
    pub fn account(mut self, account: impl Into<String>) -> Self {
        self.account = Some(account.into());
        self
    }

    /// With the client's address, when known.
    pub fn ip(mut self, ip: Option<IpAddr>) -> Self {
        self.ip = ip;
        self
    }

    /// With a short detail.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Where security events go.
pub trait AuditTrail: Send + Sync + 'static {
    /// Records `record`; never blocks the request and never fails it.
    fn record(&self, record: Record);
}

/// Records nothing (tools that open the state without a trail).
pub struct NoTrail;

impl AuditTrail for NoTrail {
    fn record(&self, _: Record) {}
}

/// The class of a refusal, for a failed sign-in's `detail`: what kind of
/// "no" it was, never the error's own words (which may echo input).
pub fn refusal_class(e: &Error) -> &'static str {
    match e {
        Error::InvalidCredentials => "invalid_credentials",
        Error::InvalidToken(_) | Error::Unauthorized(_) | Error::NotAuthenticated => "refused",
        Error::Forbidden(_) => "forbidden",
        Error::RateLimited { .. } => "rate_limited",
        Error::BadRequest(_) | Error::Body(_) | Error::Unprocessable(_) => "bad_request",
        Error::Unavailable(_) | Error::BadGateway(_) => "unavailable",
        Error::NotFound(_) => "not_found",
        Error::Conflict(_) => "conflict",
        _ => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_classed_without_their_words() {
        assert_eq!(
            refusal_class(&Error::InvalidCredentials),
            "invalid_credentials"
        );
        assert_eq!(refusal_class(&Error::Unauthorized("used")), "refused");
        assert_eq!(
            refusal_class(&Error::BadRequest("a@b".into())),
            "bad_request"
        );
        assert_eq!(refusal_class(&Error::Unavailable("LDAP")), "unavailable");
    }
}
