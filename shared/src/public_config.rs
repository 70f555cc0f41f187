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
    /// `[injection] exchange`: exchange a picked-up token for a Tessera
    /// session token instead of keeping it.
    #[serde(default)]
    pub injection_exchange: bool,
    /// `[injection] query_param`: also accept `?auth_token=` (the fragment is always accepted).
    #[serde(default)]
    pub injection_query_param: bool,
    /// `[injection] expired_redirect`: where to send someone whose picked-up
    /// token expired (the IdP's sign-in); the sign-in page when unset.
    #[serde(default)]
    pub injection_expired_redirect: Option<String>,
    /// `[embed] allowed_origins`: the pages that may frame the SPA and post it tokens.
    #[serde(default)]
    pub embed_allowed_origins: Vec<String>,
    /// `[embed] always`: render without navigation chrome even without `?embed=1`.
    #[serde(default)]
    pub embed_always: bool,
    /// One sign-in button per OAuth 2.0 / OIDC provider.
    #[serde(default)]
    pub oidc_providers: Vec<crate::oidc::OidcProviderLink>,
    /// Whether the e-mail and password form is offered (`[password]
    /// signin_enabled`); `/login?backup=1` shows it to the bootstrap admin anyway.
    #[serde(default = "yes")]
    pub password_signin: bool,
    /// `[ui] expiry_warning`: the banner that offers "Stay signed in" shows
    /// this many seconds before the token expires; 0: no banner.
    #[serde(default)]
    pub ui_expiry_warning_secs: u32,
    /// `[ui] session_check_interval`: an open, visible page asks whether its
    /// session still holds every this many seconds; 0: only when it becomes
    /// visible again.
    #[serde(default)]
    pub ui_session_check_secs: u32,
}

fn yes() -> bool {
    true
}
