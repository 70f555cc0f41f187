//! The error body every failing endpoint returns.
use serde::{Deserialize, Serialize};

/// `{"detail": "..."}`: the body of every error response (Open WebUI's shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A message meant for the person using the client.
    pub detail: String,
}

/// The `detail` strings that clients may match on.
pub mod detail {
    /// 401: wrong email or password.
    pub const INVALID_CREDENTIALS: &str = "Invalid credentials";
    /// 401: malformed, forged, expired, revoked or used-up token.
    pub const INVALID_TOKEN: &str = "Invalid token";
    /// 401: no credentials on a protected endpoint.
    pub const NOT_AUTHENTICATED: &str = "Not authenticated";
    /// 403: the role is insufficient.
    pub const ACCESS_PROHIBITED: &str = "Access prohibited";
    /// 429: too many attempts.
    pub const RATE_LIMITED: &str = "Rate limit exceeded";
}
