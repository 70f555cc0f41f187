//! A Tessera account, and an account vouched for by somebody else.
use tessera_shared::{Role, UserInfo};

/// A Tessera account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Stable id.
    pub id: String,
    /// E-mail address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Current role.
    pub role: Role,
    /// Avatar.
    pub profile_image_url: String,
    /// `local`, or the issuer / provider name.
    pub source: String,
    /// The subject at that issuer (`None` for local accounts).
    pub subject: Option<String>,
    /// Group names.
    pub groups: Vec<String>,
    /// Permissions granted to the user or one of their groups.
    pub permissions: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// The token epoch: credentials Tessera mints for this user carry it and
    /// stop working once it changes (signing out everywhere; a
    /// deleted account made again gets a new one).
    pub epoch: i64,
    /// Identity-provider tokens issued at or before this (Unix seconds) are
    /// refused for this user.
    pub signed_out_at: Option<i64>,
}

/// A fresh token epoch: random, never 0 (the epoch of rows made before
/// epochs existed), and exact in a JSON number (53 bits).
pub fn new_epoch() -> i64 {
    (rand::random::<u64>() >> 11) as i64 | 1
}

/// The permission to create and use API keys.
pub const PERMISSION_API_KEYS: &str = "api_keys";
/// The permission to mint embed tickets (`POST /api/v1/embed/tickets`).
pub const PERMISSION_EMBED: &str = "embed";

impl User {
    /// Whether the user holds `permission`: admins hold every permission.
    pub fn has_permission(&self, permission: &str) -> bool {
        self.role == Role::Admin || self.permissions.iter().any(|p| p == permission)
    }
}

impl From<&User> for UserInfo {
    fn from(u: &User) -> Self {
        UserInfo {
            id: u.id.clone(),
            email: u.email.clone(),
            name: u.name.clone(),
            role: u.role,
            profile_image_url: u.profile_image_url.clone(),
            source: u.source.clone(),
            groups: u.groups.clone(),
            permissions: u.permissions.clone(),
            created_at: u.created_at,
        }
    }
}

/// `users.source` of directory (`[ldap]`) accounts.
pub const LDAP_SOURCE: &str = "ldap";
/// `users.source` of accounts created from a reverse proxy's headers
/// (`[trusted_header]`).
pub const TRUSTED_HEADER_SOURCE: &str = "trusted_header";

/// A cheap shape check: one `@`, something on both sides, a dot in the domain,
/// no white space or control characters, at most 254 bytes.
pub fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// An account vouched for by an issuer, provider or directory: created on
/// first fingerprint, refreshed from each sign-in or token.
#[derive(Debug, Clone)]
pub struct ExternalUser<'a> {
    /// The issuer / provider / directory name (`users.source`).
    pub source: &'a str,
    /// The subject there: never normalised.
    pub subject: &'a str,
    /// E-mail address, as asserted.
    pub email: &'a str,
    /// Display name.
    pub name: &'a str,
    /// Role from the role mapping.
    pub role: Role,
    /// Group names, as asserted.
    pub groups: &'a [String],
    /// Whether groups Tessera does not know yet are created (else skipped).
    pub create_groups: bool,
}

/// The stable id of an external account: a hash of (source, subject).
pub fn external_id(source: &str, subject: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(source.as_bytes())
        .chain_update([0u8])
        .chain_update(subject.as_bytes())
        .finalize();
    // lowercase hex of the first 16 bytes, written directly (on the path of
    // every uncached IdP token)
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(4 + 32);
    id.push_str("ext-");
    for b in digest.iter().take(16) {
        id.push(char::from(HEX[usize::from(b >> 4)]));
        id.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_shapes() {
        assert!(is_plausible_email("a@b.co"));
        for bad in [
            "",
            "a",
            "a@",
            "@b.co",
            "a@b",
            "a b@c.de",
            "a@b..",
            "a@.b",
            "a@b@c.de",
            "a\u{0}@b.co",
        ] {
            assert!(!is_plausible_email(bad), "{bad:?}");
        }
    }
}
