//! The admin's token inspector: why an IdP token is accepted or refused.
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// `POST /api/v1/auths/jwt/inspect`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InspectForm {
    /// The JWT to inspect.
    pub token: String,
}

impl fmt::Debug for InspectForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InspectForm { token: *** }")
    }
}

/// One check of the matching issuer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InspectCheck {
    /// What was checked (`parse`, `issuer`, `signature`, `exp`, `aud`, ...).
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The inspector's answer: every check, and the token without its signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InspectReport {
    /// Whether every check passed.
    pub valid: bool,
    /// The name of the issuer the token was matched to.
    pub issuer: Option<String>,
    /// Each check, in order.
    pub checks: Vec<InspectCheck>,
    /// The decoded header, when it could be decoded.
    pub header: Option<Map<String, Value>>,
    /// The decoded claims, when they could be decoded.
    pub claims: Option<Map<String, Value>>,
}
