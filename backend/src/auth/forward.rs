//! Forward auth's decision: the original request a reverse proxy asks
//! about ([`Target`], from `X-Forwarded-Host` and `X-Forwarded-Uri` or
//! `X-Original-URI`), the `[[forward_auth.rules]]` that decide
//! ([`Rules`]), and the identity headers handed on ([`header_value`]).
use crate::config::ForwardAuthRule;
use crate::domain::User;
use crate::error::{Error, Result};
use axum::http::HeaderMap;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};
use tessera_shared::Role;

/// 400: the original host or path is not one thing.
pub const AMBIGUOUS_TARGET: &str =
    "The original request's X-Forwarded-Host / X-Forwarded-Uri / X-Original-URI are missing, repeated or ambiguous";
/// 403: a rule refuses the caller.
pub const REFUSED_BY_RULE: &str = "Access prohibited by a forward-auth rule";

/// The original request, as the proxy says it (host lower-cased, path
/// decoded and checked).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// `X-Forwarded-Host`, when sent.
    pub host: Option<String>,
    /// The path of `X-Forwarded-Uri` or `X-Original-URI`, when sent.
    pub path: Option<String>,
}

impl Target {
    /// The original request of `headers`. Refused (400): a header sent
    /// twice or not visible ASCII, two URI headers that differ, a path
    /// with dot segments, encoded slashes or backslashes, or control
    /// characters (the upstream might read it otherwise than the rules).
    /// `in_path`: the original path appended to the check's own (Envoy's
    /// `ext_authz`), another source that must agree with the headers.
    pub fn of(headers: &HeaderMap, in_path: Option<&str>) -> Result<Target> {
        let bad = || Error::BadRequest(AMBIGUOUS_TARGET.into());
        let one = |name: &str| -> Result<Option<&str>> {
            let mut all = headers.get_all(name).iter();
            match (all.next(), all.next()) {
                (None, _) => Ok(None),
                (Some(v), None) => v.to_str().map(Some).map_err(|_| bad()),
                _ => Err(bad()),
            }
        };
        let host = match one("x-forwarded-host")? {
            None => None,
            Some(h) => {
                let h = h.trim();
                if h.is_empty() || h.contains([',', ' ', '/', '@']) {
                    return Err(bad());
                }
                Some(h.to_ascii_lowercase())
            }
        };
        let uri = match (one("x-forwarded-uri")?, one("x-original-uri")?) {
            (Some(a), Some(b)) if a != b => return Err(bad()),
            (a, b) => a.or(b),
        };
        let path = uri.map(checked_path).transpose()?;
        let path = match (path, in_path.map(checked_path).transpose()?) {
            (Some(a), Some(b)) if a != b => return Err(bad()),
            (a, b) => a.or(b),
        };
        Ok(Target { host, path })
    }
}

/// The decoded path of an original request URI, refused when another
/// reader could take it for a different path.
fn checked_path(uri: &str) -> Result<String> {
    let bad = || Error::BadRequest(AMBIGUOUS_TARGET.into());
    let raw = uri.split(['?', '#']).next().unwrap_or_default();
    if !raw.starts_with('/') {
        return Err(bad());
    }
    let lower = raw.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") || lower.contains("%25") {
        return Err(bad());
    }
    let decoded = percent_decode_str(raw).decode_utf8().map_err(|_| bad())?;
    if decoded.contains('\\') || decoded.chars().any(char::is_control) {
        return Err(bad());
    }
    let mut path = String::with_capacity(decoded.len());
    for seg in decoded.split('/').filter(|s| !s.is_empty()) {
        if seg == "." || seg == ".." {
            return Err(bad());
        }
        path.push('/');
        path.push_str(seg);
    }
    if path.is_empty() || decoded.ends_with('/') {
        path.push('/');
    }
    Ok(path)
}

/// The `[[forward_auth.rules]]`, in order.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    rules: Vec<ForwardAuthRule>,
    needs_host: bool,
    needs_path: bool,
}

/// What forward auth lets through: the assertion's audience (`None`: the
/// public URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pass<'a> {
    /// The matching rule's `aud`.
    pub aud: Option<&'a str>,
}

impl Rules {
    /// The rules of `[forward_auth]` (validated with the config).
    pub fn new(rules: &[ForwardAuthRule]) -> Rules {
        let rules: Vec<ForwardAuthRule> = rules
            .iter()
            .map(|r| ForwardAuthRule {
                host: r.host.as_ref().map(|h| h.to_ascii_lowercase()),
                ..r.clone()
            })
            .collect();
        Rules {
            needs_host: rules.iter().any(|r| r.host.is_some()),
            needs_path: rules.iter().any(|r| r.path_prefix.is_some()),
            rules,
        }
    }

    /// Whether `user` may reach `target`: a `pending` user never (403);
    /// the first rule matching decides; none: any `user` or `admin`.
    /// When a rule names a host (a path) and the proxy sent none, 400
    /// rather than letting a rule be skipped.
    pub fn decide(&self, user: &User, target: &Target) -> Result<Pass<'_>> {
        if user.role < Role::User {
            return Err(Error::Forbidden(
                tessera_shared::error::detail::ACCESS_PROHIBITED,
            ));
        }
        if (self.needs_host && target.host.is_none()) || (self.needs_path && target.path.is_none())
        {
            return Err(Error::BadRequest(AMBIGUOUS_TARGET.into()));
        }
        let Some(rule) = self.rules.iter().find(|r| matches(r, target)) else {
            return Ok(Pass { aud: None });
        };
        let role_ok = rule.role.is_none_or(|r| user.role >= r);
        let group_ok =
            rule.groups.is_empty() || rule.groups.iter().any(|g| user.groups.contains(g));
        if role_ok && group_ok {
            Ok(Pass {
                aud: rule.aud.as_deref(),
            })
        } else {
            Err(Error::Forbidden(REFUSED_BY_RULE))
        }
    }
}

fn matches(rule: &ForwardAuthRule, target: &Target) -> bool {
    let host_ok = match (&rule.host, &target.host) {
        (None, _) => true,
        (Some(want), Some(got)) => want == got || (!want.contains(':') && host_only(got) == want),
        (Some(_), None) => false,
    };
    let path_ok = match (&rule.path_prefix, &target.path) {
        (None, _) => true,
        (Some(prefix), Some(path)) => {
            let prefix = prefix.trim_end_matches('/');
            prefix.is_empty()
                || path == prefix
                || path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'))
        }
        (Some(_), None) => false,
    };
    host_ok && path_ok
}

/// `host` without its `:port` (an IPv6 literal keeps its brackets).
fn host_only(host: &str) -> &str {
    match host.rfind(':') {
        Some(i) if !host[i..].contains(']') => &host[..i],
        _ => host,
    }
}

/// Bytes written `%XX` in an identity header: controls, non-ASCII (as
/// UTF-8), `%` and `,` (the groups' separator).
const ENCODED: &AsciiSet = &CONTROLS.add(b'%').add(b',');

/// `value` safe for a header: unchanged when it holds only printable ASCII
/// other than `%` and `,`; otherwise those bytes percent-encoded (UTF-8,
/// RFC 3986), so no CR/LF or other control character ever reaches a
/// header, and a receiver percent-decodes to get the value back.
pub fn header_value(value: &str) -> String {
    utf8_percent_encode(value, ENCODED).to_string()
}

/// The groups, each encoded by [`header_value`], joined by `,`.
pub fn groups_value(groups: &[String]) -> String {
    groups
        .iter()
        .map(|g| header_value(g))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
pub(crate) mod tests;
