//! The ground the rest stands on: accounts, the changes replicas announce,
//! and how claims map to roles. Plain data and rules; no I/O.
pub mod audit;
pub mod event;
pub mod mapping;
pub mod user;

pub use event::{Announce, Event, NoOne};
pub use mapping::RoleMapping;
pub use user::{
    external_id, is_plausible_email, new_epoch, ExternalUser, User, LDAP_SOURCE,
    PERMISSION_API_KEYS, TRUSTED_HEADER_SOURCE,
};
