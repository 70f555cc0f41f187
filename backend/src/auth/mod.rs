//! Who is calling. Each way to authenticate a bearer credential is one module
//! behind [`BearerAuthenticator`]; the [`AuthUser`] extractor asks them in
//! order and yields a [`Principal`]. Role checks are extractors too
//! ([`ActiveUser`], [`AdminUser`]), never `if`s in handlers.
pub mod api_key;
pub mod idp;
pub mod ldap;
pub mod mapping;
pub mod oidc;
pub mod password;
pub mod password_signin;
pub mod rate_limit;
pub mod revocation;
pub mod session;
pub mod trusted_header;

use crate::error::{Error, Result};
use crate::state::AppState;
use crate::store::users::User;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use std::sync::Arc;
use tessera_shared::{AuthMethod, Role, SessionUser};

/// Longest bearer credential accepted, in bytes.
pub const MAX_CREDENTIAL_BYTES: usize = 16 * 1024;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The account, as of this request.
    pub user: Arc<User>,
    /// How the caller was authenticated.
    pub method: AuthMethod,
    /// The bearer credential as presented.
    pub token: String,
    /// The token id, when it has one (revocable).
    pub jti: Option<String>,
    /// When the credential expires (Unix seconds); `None`: never.
    pub expires_at: Option<i64>,
    /// For IdP tokens: the issuer's name.
    pub issuer: Option<String>,
    /// For IdP tokens: the subject at that issuer.
    pub subject: Option<String>,
    /// For IdP tokens: claims copied by the issuer's `claim_mappings`.
    pub metadata: Option<Arc<std::collections::BTreeMap<String, String>>>,
}

impl Principal {
    /// The `SessionUser` body for this caller.
    pub fn session_user(&self) -> SessionUser {
        let mut body = session_user(&self.user, self.token.clone(), self.expires_at, self.method);
        if self.issuer.is_some() {
            body.issuer = self.issuer.clone();
            body.subject = self.subject.clone();
        }
        if let Some(m) = &self.metadata {
            body.metadata = m.as_ref().clone();
        }
        body
    }
}

/// Builds the `SessionUser` body; `issuer` and `subject` are the account's
/// source and subject there (none for local accounts).
pub fn session_user(
    user: &User,
    token: String,
    expires_at: Option<i64>,
    method: AuthMethod,
) -> SessionUser {
    SessionUser {
        id: user.id.clone(),
        email: user.email.clone(),
        name: user.name.clone(),
        role: user.role,
        profile_image_url: user.profile_image_url.clone(),
        token,
        token_type: "Bearer".into(),
        expires_at,
        auth_method: method,
        // the account's own source, so a session minted for an external
        // account still says who vouched for it
        issuer: (user.source != "local").then(|| user.source.clone()),
        subject: user.subject.clone(),
        groups: user.groups.clone(),
        metadata: Default::default(),
    }
}

/// One way to authenticate a bearer credential.
#[async_trait::async_trait]
pub trait BearerAuthenticator: Send + Sync + 'static {
    /// Whether this credential is of this method's kind: a cheap look, no
    /// cryptography. The first authenticator that recognises a credential
    /// decides; it never falls through to the next.
    fn recognises(&self, credential: &str) -> bool;
    /// Verifies the credential fully and finds its user.
    async fn authenticate(&self, credential: &str, state: &AppState) -> Result<Principal>;
}

/// Any authenticated caller, whatever the role (`pending` included).
#[derive(Debug, Clone)]
pub struct AuthUser(pub Principal);

/// A caller whose role is `user` or `admin`.
#[derive(Debug, Clone)]
pub struct ActiveUser(pub Principal);

/// A caller whose role is `admin`.
#[derive(Debug, Clone)]
pub struct AdminUser(pub Principal);

/// The bearer credential of a request: `Ok(None)` when there is none.
fn bearer(parts: &Parts) -> Result<Option<&str>> {
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| Error::InvalidToken("authorization header is not visible ASCII"))?;
    let (scheme, credential) = value
        .split_once(' ')
        .ok_or(Error::InvalidToken("authorization header has no scheme"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Error::InvalidToken("authorization scheme is not Bearer"));
    }
    if credential.is_empty() || credential.len() > MAX_CREDENTIAL_BYTES || credential.contains(' ')
    {
        return Err(Error::InvalidToken(
            "bearer credential is empty, too long or malformed",
        ));
    }
    Ok(Some(credential))
}

/// Authenticates a request's credentials; `Ok(None)` when it carries none.
/// Without a bearer credential, the headers of a trusted proxy are asked
/// (when `[trusted_header]` is configured).
pub async fn authenticate(parts: &Parts, state: &AppState) -> Result<Option<Principal>> {
    let Some(credential) = bearer(parts)? else {
        return match &state.trusted_header {
            Some(th) => th.authenticate(parts, state).await,
            None => Ok(None),
        };
    };
    let authenticator = state
        .authenticators
        .iter()
        .find(|a| a.recognises(credential))
        .ok_or(Error::InvalidToken("credential of no known kind"))?;
    authenticator
        .authenticate(credential, state)
        .await
        .map(Some)
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(AuthUser(principal.clone()));
        }
        let principal = authenticate(parts, state)
            .await?
            .ok_or(Error::NotAuthenticated)?;
        parts.extensions.insert(principal.clone());
        Ok(AuthUser(principal))
    }
}

impl FromRequestParts<AppState> for ActiveUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let AuthUser(p) = AuthUser::from_request_parts(parts, state).await?;
        if p.user.role < Role::User {
            return Err(Error::Forbidden(
                tessera_shared::error::detail::ACCESS_PROHIBITED,
            ));
        }
        Ok(ActiveUser(p))
    }
}

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let AuthUser(p) = AuthUser::from_request_parts(parts, state).await?;
        if p.user.role != Role::Admin {
            return Err(Error::Forbidden(
                tessera_shared::error::detail::ACCESS_PROHIBITED,
            ));
        }
        Ok(AdminUser(p))
    }
}
