//! Users and roles.
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a user may do. Ordered from least to most privileged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Signed up, awaiting approval: reaches nothing but their own profile.
    Pending,
    /// A regular user.
    User,
    /// Manages users and settings.
    Admin,
}

impl Role {
    /// The wire name: `admin`, `user` or `pending`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Pending => "pending",
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    /// Parses a wire name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "pending" => Some(Role::Pending),
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user as an admin sees it in the user list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// Stable id.
    pub id: String,
    /// E-mail address, as given (never normalised).
    pub email: String,
    /// Display name.
    pub name: String,
    /// Current role.
    pub role: Role,
    /// Avatar URL or data URL.
    pub profile_image_url: String,
    /// Where the account comes from: `local`, or the name of the issuer or provider.
    pub source: String,
    /// Groups the user belongs to.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Permissions granted to the user or one of their groups (e.g. `api_keys`).
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// `POST /api/v1/users/update/role`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateRoleForm {
    /// The user to change.
    pub id: String,
    /// The new role.
    pub role: Role,
}

/// A group, as `GET /api/v1/groups/` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInfo {
    /// Stable id.
    pub id: String,
    /// Name (for synced groups: the IdP's or directory's name).
    pub name: String,
    /// Number of members.
    pub members: i64,
    /// Permissions granted to the group's members.
    #[serde(default)]
    pub permissions: Vec<String>,
}
