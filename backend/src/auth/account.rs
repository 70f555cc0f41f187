//! The account behind a verified token: what every authenticator of tokens
//! Tessera remembers (sessions, IdP tokens) checks once the signature and
//! claims are good — not revoked, and its user still there.
use super::memo::CredentialMemo;
use super::revocation::Revocations;
use crate::domain::User;
use crate::error::{Error, Result};
use crate::store::users::Users;
use std::sync::Arc;

/// The handles those checks need: the user directory and the revocation
/// list. Cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    /// The user directory (cached).
    pub users: Users,
    /// Revoked token ids.
    pub revocations: Arc<Revocations>,
}

impl Accounts {
    /// The account a verified token speaks for: refused when any of
    /// `revoked_by` (its own id, and the id of what it was minted from) is
    /// revoked, or when its user is gone. The account comes from the token's
    /// memo while no user changed.
    pub async fn holder(
        &self,
        revoked_by: [Option<&str>; 2],
        user_id: &str,
        memo: &CredentialMemo,
    ) -> Result<Arc<User>> {
        if revoked_by
            .into_iter()
            .flatten()
            .any(|id| self.revocations.is_revoked(id))
        {
            return Err(Error::InvalidToken(
                "token revoked (or the credential it was minted from)",
            ));
        }
        memo.user_of(&self.users, user_id)
            .await?
            .ok_or_else(|| Error::InvalidToken("token of a deleted user"))
    }
}
