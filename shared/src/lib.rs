//! Wire types shared by the Tessera backend and its SPA.
//!
//! One definition of every request and response body, of the error body and
//! of the route paths. Depends on serde alone so the WebAssembly build stays small.
#![warn(missing_docs)]

pub mod auth;
pub mod error;
pub mod public_config;
pub mod routes;
pub mod user;

pub use auth::{AuthMethod, SessionUser, SigninForm, SignupForm};
pub use error::ErrorBody;
pub use public_config::PublicConfig;
pub use user::{Role, UpdateRoleForm, UserInfo};
