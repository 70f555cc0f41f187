//! Building blocks shared by the pages.
mod alert;
mod auth_card;
mod expiry;
mod form;
mod session_check;
mod top_bar;

pub use alert::{ErrorMessage, Loading, Notice};
pub use auth_card::AuthCard;
pub use expiry::{ExpiryBanner, TokenExpiry};
pub use form::{action_error, AdminOnly, Field, SubmitButton};
pub use session_check::{EmbedWaiting, SessionCheck};
pub use top_bar::{RoleBadge, Shell};
