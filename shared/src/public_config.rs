//! What the SPA needs to know before anyone signs in.
use serde::{Deserialize, Serialize};

/// `GET /api/config`: public, unauthenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicConfig {
    /// Product name shown in the UI.
    pub name: String,
    /// Whether the sign-up form is offered.
    pub signup_enabled: bool,
    /// True until the first account exists: that account becomes the admin.
    pub first_user: bool,
    /// Whether API keys can be used (`[api_keys] enabled`).
    #[serde(default)]
    pub api_keys_enabled: bool,
    /// Whether the LDAP sign-in form is offered (`[ldap]` is configured).
    #[serde(default)]
    pub ldap_enabled: bool,
}
