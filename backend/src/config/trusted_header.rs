//! `[trusted_header]`: sign-in by headers from a reverse proxy.
use super::values::role_mapping;
use crate::domain::RoleMapping;
use serde::{Deserialize, Serialize};
use tessera_shared::Role;

/// `[trusted_header]`: see `docs/ldap-and-proxy.md`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrustedHeaderConfig {
    /// The header carrying the signed-in person's e-mail, e.g. `X-Forwarded-Email`.
    pub email_header: String,
    /// The header carrying the display name.
    pub name_header: Option<String>,
    /// The header carrying the groups.
    pub groups_header: Option<String>,
    /// What separates groups in `groups_header`.
    pub groups_separator: String,
    /// CIDRs of the proxies whose headers are honoured (required); from any
    /// other peer the headers are stripped.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Create Tessera groups that do not exist yet (else only known groups are synced).
    pub create_groups: bool,
    /// Members of any of these groups are admins.
    pub admin_groups: Vec<String>,
    /// When non-empty, only members of these (or of `admin_groups`) get in.
    pub user_groups: Vec<String>,
    /// The role of everyone else; accounts are created with it on first fingerprint.
    pub default_role: Role,
}

impl Default for TrustedHeaderConfig {
    fn default() -> Self {
        Self {
            email_header: String::new(),
            name_header: None,
            groups_header: None,
            groups_separator: ",".into(),
            trusted_proxies: Vec::new(),
            create_groups: false,
            admin_groups: Vec::new(),
            user_groups: Vec::new(),
            default_role: Role::User,
        }
    }
}

impl TrustedHeaderConfig {
    /// The role mapping of `[trusted_header]`.
    pub fn role_mapping(&self) -> RoleMapping {
        role_mapping(&self.admin_groups, &self.user_groups, self.default_role)
    }

    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        let headers = [
            ("email_header", Some(&self.email_header)),
            ("name_header", self.name_header.as_ref()),
            ("groups_header", self.groups_header.as_ref()),
        ];
        for (key, value) in headers {
            if let Some(value) = value {
                if axum::http::HeaderName::from_bytes(value.as_bytes()).is_err() {
                    problems.push(format!(
                        "trusted_header.{key} `{value}` is not a header name, e.g. X-Forwarded-Email"
                    ));
                }
            }
        }
        if self.trusted_proxies.is_empty() {
            problems.push(
                "trusted_header.trusted_proxies must list the reverse proxies' addresses (CIDRs such as \"10.0.0.5/32\"): headers from anyone else are ignored".into(),
            );
        }
        if let Some(all) = self.trusted_proxies.iter().find(|n| n.prefix_len() == 0) {
            problems.push(format!(
                "trusted_header.trusted_proxies: {all} trusts every address, so anybody could sign in as anybody; list only the proxies"
            ));
        }
        if self.groups_separator.is_empty() {
            problems.push("trusted_header.groups_separator must not be empty".into());
        }
    }
}
