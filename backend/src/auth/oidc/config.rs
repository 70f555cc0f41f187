//! GitHub's fixed endpoints, used when an `[[oidc_providers]]` entry of kind
//! `github` names none (the table itself is [`crate::config::oidc_provider`]).

/// GitHub's authorization endpoint.
pub const GITHUB_AUTHORIZE: &str = "https://github.com/login/oauth/authorize";
/// GitHub's token endpoint.
pub const GITHUB_TOKEN: &str = "https://github.com/login/oauth/access_token";
/// GitHub's REST API.
pub const GITHUB_API: &str = "https://api.github.com";
