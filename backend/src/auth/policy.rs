//! What each kind of credential may do: one table, asked by every path that
//! mints, exchanges, renews or ends a credential (REST handlers, page
//! injection, the OIDC hand-over and token exchange, the CLI) and by the
//! admin extractor. A session minted from another credential is capped by
//! that credential's lifetime and dies with it (see [`super::session`]).
use crate::error::{Error, Result};
use std::fmt;

/// Every kind of credential Tessera accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    /// A Tessera session token from a sign-in (password, LDAP, SSO).
    Session,
    /// A Tessera session token valid for one request (`expires_in = 0`).
    SingleUseSession,
    /// A Tessera session token minted from another credential (an IdP JWT,
    /// a trusted proxy's headers, an SSO provider's access token): never
    /// outlives it, and dies with it when that one is revoked.
    ExchangedSession,
    /// A JWT issued by a trusted identity provider (`[[issuers]]`).
    IdpJwt,
    /// An `sk-` API key.
    ApiKey,
    /// Headers set by a trusted reverse proxy (`[trusted_header]`).
    TrustedHeader,
    /// A Tessera session redeemed from an embed ticket: reaches only its
    /// ticket's paths and scopes, and nothing that mints, renews or manages
    /// credentials ([`super::embed`]).
    EmbedSession,
}

impl CredentialKind {
    /// Every kind, in the order of the README's table.
    pub const ALL: [CredentialKind; 7] = [
        CredentialKind::Session,
        CredentialKind::SingleUseSession,
        CredentialKind::ExchangedSession,
        CredentialKind::IdpJwt,
        CredentialKind::ApiKey,
        CredentialKind::TrustedHeader,
        CredentialKind::EmbedSession,
    ];
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CredentialKind::Session => "session",
            CredentialKind::SingleUseSession => "single-use session",
            CredentialKind::ExchangedSession => "exchanged session",
            CredentialKind::IdpJwt => "IdP JWT",
            CredentialKind::ApiKey => "API key",
            CredentialKind::TrustedHeader => "trusted header",
            CredentialKind::EmbedSession => "embed session",
        })
    }
}

/// What a credential may be used for beyond calling the API as its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Get a new Tessera session for it: `POST /api/v1/auths/token/exchange`,
    /// a page request with `[injection] exchange = true`, `GET
    /// /api/v1/auths/` for a proxy-header caller.
    MintSession,
    /// Create, replace or revoke the user's API key.
    ManageApiKeys,
    /// Be handed to the web app by a page request that carries it
    /// (`Authorization: Bearer` on `GET /` from an SSO proxy).
    OpenWebApp,
    /// `GET /api/v1/auths/signout`: end this very credential.
    SignOut,
    /// The admin endpoints (the account must also be an admin).
    Admin,
    /// Be replaced by a fresh credential of the same kind that lives longer.
    Renew,
    /// `POST /api/v1/embed/tickets` (the account must also be an admin or
    /// hold the `embed` permission).
    MintEmbedTicket,
    /// `GET /api/v1/auths/verify`: let a reverse proxy pass the caller to
    /// an application behind it, with identity headers and a signed
    /// assertion. Every kind may (an API key reaches a proxied API as its
    /// user would); the rules of `[forward_auth]` decide where.
    ForwardAuth,
}

impl Action {
    /// Every action, in the order of the README's table.
    pub const ALL: [Action; 8] = [
        Action::MintSession,
        Action::OpenWebApp,
        Action::ManageApiKeys,
        Action::SignOut,
        Action::Admin,
        Action::Renew,
        Action::MintEmbedTicket,
        Action::ForwardAuth,
    ];
}

