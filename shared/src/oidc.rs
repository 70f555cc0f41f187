//! SSO sign-in with OAuth 2.0 / OpenID Connect: the sign-in buttons, the
//! hand-over from the callback to the SPA, token exchange, the CLI flow and
//! the admin settings of providers.
use crate::user::Role;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One sign-in button (in [`crate::PublicConfig::oidc_providers`]); the button
/// navigates to `/oauth/{name}/login` (see [`crate::routes::oauth_login`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcProviderLink {
    /// The `{provider}` in the paths.
    pub name: String,
    /// The button's label.
    pub display_name: String,
}

/// What kind of provider: how discovery, claims and e-mails are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// Any OpenID Connect provider, by its discovery URL.
    #[default]
    Oidc,
    /// GitHub: plain OAuth 2.0; user and verified e-mails from its API.
    Github,
    /// Microsoft Entra ID.
    Entra,
    /// Google.
    Google,
}

/// How the provider returns the authorization response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    /// In the callback's query string (`GET`).
    #[default]
    Query,
    /// As a form `POST` to the callback.
    FormPost,
}

/// `POST /api/v1/auths/oauth/complete`: the one-time code the callback put
/// in the SPA's URL fragment (`/oauth/complete#code=...`), for the session.
/// Answered with a [`crate::SessionUser`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OauthCompleteForm {
    /// Single use, valid for a minute.
    pub code: String,
}

/// `POST /api/v1/auths/oauth/{provider}/token/exchange`: a provider access
/// token (checked via userinfo, or as a JWT) for a Tessera session token.
/// Answered with a [`crate::SessionUser`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OauthTokenExchangeForm {
    /// The provider's access token.
    pub token: String,
}

/// `POST /api/v1/auths/oauth/{provider}/cli/start`: `tessera login` asks for
/// the provider's authorization URL for its loopback listener.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CliStartForm {
    /// `http://localhost:{port}/oidc/callback` or `http://127.0.0.1:{port}/oidc/callback`.
    pub redirect_uri: String,
    /// A random value the CLI keeps and presents again to finish: binds the
    /// flow to the CLI that started it.
    pub client_nonce: String,
}

/// Answer to [`CliStartForm`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CliStarted {
    /// Open this in a browser.
    pub auth_url: String,
}

/// `POST /api/v1/auths/oauth/{provider}/cli/finish`: what the loopback
/// listener received. Answered with a [`crate::SessionUser`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CliFinishForm {
    /// `state` from the callback.
    pub state: String,
    /// `code` from the callback.
    pub code: String,
    /// The same value as in [`CliStartForm::client_nonce`].
    pub client_nonce: String,
}

/// A provider as the admin settings show and save it
/// (`GET /api/v1/admin/oidc_providers`, `PUT .../{name}`). The same fields
/// as an `[[oidc_providers]]` table of the config file.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OidcProviderSettings {
    /// The `{provider}` in the paths: `[a-z0-9_-]`, 1–40 characters.
    pub name: String,
    /// The button's label.
    pub display_name: String,
    /// The provider kind.
    pub kind: ProviderKind,
    /// OIDC discovery document (`.../.well-known/openid-configuration`);
    /// required for `oidc`, derived for `google` and `entra` when empty.
    pub discovery_url: Option<String>,
    /// For `entra`: the directory (tenant) id, used to derive the discovery URL.
    pub tenant: Option<String>,
    /// The client id registered at the provider.
    pub client_id: String,
    /// Write-only: never returned (`None` in every answer). On save, `None`
    /// keeps the stored secret; `Some` replaces it.
    pub client_secret: Option<String>,
    /// Read-only: whether a client secret is stored.
    pub client_secret_set: bool,
    /// Scopes to ask for; `openid email profile` when empty (OIDC kinds).
    pub scopes: Vec<String>,
    /// Claim (name or JSON Pointer) holding the user name; `preferred_username`.
    pub username_claim: Option<String>,
    /// Claim holding the e-mail; `email`.
    pub email_claim: Option<String>,
    /// Claim holding the display name; `name`.
    pub name_claim: Option<String>,
    /// Claim holding the avatar URL; `picture`.
    pub picture_claim: Option<String>,
    /// Claim holding the groups (name or JSON Pointer); none when unset.
    pub groups_claim: Option<String>,
    /// Groups whose members become admins (case-insensitive).
    pub admin_groups: Vec<String>,
    /// When non-empty: only members of these (or of `admin_groups`) may sign in.
    pub user_groups: Vec<String>,
    /// Role of members of no listed group (when `user_groups` is empty).
    pub default_role: Role,
    /// Link a sign-in to an existing account with the same e-mail, only
    /// when the provider asserts `email_verified = true`.
    pub merge_accounts_by_email: bool,
    /// `query` (default) or `form_post`.
    pub response_mode: ResponseMode,
    /// Log the received claims (at info level) for set-up debugging.
    pub verbose: bool,
    /// RP-initiated logout: signing out of a session signed in through this
    /// provider also sends the browser to the provider's
    /// `end_session_endpoint` (when its discovery names one). On by default.
    pub rp_logout: bool,
    /// Read-only: `config` (from the config file, not yet edited) or `database`.
    pub source: String,
}

impl Default for OidcProviderSettings {
    fn default() -> Self {
        Self {
            name: String::new(),
            display_name: String::new(),
            kind: ProviderKind::Oidc,
            discovery_url: None,
            tenant: None,
            client_id: String::new(),
            client_secret: None,
            client_secret_set: false,
            scopes: Vec::new(),
            username_claim: None,
            email_claim: None,
            name_claim: None,
            picture_claim: None,
            groups_claim: None,
            admin_groups: Vec::new(),
            user_groups: Vec::new(),
            default_role: Role::User,
            merge_accounts_by_email: false,
            response_mode: ResponseMode::Query,
            verbose: false,
            rp_logout: true,
            source: String::new(),
        }
    }
}

impl fmt::Debug for OidcProviderSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcProviderSettings")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("discovery_url", &self.discovery_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

/// `POST /api/v1/admin/oidc_providers/test`: answer to unsaved settings
/// whose discovery succeeded. The admin opens `login_url` in a popup; the
/// round trip ends on the SPA's `/settings/security/test#code=...`, whose
/// code [`OidcTestResultForm`] turns into an [`OidcTestReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcTestStarted {
    /// The `issuer` of the discovery document.
    pub issuer: String,
    /// Open this (a path on Tessera) in a popup.
    pub login_url: String,
}

/// `POST /api/v1/admin/oidc_providers/test/result`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcTestResultForm {
    /// From the fragment of `/settings/security/test#code=...`.
    pub code: String,
}

/// The outcome of a test round trip; nothing was saved and nobody signed in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OidcTestReport {
    /// Whether the round trip would have signed the person in.
    pub ok: bool,
    /// What went wrong, or a one-line summary of who would be signed in.
    pub detail: String,
    /// The ID token's (and userinfo's) claims.
    pub claims: serde_json::Value,
    /// The role the person would get, when `ok`.
    pub role: Option<Role>,
    /// The groups read from the claims.
    pub groups: Vec<String>,
}
