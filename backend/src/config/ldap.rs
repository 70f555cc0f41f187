//! `[ldap]`: sign-in against an LDAP directory.
use super::values::{duration_str, role_mapping, Secret};
use crate::domain::RoleMapping;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;
use tessera_shared::Role;

/// `[ldap]`: see `docs/ldap-and-proxy.md`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LdapConfig {
    /// `ldap://host:389` (optionally with `starttls`) or `ldaps://host:636`.
    pub url: String,
    /// PEM file of the CA(s) that sign the server's certificate; default: the system's.
    pub ca_file: Option<PathBuf>,
    /// Upgrade an `ldap://` connection with StartTLS.
    pub starttls: bool,
    /// DN of the service account that searches for users; anonymous search when unset.
    pub bind_dn: Option<String>,
    /// Its password.
    pub bind_password: Option<Secret>,
    /// Where users are searched (subtree).
    pub search_base: String,
    /// The attribute people sign in with: `uid`, `sAMAccountName`, `mail`...
    pub username_attribute: String,
    /// The e-mail attribute.
    pub mail_attribute: String,
    /// The display-name attribute.
    pub name_attribute: String,
    /// Extra filter ANDed to the user search, e.g. `(objectClass=person)`.
    pub search_filter: Option<String>,
    /// The user attribute listing group DNs (`memberOf`); a group's name is its `cn`.
    pub group_attribute: String,
    /// Search groups here instead of reading `group_attribute`.
    pub group_search_base: Option<String>,
    /// Filter of that group search; `{dn}` and `{username}` are replaced (escaped).
    pub group_search_filter: String,
    /// The attribute holding a found group's name.
    pub group_name_attribute: String,
    /// Create Tessera groups that do not exist yet (else only known groups are synced).
    pub create_groups: bool,
    /// Members of any of these groups are admins.
    pub admin_groups: Vec<String>,
    /// When non-empty, only members of these (or of `admin_groups`) may sign in.
    pub user_groups: Vec<String>,
    /// The role of everyone else who gets in.
    pub default_role: Role,
    /// How long to wait for the TCP (and TLS) connection.
    #[serde(with = "duration_str")]
    pub connect_timeout: Duration,
    /// How long to wait for each LDAP operation.
    #[serde(with = "duration_str")]
    pub operation_timeout: Duration,
}

impl Default for LdapConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            ca_file: None,
            starttls: false,
            bind_dn: None,
            bind_password: None,
            search_base: String::new(),
            username_attribute: "uid".into(),
            mail_attribute: "mail".into(),
            name_attribute: "cn".into(),
            search_filter: None,
            group_attribute: "memberOf".into(),
            group_search_base: None,
            group_search_filter: "(member={dn})".into(),
            group_name_attribute: "cn".into(),
            create_groups: false,
            admin_groups: Vec::new(),
            user_groups: Vec::new(),
            default_role: Role::User,
            connect_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(5),
        }
    }
}

impl LdapConfig {
    /// The role mapping of `[ldap]`.
    pub fn role_mapping(&self) -> RoleMapping {
        role_mapping(&self.admin_groups, &self.user_groups, self.default_role)
    }

    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        let url = self.url.to_ascii_lowercase();
        if !(url.starts_with("ldap://") || url.starts_with("ldaps://")) {
            problems.push(format!(
                "ldap.url `{}` must start with ldap:// or ldaps://",
                self.url
            ));
        }
        if self.starttls && url.starts_with("ldaps://") {
            problems
                .push("ldap.starttls applies to ldap:// URLs only; ldaps:// is already TLS".into());
        }
        if self.search_base.trim().is_empty() {
            problems
                .push("ldap.search_base must be set, e.g. \"ou=people,dc=example,dc=org\"".into());
        }
        match (&self.bind_dn, &self.bind_password) {
            (Some(_), None) | (None, Some(_)) => problems.push(
                "set both ldap.bind_dn and ldap.bind_password, or neither (anonymous search)".into(),
            ),
            (Some(_), Some(pw)) if pw.expose().is_empty() => problems.push(
                "ldap.bind_password is empty: an empty password is an anonymous bind; set the password or remove bind_dn".into(),
            ),
            _ => {}
        }
        for (key, value) in [
            ("username_attribute", &self.username_attribute),
            ("mail_attribute", &self.mail_attribute),
            ("name_attribute", &self.name_attribute),
            ("group_attribute", &self.group_attribute),
            ("group_name_attribute", &self.group_name_attribute),
        ] {
            if value.is_empty()
                || !value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ';')
            {
                problems.push(format!("ldap.{key} `{value}` is not an attribute name"));
            }
        }
        if let Some(filter) = &self.search_filter {
            if ldap3::parse_filter(filter).is_err() {
                problems.push(format!(
                    "ldap.search_filter `{filter}` is not an LDAP filter; write it with parentheses, e.g. (objectClass=person)"
                ));
            }
        }
        if self.group_search_base.is_some()
            && ldap3::parse_filter(
                self.group_search_filter
                    .replace("{dn}", "x")
                    .replace("{username}", "x"),
            )
            .is_err()
        {
            problems.push(format!(
                "ldap.group_search_filter `{}` is not an LDAP filter, e.g. (member={{dn}})",
                self.group_search_filter
            ));
        }
        if let Some(ca) = &self.ca_file {
            if !ca.is_file() {
                problems.push(format!("ldap.ca_file {} does not exist", ca.display()));
            }
        }
        if self.connect_timeout.is_zero() || self.operation_timeout.is_zero() {
            problems
                .push("ldap.connect_timeout and ldap.operation_timeout must be above zero".into());
        }
    }
}
