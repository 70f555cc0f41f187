//! Who is calling. Each way to authenticate a bearer credential is one module
//! behind [`BearerAuthenticator`]; [`Authenticators`] asks them in order and
//! yields a [`Principal`]. The HTTP layer's extractors
//! (`crate::http::extract`) turn that into `AuthUser`, `ActiveUser` and
//! `AdminUser`.
pub mod account;
pub mod api_key;
pub mod assertion;
pub mod authenticator;
pub mod confine;
pub mod embed;
pub mod forward;
pub mod grant;
pub mod idp;
pub mod ldap;
pub mod memo;
pub mod mint;
pub mod oidc;
pub mod password;
pub mod password_signin;
pub mod policy;
pub mod principal;
pub mod rate_limit;
pub mod revocation;
pub mod session;
pub mod trusted_header;
pub mod verified_cache;

pub use authenticator::{Authenticators, BearerAuthenticator, MAX_CREDENTIAL_BYTES};
pub use principal::{session_user, Principal, SessionUserRef};
