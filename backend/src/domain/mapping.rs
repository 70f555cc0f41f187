//! Claims to roles: the group-based role mapping shared by IdP tokens, LDAP
//! and SSO sign-in. Group names are compared ASCII-case-insensitively: no
//! Unicode case folding, under which the Kelvin sign `\u{212A}` would be a `k`
//! and another group's name could pass for one of the configured ones.
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use tessera_shared::Role;

/// `admin_groups`, `user_groups`, `default_role`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RoleMapping {
    /// Members of any of these are admins.
    pub admin_groups: Vec<String>,
    /// When non-empty, only members of these (or of `admin_groups`) get in at all.
    pub user_groups: Vec<String>,
    /// The role of everyone else who gets in.
    pub default_role: Role,
}

impl Default for RoleMapping {
    fn default() -> Self {
        Self {
            admin_groups: Vec::new(),
            user_groups: Vec::new(),
            default_role: Role::User,
        }
    }
}

impl RoleMapping {
    /// The role of someone in `groups`, or 403 `Access prohibited` when the
    /// mapping does not let them in.
    pub fn admit(&self, groups: &[String]) -> Result<Role> {
        self.role_for(groups).ok_or(Error::Forbidden(
            tessera_shared::error::detail::ACCESS_PROHIBITED,
        ))
    }

    /// The role for a member of `groups`; `None` when they may not get in.
    pub fn role_for(&self, groups: &[String]) -> Option<Role> {
        let member_of = |list: &[String]| {
            list.iter()
                .any(|wanted| groups.iter().any(|g| g.eq_ignore_ascii_case(wanted)))
        };
        if member_of(&self.admin_groups) {
            Some(Role::Admin)
        } else if self.user_groups.is_empty() {
            Some(self.default_role)
        } else if member_of(&self.user_groups) {
            Some(Role::User.max(self.default_role))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(g: &[&str]) -> Vec<String> {
        g.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn trusted_untrusted_admin_scheme() {
        let m = RoleMapping {
            admin_groups: groups(&["Admin"]),
            user_groups: groups(&["trusted"]),
            default_role: Role::User,
        };
        assert_eq!(m.role_for(&groups(&["admin"])), Some(Role::Admin));
        assert_eq!(m.role_for(&groups(&["TRUSTED"])), Some(Role::User));
        assert_eq!(m.role_for(&groups(&["untrusted"])), None);
        assert_eq!(m.role_for(&[]), None);
    }

    #[test]
    fn only_ascii_letters_are_case_folded() {
        let m = RoleMapping {
            admin_groups: groups(&["kadmins"]),
            user_groups: groups(&["staff", "stra\u{df}e"]),
            default_role: Role::User,
        };
        // the Kelvin sign lowercases to `k` under Unicode folding
        assert_eq!(m.role_for(&groups(&["\u{212A}admins"])), None);
        assert_eq!(
            m.role_for(&groups(&["\u{212A}ADMINS", "Staff"])),
            Some(Role::User)
        );
        assert_eq!(m.role_for(&groups(&["KADMINS"])), Some(Role::Admin));
        assert_eq!(m.role_for(&groups(&["STRA\u{df}E"])), Some(Role::User));
        let m = RoleMapping {
            admin_groups: groups(&["\u{212A}admins"]),
            ..RoleMapping::default()
        };
        assert_eq!(m.role_for(&groups(&["kadmins"])), Some(Role::User));
        assert_eq!(m.role_for(&groups(&["\u{212A}admins"])), Some(Role::Admin));
    }

    #[test]
    fn no_lists_means_default_role() {
        let m = RoleMapping {
            default_role: Role::Pending,
            ..RoleMapping::default()
        };
        assert_eq!(m.role_for(&groups(&["whatever"])), Some(Role::Pending));
    }
}