/// The answer of the table for one kind and one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Allowed.
    Allowed,
    /// Allowed; the minted session ends no later than the credential it was
    /// minted from, and no later than `[session] exchanged_expires_in`.
    Capped,
    /// Refused with 400 and this detail (the request is well-formed, but
    /// asks something this kind of credential cannot do).
    NotPossible(&'static str),
    /// Refused with 403 and this detail.
    Forbidden(&'static str),
}

/// 400: only a credential from outside (an IdP token, a proxy's headers)
/// is exchanged; a session or key is not (as before the policy existed).
pub const NO_MINT: &str =
    "Only an identity provider's token or a trusted proxy's sign-in can be exchanged for a session";
/// 403: API keys never manage API keys.
pub const KEYS_CANNOT_MANAGE_KEYS: &str = "API keys cannot manage API keys";
/// 400: an API key is ended by revoking it.
pub const KEY_SIGNOUT: &str =
    "An API key cannot sign out: revoke it (DELETE /api/v1/auths/api_key) with a session";
/// 400: a proxy-header caller has no credential here to end.
pub const HEADER_SIGNOUT: &str =
    "Signed in by the proxy's headers: sign out at the proxy (there is no token here to end)";
/// 403: an API key is for programs, never stored by a browser.
pub const KEY_IN_BROWSER: &str = "An API key cannot sign in to the web app";
/// 403: an embed session reaches only what its ticket names.
pub const EMBED_ONLY: &str =
    "An embed session reaches only the paths and scopes of its ticket: it cannot mint, renew or manage credentials, or call admin endpoints";
/// 403: nothing renews itself.
pub const NO_RENEW: &str = "This credential cannot be renewed: sign in again";

/// The table: what `kind` may do for `action`.
pub const fn rule(kind: CredentialKind, action: Action) -> Rule {
    use Action::*;
    use CredentialKind::*;
    match (action, kind) {
        (Renew, _) => Rule::Forbidden(NO_RENEW),
        (SignOut, EmbedSession) => Rule::Allowed,
        (_, EmbedSession) => Rule::Forbidden(EMBED_ONLY),
        (MintSession, IdpJwt | TrustedHeader) => Rule::Capped,
        (MintSession, Session | SingleUseSession | ExchangedSession | ApiKey) => {
            Rule::NotPossible(NO_MINT)
        }
        (OpenWebApp, ApiKey) => Rule::Forbidden(KEY_IN_BROWSER),
        (OpenWebApp, _) => Rule::Allowed,
        (ManageApiKeys, ApiKey) => Rule::Forbidden(KEYS_CANNOT_MANAGE_KEYS),
        (ManageApiKeys, _) => Rule::Allowed,
        (SignOut, ApiKey) => Rule::NotPossible(KEY_SIGNOUT),
        (SignOut, TrustedHeader) => Rule::NotPossible(HEADER_SIGNOUT),
        (SignOut, _) => Rule::Allowed,
        (Admin, _) => Rule::Allowed,
        (MintEmbedTicket, _) => Rule::Allowed,
        (ForwardAuth, _) => Rule::Allowed,
    }
}

/// `Ok` when `kind` may do `action` (capped or not), else the refusal.
pub fn require(kind: CredentialKind, action: Action) -> Result<()> {
    match rule(kind, action) {
        Rule::Allowed | Rule::Capped => Ok(()),
        Rule::NotPossible(detail) => Err(Error::BadRequest(detail.into())),
        Rule::Forbidden(detail) => Err(Error::Forbidden(detail)),
    }
}

/// The expiry of a session minted at `now` from a credential that ends at
/// `source_ends` (`None`: no end of its own), under the cap `max_secs`.
pub fn minted_expiry(now: i64, source_ends: Option<i64>, max_secs: u64) -> i64 {
    let cap = now.saturating_add(i64::try_from(max_secs).unwrap_or(i64::MAX));
    source_ends.map_or(cap, |end| end.min(cap))
}

/// The table as Markdown, as the README shows it (a unit test keeps the two
/// the same).
pub fn markdown_table() -> String {
    let mut out = String::from("| credential kind |");
    for a in Action::ALL {
        out.push_str(&format!(" {} |", action_title(a)));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(Action::ALL.len()));
    for k in CredentialKind::ALL {
        out.push_str(&format!("\n| {k} |"));
        for a in Action::ALL {
            let cell = match rule(k, a) {
                Rule::Allowed => "yes",
                Rule::Capped => "yes, capped",
                Rule::NotPossible(_) => "no (400)",
                Rule::Forbidden(_) => "no (403)",
            };
            out.push_str(&format!(" {cell} |"));
        }
    }
    out.push('\n');
    out
}

fn action_title(a: Action) -> &'static str {
    match a {
        Action::MintSession => "mint or exchange a session",
        Action::OpenWebApp => "open the web app (page request)",
        Action::ManageApiKeys => "manage API keys",
        Action::SignOut => "sign out",
        Action::Admin => "admin endpoints",
        Action::Renew => "be renewed",
        Action::MintEmbedTicket => "mint an embed ticket",
        Action::ForwardAuth => "forward auth",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_sessions_never_outlive_their_source_or_the_cap() {
        assert_eq!(minted_expiry(100, Some(150), 3600), 150);
        assert_eq!(minted_expiry(100, Some(10_000), 3600), 3700);
        assert_eq!(minted_expiry(100, None, 3600), 3700);
        assert_eq!(minted_expiry(i64::MAX - 1, None, u64::MAX), i64::MAX);
    }

    /// An embed session may sign out and nothing else the table names.
    #[test]
    fn an_embed_session_may_only_sign_out() {
        for a in Action::ALL {
            let r = rule(CredentialKind::EmbedSession, a);
            if a == Action::SignOut {
                assert_eq!(r, Rule::Allowed);
            } else {
                assert!(matches!(r, Rule::Forbidden(_)), "{a:?}: {r:?}");
            }
        }
    }

    #[test]
    fn the_readme_shows_the_table() {
        let readme = include_str!("../../../README.md");
        assert!(
            readme.contains(&markdown_table()),
            "README.md's \"Credential kinds\" table differs from policy::markdown_table():\n{}",
            markdown_table()
        );
    }

    #[test]
    fn only_capped_minting_and_no_renewal() {
        for k in CredentialKind::ALL {
            assert!(matches!(rule(k, Action::Renew), Rule::Forbidden(_)), "{k}");
            match rule(k, Action::MintSession) {
                Rule::Capped => assert!(matches!(
                    k,
                    CredentialKind::IdpJwt | CredentialKind::TrustedHeader
                )),
                Rule::NotPossible(_) => {}
                Rule::Forbidden(_) if k == CredentialKind::EmbedSession => {}
                other => panic!("{k}: {other:?}"),
            }
        }
    }
}
