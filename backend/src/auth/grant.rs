//! Sessions that live as long as an identity provider's grant: the one
//! question the session check asks of whoever keeps those grants (SSO
//! sign-in, [`crate::auth::oidc::refresh`]), so sessions know nothing of
//! providers.
use crate::error::Result;

/// Keeps provider grants alive, or ends the sessions whose grant ended.
#[async_trait::async_trait]
pub trait GrantCheck: Send + Sync + 'static {
    /// `Ok` while the provider grant behind session `jti` lives; renews it
    /// with the provider when it is due (once on every replica). An error
    /// when the grant is over — the session is then ended for good — or the
    /// provider cannot say (fail closed; the session is kept for later).
    async fn check(&self, jti: &str, now: i64) -> Result<()>;
}
