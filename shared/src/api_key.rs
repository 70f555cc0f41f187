//! API keys: `sk-` credentials for scripts and integrations.
use serde::{Deserialize, Serialize};
use std::fmt;

/// `POST /api/v1/auths/api_key`: the new key, shown this once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyCreated {
    /// `sk-...`: send as `Authorization: Bearer sk-...`.
    pub api_key: String,
}

impl fmt::Debug for ApiKeyCreated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeyCreated { api_key: *** }")
    }
}

/// `GET /api/v1/auths/api_key`: what is known of the key, never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    /// The first characters of the key (`sk-` and 8 more), to recognise it.
    pub prefix: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last use (to the minute), if it was used.
    pub last_used_at: Option<i64>,
}

/// `PUT /api/v1/users/{id}/permissions` and `PUT /api/v1/groups/{id}/permissions` (admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionsForm {
    /// May create and use API keys.
    pub api_keys: bool,
    /// May mint embed tickets; left as it is when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embed: Option<bool>,
}
