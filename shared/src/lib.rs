//! Wire types shared by the Tessera backend and its SPA.
//!
//! One definition of every request and response body, of the error body and
//! of the route paths. Depends on serde (and serde_json for free-form claims) alone, so the
//! WebAssembly build stays small.
#![warn(missing_docs)]

pub mod api_key;
pub mod audit;
pub mod auth;
pub mod embed;
pub mod error;
pub mod injection;
pub mod inspect;
pub mod oidc;
pub mod public_config;
pub mod routes;
pub mod user;

pub use api_key::{ApiKeyCreated, ApiKeyInfo, PermissionsForm};
pub use audit::{AuditAction, AuditEntry, AuditPage, AuditQuery};
pub use auth::{AuthMethod, LdapForm, SessionUser, SigninForm, SignoutAnswer, SignupForm};
pub use embed::{EmbedGrant, EmbedRedeemForm, EmbedTicket, EmbedTicketForm};
pub use error::ErrorBody;
pub use injection::Injected;
pub use inspect::{InspectCheck, InspectForm, InspectReport};
pub use oidc::{
    CliFinishForm, CliStartForm, CliStarted, OauthCompleteForm, OauthTokenExchangeForm,
    OidcProviderLink, OidcProviderSettings, OidcTestReport, OidcTestResultForm, OidcTestStarted,
    ProviderKind, ResponseMode,
};
pub use public_config::PublicConfig;
pub use user::{GroupInfo, Role, UpdateRoleForm, UserInfo};
