//! What an embed session may reach: the path patterns and scopes of its
//! ticket, checked for every authenticated request by the authenticator
//! chain ([`confine`]), so no handler has to. Fails closed: a path that could
//! mean another one (`%`, `.`, `..`, empty segments) matches nothing.
use super::policy::CredentialKind;
use super::principal::Principal;
use crate::error::{Error, Result};
use axum::http::Method;
use tessera_shared::embed::SCOPE_WRITE;
use tessera_shared::{routes, EmbedGrant};

const MAX_PATH_BYTES: usize = 256;

/// 403: outside the ticket's paths.
pub const PATH_NOT_ALLOWED: &str = "This embed session's ticket does not allow this path";
/// 403: a method the ticket's scopes do not allow.
pub const METHOD_NOT_ALLOWED: &str =
    "This embed session's ticket allows only reading (GET, HEAD): its scope is read";

/// Whether `p` is a path pattern a ticket may name: `/api/` and plain
/// segments (ASCII letters, digits, `-._~`), never `.` or `..`, with `/*`
/// allowed only at the end.
pub fn pattern_ok(p: &str) -> bool {
    if p.len() > MAX_PATH_BYTES || !p.starts_with("/api/") {
        return false;
    }
    let body = p.strip_suffix("/*").unwrap_or(p);
    canonical(body)
}

/// A path that means what it says: `/`-separated plain segments (ASCII
/// letters, digits, `-._~`), no empty segment but a trailing one, no `.` or
/// `..` segment, no percent-encoding.
fn canonical(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let last = segments.len() - 1;
    segments.iter().enumerate().all(|(i, s)| {
        (!s.is_empty() || i == last)
            && *s != "."
            && *s != ".."
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    })
}

/// Whether a canonical `path` is one `pattern` names: exactly it, or, for
/// `/prefix/*`, `/prefix` and anything below `/prefix/`.
fn matches(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix("/*") {
        Some(prefix) => {
            path == prefix
                || path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'))
        }
        None => path == pattern,
    }
}

/// Whether `grant` lets a request of `method` reach `path`: its own session
/// answer and sign-out always; else a path its patterns name, in a form
/// that cannot mean another path (no `%`, `.`, `..` or empty segments), by a
/// method its scopes allow. Fails closed.
pub fn allows(grant: &EmbedGrant, method: &Method, path: &str) -> Result<()> {
    if method == Method::GET && (path == routes::SESSION || path == routes::SIGNOUT) {
        return Ok(());
    }
    if !canonical(path) || !grant.paths.iter().any(|p| matches(p, path)) {
        return Err(Error::Forbidden(PATH_NOT_ALLOWED));
    }
    let read = *method == Method::GET || *method == Method::HEAD;
    if !read && !grant.scopes.iter().any(|s| s == SCOPE_WRITE) {
        return Err(Error::Forbidden(METHOD_NOT_ALLOWED));
    }
    Ok(())
}

/// Keeps an embed session to its ticket: every authenticated request passes
/// here ([`super::Authenticators::authenticate`]). Any other credential
/// passes; an embed session without its grant never does.
pub fn confine(p: &Principal, method: &Method, path: &str) -> Result<()> {
    if p.kind != CredentialKind::EmbedSession && p.embed.is_none() {
        return Ok(());
    }
    let grant = p
        .embed
        .as_deref()
        .ok_or(Error::Forbidden(PATH_NOT_ALLOWED))?;
    allows(grant, method, path)
}
