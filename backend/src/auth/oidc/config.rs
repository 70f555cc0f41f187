//! The settings of an SSO provider as the sign-in flow sees them: the
//! `[[oidc_providers]]` table and its checks (defined in
//! [`crate::config::oidc_provider`]) and GitHub's fixed endpoints.
pub use crate::config::oidc_provider::{validate, OidcProviderConfig};

/// GitHub's authorization endpoint.
pub const GITHUB_AUTHORIZE: &str = "https://github.com/login/oauth/authorize";
/// GitHub's token endpoint.
pub const GITHUB_TOKEN: &str = "https://github.com/login/oauth/access_token";
/// GitHub's REST API.
pub const GITHUB_API: &str = "https://api.github.com";
