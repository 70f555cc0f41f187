//! The value types the sections share: [`Secret`], [`ExpiresIn`], durations
//! written `5s`, origins, the names no issuer or provider may take, and the
//! role mapping of the entries that map groups to roles.
use crate::domain::RoleMapping;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::time::Duration;
use tessera_shared::Role;

/// Names no `[[issuers]]` or `[[oidc_providers]]` entry (nor SSO provider
/// saved from the admin page) may take, ASCII case ignored: an entry's name
/// becomes the `source` of its accounts, and `local`, `ldap` and
/// `trusted_header` are the sources of local, LDAP and proxy accounts (a
/// shared source would make their ids collide); `test` is the admin API's
/// test round trip (`/api/v1/admin/oidc_providers/test`).
pub const RESERVED_NAMES: &[&str] = &["local", "ldap", "trusted_header", "test"];

/// What to fix when `name` is one of [`RESERVED_NAMES`]; `at` names the entry.
pub fn reserved_name_problem(at: &str, name: &str) -> Option<String> {
    let reserved = RESERVED_NAMES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name.trim()));
    reserved.then(|| {
        format!(
            "{at}: the name `{name}` is reserved (Tessera itself uses {}); choose another name",
            RESERVED_NAMES.join(", ")
        )
    })
}

/// Whether `s` is exactly an http(s) origin as browsers serialise it
/// (`event.origin`): lower-case scheme and host, no default port, no path.
/// Wildcards and characters that mean something in a CSP are refused.
pub fn is_origin(s: &str) -> bool {
    let plain = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ":/.-[]".contains(c));
    plain
        && url::Url::parse(s).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host().is_some()
                && u.origin().ascii_serialization() == s
        })
}

/// Durations written `5s`, `500ms`, `1m` (or a number of seconds).
pub(crate) mod duration_str {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(secs) => Ok(Duration::from_secs(secs)),
            Raw::Str(s) => humantime::parse_duration(s.trim()).map_err(|_| {
                serde::de::Error::custom(format!(
                    "`{s}` is not a duration: use e.g. 500ms, 5s or 1m"
                ))
            }),
        }
    }
}

/// How long a session token lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiresIn {
    /// `-1`: never expires.
    Never,
    /// `0`: valid for exactly one authenticated request.
    SingleUse,
    /// A duration.
    For(Duration),
}

impl ExpiresIn {
    /// Parses `-1`, `0` or a duration such as `30m`, `2h`, `7d`, `4w`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "-1" => Ok(Self::Never),
            "0" => Ok(Self::SingleUse),
            d => match humantime::parse_duration(d) {
                Ok(d) if d.as_secs() >= 1 => Ok(Self::For(d)),
                _ => Err(format!(
                    "`{s}` is not a token lifetime: use -1 (never expires), 0 (single use) or a duration like 30m, 2h, 7d, 4w"
                )),
            },
        }
    }
}

impl Serialize for ExpiresIn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Never => s.serialize_str("-1"),
            Self::SingleUse => s.serialize_str("0"),
            Self::For(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for ExpiresIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Str(String),
        }
        let raw = match Raw::deserialize(d)? {
            Raw::Int(i) => i.to_string(),
            Raw::Str(s) => s,
        };
        ExpiresIn::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// A secret string: never printed by `Debug`, and serialized as `********`
/// inside [`masked`].
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

thread_local! {
    static MASKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// What `f` serializes, with every [`Secret`] written as `********` (for
/// showing a configuration; the config loader itself needs the values).
pub fn masked<T>(f: impl FnOnce() -> T) -> T {
    struct Unmask;
    impl Drop for Unmask {
        fn drop(&mut self) {
            MASKED.with(|m| m.set(false));
        }
    }
    MASKED.with(|m| m.set(true));
    let _unmask = Unmask;
    f()
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if MASKED.with(std::cell::Cell::get) {
            s.serialize_str("********")
        } else {
            s.serialize_str(&self.0)
        }
    }
}

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// The trimmed contents of `file`, the value of the config key `key`
    /// (e.g. `redis.url_file`), which errors name.
    pub fn read_file(key: &str, file: &std::path::Path) -> anyhow::Result<Secret> {
        use anyhow::Context;
        let s = std::fs::read_to_string(file)
            .with_context(|| format!("reading {key} {}", file.display()))?;
        Ok(Secret::new(s.trim()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Decodes standard or URL-safe base64, padded or not.
pub fn decode_b64(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    use base64::Engine;
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(&s).ok())
}

/// `default_role` when unset in `[[issuers]]` and `[[oidc_providers]]`.
pub(super) fn default_role() -> Role {
    Role::User
}

/// The [`RoleMapping`] of an entry's `admin_groups`, `user_groups` and
/// `default_role` keys. `[[issuers]]`, `[[oidc_providers]]`, `[ldap]` and
/// `[trusted_header]` each declare
/// the keys themselves: a shared struct would need serde's `flatten`, which
/// changes how unknown keys are refused (the message loses its list of
/// expected keys).
pub(super) fn role_mapping(
    admin_groups: &[String],
    user_groups: &[String],
    default_role: Role,
) -> RoleMapping {
    RoleMapping {
        admin_groups: admin_groups.to_vec(),
        user_groups: user_groups.to_vec(),
        default_role,
    }
}
