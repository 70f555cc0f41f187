//! Sign-in with e-mail and password (`POST /api/v1/auths/signin`), including
//! `[password] signin_enabled = false`, which keeps it for the bootstrap admin
//! only (the way back in when SSO is misconfigured).
//!
//! While sign-in is disabled, an answer must not tell whether an account
//! exists, which account is the bootstrap admin, or whether a password is
//! right. So every attempt does the same work — one look-up of the bootstrap
//! admin, one look-up of the e-mail, one argon2 verification (against a dummy
//! hash when the e-mail is unknown) — and every attempt that does not sign the
//! bootstrap admin in gets the same 403 `Password sign-in is disabled`, the
//! bootstrap admin's own wrong password included. The check is thus made
//! *regardless of* the password check rather than before it: refusing before
//! verifying would be cheaper, but the bootstrap admin's e-mail would then be
//! the only one answered `Invalid credentials` (and more slowly).
use crate::auth::password::Passwords;
use crate::auth::password::MAX_PASSWORD_BYTES;
use crate::domain::User;
use crate::error::{Error, Result};
use crate::store::users::Users;
use std::sync::Arc;

/// The 403 detail while `[password] signin_enabled` is false.
pub const SIGNIN_DISABLED: &str = "Password sign-in is disabled";

/// Password sign-in: the accounts, the hashing, and who may still sign in
/// while it is disabled.
pub struct PasswordSignIn {
    /// The user directory.
    pub users: Users,
    /// Password hashing.
    pub passwords: Passwords,
    /// `[password] signin_enabled`.
    pub enabled: bool,
    /// The bootstrap admin's e-mail (`[admin] email`), normalised.
    pub admin_email: Option<String>,
}

impl PasswordSignIn {
    /// The account `email` (already normalised) and `password` sign in to, or
    /// 401 `Invalid credentials` (403 `Password sign-in is disabled` while
    /// password sign-in is off for everyone but the bootstrap admin).
    #[tracing::instrument(skip_all)]
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<Arc<User>> {
        let enabled = self.enabled;
        let bootstrap_admin = if enabled {
            None
        } else {
            self.users
                .bootstrap_admin_id(self.admin_email.as_deref())
                .await?
        };
        let found = if password.len() <= MAX_PASSWORD_BYTES {
            self.users.find_local_credentials(email).await?
        } else {
            None
        };
        let (user, hash) = match found {
            Some((user, hash)) => (Some(user), Some(hash)),
            None => (None, None),
        };
        let password_ok = self.passwords.verify(password, hash.as_deref()).await?;
        decide(
            enabled,
            password_ok,
            user.as_deref().map(|u| u.id.as_str()),
            bootstrap_admin.as_deref(),
        )?;
        user.ok_or(Error::InvalidCredentials)
    }
}

fn decide(
    enabled: bool,
    password_ok: bool,
    user_id: Option<&str>,
    bootstrap_admin: Option<&str>,
) -> Result<()> {
    let signs_in = password_ok && user_id.is_some();
    if enabled {
        return if signs_in {
            Ok(())
        } else {
            Err(Error::InvalidCredentials)
        };
    }
    if signs_in && bootstrap_admin.is_some() && user_id == bootstrap_admin {
        Ok(())
    } else {
        Err(Error::Forbidden(SIGNIN_DISABLED))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(r: Result<()>) -> &'static str {
        match r {
            Ok(()) => "ok",
            Err(Error::InvalidCredentials) => "401",
            Err(Error::Forbidden(SIGNIN_DISABLED)) => "403",
            Err(_) => "other",
        }
    }

    #[test]
    fn enabled_signs_in_anyone_with_the_right_password() {
        assert_eq!(outcome(decide(true, true, Some("u"), None)), "ok");
        assert_eq!(outcome(decide(true, false, Some("u"), None)), "401");
        assert_eq!(outcome(decide(true, false, None, None)), "401");
        assert_eq!(outcome(decide(true, true, None, None)), "401");
    }

    #[test]
    fn disabled_signs_in_only_the_bootstrap_admin_and_refuses_all_else_alike() {
        let boot = Some("admin-id");
        assert_eq!(outcome(decide(false, true, Some("admin-id"), boot)), "ok");
        // every other attempt gets the same answer: no hint of who exists,
        // who the admin is, or whether a password was right
        for (ok, user) in [
            (false, Some("admin-id")),
            (true, Some("other")),
            (false, Some("other")),
            (false, None),
            (true, None),
        ] {
            assert_eq!(
                outcome(decide(false, ok, user, boot)),
                "403",
                "{ok} {user:?}"
            );
        }
        // no bootstrap admin (demoted, or the first account is external)
        assert_eq!(outcome(decide(false, true, Some("admin-id"), None)), "403");
    }
}
