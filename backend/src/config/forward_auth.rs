//! `[[forward_auth.rules]]` (who a reverse proxy lets through
//! `GET /api/v1/auths/verify`) and `[assertion]` (the signed identity
//! assertion it hands on, and how often its key rotates).
use super::values::duration_str;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tessera_shared::Role;

/// `[forward_auth]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForwardAuthConfig {
    /// `[[forward_auth.rules]]`: the first that matches the original
    /// request decides; none matching: any signed-in user whose role is
    /// `user` or `admin` passes, with the public URL as audience.
    pub rules: Vec<ForwardAuthRule>,
}

/// One `[[forward_auth.rules]]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForwardAuthRule {
    /// The original host (`X-Forwarded-Host`), compared without case; a
    /// host without a port matches every port.
    pub host: Option<String>,
    /// The original path's prefix, whole segments only (`/admin` matches
    /// `/admin` and `/admin/x`, not `/administrator`).
    pub path_prefix: Option<String>,
    /// The least role that passes (`user` or `admin`).
    pub role: Option<Role>,
    /// When not empty: the user must be in one of these groups.
    pub groups: Vec<String>,
    /// The assertion's `aud` for requests this rule lets through (default:
    /// the public URL).
    pub aud: Option<String>,
}

/// `[assertion]`: the `X-Tessera-Assertion` JWT and its signing keys.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AssertionConfig {
    /// How long an assertion is valid (1s to 60s).
    #[serde(with = "duration_str")]
    pub ttl: Duration,
    /// How often a new signing key is made.
    #[serde(with = "duration_str")]
    pub rotate_every: Duration,
    /// How long a new key is published in the JWKS before it signs.
    #[serde(with = "duration_str")]
    pub publish_ahead: Duration,
    /// How long a key stays published after it stopped signing (at least
    /// `ttl`).
    #[serde(with = "duration_str")]
    pub grace: Duration,
}

impl Default for AssertionConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(60),
            rotate_every: Duration::from_secs(24 * 3600),
            publish_ahead: Duration::from_secs(300),
            grace: Duration::from_secs(3600),
        }
    }
}

impl AssertionConfig {
    /// How often every replica reloads the keys: a quarter of
    /// `publish_ahead` (100 ms to 30 s), so a new key is published
    /// everywhere before it signs anywhere.
    pub fn refresh_every(&self) -> Duration {
        (self.publish_ahead / 4).clamp(Duration::from_millis(100), Duration::from_secs(30))
    }

    pub(super) fn validate(&self, p: &mut Vec<String>) {
        let whole = |d: Duration| d.subsec_nanos() == 0 && d.as_secs() > 0;
        let show = |d: Duration| humantime::format_duration(d).to_string();
        for (key, d) in [
            ("ttl", self.ttl),
            ("rotate_every", self.rotate_every),
            ("publish_ahead", self.publish_ahead),
            ("grace", self.grace),
        ] {
            if !whole(d) {
                p.push(format!(
                    "assertion.{key} must be a whole number of seconds, at least 1s; it is {}",
                    show(d)
                ));
            }
        }
        if self.ttl > Duration::from_secs(60) {
            p.push(format!(
                "assertion.ttl must be at most 60s; it is {}",
                show(self.ttl)
            ));
        }
        if self.publish_ahead >= self.rotate_every {
            p.push(format!(
                "assertion.publish_ahead ({}) must be shorter than assertion.rotate_every ({})",
                show(self.publish_ahead),
                show(self.rotate_every)
            ));
        }
        // an old key may sign until a replica's next reload after the new
        // one took over, and its assertions live `ttl` after that
        if self.grace < self.ttl + self.refresh_every() {
            p.push(format!(
                "assertion.grace ({}) must be at least assertion.ttl ({}) plus the key reload interval ({}, a quarter of publish_ahead): an old key must stay published while its assertions live",
                show(self.grace),
                show(self.ttl),
                show(self.refresh_every())
            ));
        }
    }
}

impl ForwardAuthConfig {
    pub(super) fn validate(&self, p: &mut Vec<String>) {
        for (i, r) in self.rules.iter().enumerate() {
            let at = format!("forward_auth.rules[{i}]");
            if let Some(h) = &r.host {
                let ok = !h.is_empty()
                    && h.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
                    });
                if !ok {
                    p.push(format!(
                        "{at}.host `{h}` is not a host name (letters, digits, `.`, `-`, an optional `:port`)"
                    ));
                }
            }
            if let Some(prefix) = &r.path_prefix {
                let ok = prefix.starts_with('/')
                    && !prefix.contains(['?', '#', '%', '\\'])
                    && !prefix.split('/').any(|s| s == "." || s == "..")
                    && !prefix.bytes().any(|b| b.is_ascii_control() || b == b' ');
                if !ok {
                    p.push(format!(
                        "{at}.path_prefix `{prefix}` must start with `/` and hold no `?`, `#`, `%`, `\\`, spaces or dot segments"
                    ));
                }
            }
            if r.role == Some(Role::Pending) {
                p.push(format!(
                    "{at}.role: `pending` users never pass forward auth; use `user` or `admin`"
                ));
            }
            if r.groups.iter().any(|g| g.trim().is_empty()) {
                p.push(format!("{at}.groups holds an empty name"));
            }
            if let Some(aud) = &r.aud {
                if aud.trim().is_empty() || aud.bytes().any(|b| b.is_ascii_control()) {
                    p.push(format!("{at}.aud must be a non-empty string"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_rules_and_timings_are_named() {
        let mut p = Vec::new();
        ForwardAuthConfig {
            rules: vec![
                ForwardAuthRule {
                    host: Some("a b".into()),
                    path_prefix: Some("admin".into()),
                    role: Some(Role::Pending),
                    groups: vec![" ".into()],
                    aud: Some(String::new()),
                },
                ForwardAuthRule {
                    path_prefix: Some("/x/../y".into()),
                    ..ForwardAuthRule::default()
                },
            ],
        }
        .validate(&mut p);
        assert_eq!(p.len(), 6, "{p:#?}");
        assert!(p[0].starts_with("forward_auth.rules[0].host"));
        assert!(p[5].starts_with("forward_auth.rules[1].path_prefix"));
        let mut p = Vec::new();
        AssertionConfig::default().validate(&mut p);
        assert!(p.is_empty(), "{p:?}");
        AssertionConfig {
            ttl: Duration::from_secs(120),
            rotate_every: Duration::from_secs(10),
            publish_ahead: Duration::from_secs(10),
            grace: Duration::from_millis(1500),
        }
        .validate(&mut p);
        assert_eq!(p.len(), 4, "{p:#?}");
    }
}
