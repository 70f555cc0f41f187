//! The changes one replica tells the others about, and the small interface
//! the stores announce them through (the replica sync implements it; a
//! single server announces to no one).
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// One change announced to every replica (applying one twice is harmless).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Event {
    /// A token id was revoked until `exp` (`None`: for good).
    Revoked {
        /// The token's `jti`.
        jti: String,
        /// Its expiry, Unix seconds.
        exp: Option<i64>,
    },
    /// A user's role, groups, permissions or profile changed.
    User {
        /// The user id.
        id: String,
    },
    /// A user was deleted.
    UserDeleted {
        /// The user id.
        id: String,
    },
    /// Every credential of a user was ended (sign out everywhere).
    SignedOutEverywhere {
        /// The user id.
        id: String,
    },
    /// Something that touches many users changed (a group's permissions).
    AllUsers,
    /// A user's API key was created, replaced or revoked.
    ApiKey {
        /// The owner's user id.
        user_id: String,
    },
    /// Saved SSO provider settings changed.
    OidcProviders,
}

/// Where changes are announced: the other replicas, or no one.
#[async_trait::async_trait]
pub trait Announce: Send + Sync + 'static {
    /// Tells the other replicas about `event` (made here already). An error
    /// (503) when they could not be told now; the announcement is not lost.
    async fn announce(&self, event: &Event) -> Result<()>;
}

/// Announces to no one: a single server.
pub struct NoOne;

#[async_trait::async_trait]
impl Announce for NoOne {
    async fn announce(&self, _: &Event) -> Result<()> {
        Ok(())
    }
}
