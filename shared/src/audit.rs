//! The audit log of security events: `GET /api/v1/admin/audit` (admins).
use serde::{Deserialize, Serialize};

/// What happened. Stored and sent as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A person signed in (password, LDAP or SSO: see `method`).
    SignIn,
    /// A sign-in was refused (`detail`: why, as a class).
    SignInFailed,
    /// An account was created by signing up.
    SignUp,
    /// A credential was signed out.
    SignOut,
    /// Another credential (IdP token, trusted headers) was exchanged for a session.
    TokenExchanged,
    /// An API key was created (or replaced).
    ApiKeyCreated,
    /// An API key was revoked.
    ApiKeyRevoked,
    /// An account's role changed (`detail`: the new role).
    RoleChanged,
    /// A user's or group's permissions changed.
    PermissionsChanged,
    /// An account was deleted.
    UserDeleted,
    /// Every credential of an account was ended.
    SignedOutEverywhere,
    /// SSO provider settings were saved or deleted (`detail`: the provider).
    SsoSettingsChanged,
    /// An identity provider ended sessions by back-channel logout.
    BackchannelLogout,
    /// An embed ticket was issued (`detail`: its origin).
    EmbedTicketIssued,
    /// An account was created by an administrator (admin CLI).
    UserCreated,
    /// A password was reset by an administrator (admin CLI).
    PasswordReset,
}

impl AuditAction {
    /// Every action, in the order a filter lists them.
    pub const ALL: [AuditAction; 16] = [
        AuditAction::SignIn,
        AuditAction::SignInFailed,
        AuditAction::SignUp,
        AuditAction::SignOut,
        AuditAction::TokenExchanged,
        AuditAction::ApiKeyCreated,
        AuditAction::ApiKeyRevoked,
        AuditAction::RoleChanged,
        AuditAction::PermissionsChanged,
        AuditAction::UserDeleted,
        AuditAction::SignedOutEverywhere,
        AuditAction::SsoSettingsChanged,
        AuditAction::BackchannelLogout,
        AuditAction::EmbedTicketIssued,
        AuditAction::UserCreated,
        AuditAction::PasswordReset,
    ];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::SignIn => "sign_in",
            AuditAction::SignInFailed => "sign_in_failed",
            AuditAction::SignUp => "sign_up",
            AuditAction::SignOut => "sign_out",
            AuditAction::TokenExchanged => "token_exchanged",
            AuditAction::ApiKeyCreated => "api_key_created",
            AuditAction::ApiKeyRevoked => "api_key_revoked",
            AuditAction::RoleChanged => "role_changed",
            AuditAction::PermissionsChanged => "permissions_changed",
            AuditAction::UserDeleted => "user_deleted",
            AuditAction::SignedOutEverywhere => "signed_out_everywhere",
            AuditAction::SsoSettingsChanged => "sso_settings_changed",
            AuditAction::BackchannelLogout => "backchannel_logout",
            AuditAction::EmbedTicketIssued => "embed_ticket_issued",
            AuditAction::UserCreated => "user_created",
            AuditAction::PasswordReset => "password_reset",
        }
    }

    /// The action named `s`, if any.
    pub fn parse(s: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// One recorded event. Never holds a token, password or key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Increasing id (newest first in a page).
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// What happened.
    pub action: AuditAction,
    /// How: `password`, `ldap`, `sso:<provider>`, `jwt`, `api_key`, `cli`, ...
    pub method: Option<String>,
    /// Who did it (e-mail or user id), when it was someone signed in.
    pub actor: Option<String>,
    /// The account it concerns (e-mail or user id; for a refused sign-in,
    /// the name that was tried).
    pub account: Option<String>,
    /// The client's IP address.
    pub ip: Option<String>,
    /// A short, secret-free detail: a refusal's class, a new role, a provider.
    pub detail: Option<String>,
}

/// Filters and paging of `GET /api/v1/admin/audit` (query string).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    /// Part of the actor's or the account's name (case-insensitive).
    pub account: Option<String>,
    /// One action's name.
    pub action: Option<String>,
    /// From this Unix second on.
    pub since: Option<i64>,
    /// Before this Unix second.
    pub until: Option<i64>,
    /// Page number, from 1.
    pub page: Option<u32>,
    /// Events per page (default 50, at most 500).
    pub limit: Option<u32>,
}

/// One page of the audit log, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    /// The events of this page.
    pub events: Vec<AuditEntry>,
    /// How many events match the filters, across all pages.
    pub total: u64,
}
