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
pub mod verified_cache;

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
    /// The bearer credential as presented (shared: the principal is cloned
    /// into the request's extensions and the handler's extractor).
    pub token: Arc<str>,
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
        let mut body = session_user(
            &self.user,
            self.token.to_string(),
            self.expires_at,
            self.method,
        );
        if self.issuer.is_some() {
            body.issuer = self.issuer.clone();
            body.subject = self.subject.clone();
        }
        if let Some(m) = &self.metadata {
            body.metadata = m.as_ref().clone();
        }
        body
    }

    /// The same body as [`Principal::session_user`], borrowed: serialises to
    /// the same bytes without copying the token, the user's fields or the
    /// claims.
    pub fn session_user_ref(&self) -> SessionUserRef<'_> {
        let u = &*self.user;
        let (issuer, subject) = if self.issuer.is_some() {
            (self.issuer.as_deref(), self.subject.as_deref())
        } else {
            (
                (u.source != "local").then_some(u.source.as_str()),
                u.subject.as_deref(),
            )
        };
        SessionUserRef {
            head: SessionUserHead {
                id: &u.id,
                email: &u.email,
                name: &u.name,
                role: u.role,
                profile_image_url: &u.profile_image_url,
            },
            token: &self.token,
            tail: SessionUserTail {
                token_type: "Bearer",
                expires_at: self.expires_at,
                auth_method: self.method,
                issuer,
                subject,
                groups: &u.groups,
                metadata: self.metadata.as_deref(),
            },
        }
    }
}

/// [`SessionUser`]'s wire form, borrowed: the same fields in the same order
/// with the same `serde` attributes, so the same JSON (unit tests compare the
/// bytes with `SessionUser`'s).
pub struct SessionUserRef<'a> {
    head: SessionUserHead<'a>,
    token: &'a str,
    tail: SessionUserTail<'a>,
}

/// The fields before `token`.
#[derive(serde::Serialize)]
struct SessionUserHead<'a> {
    id: &'a str,
    email: &'a str,
    name: &'a str,
    role: Role,
    profile_image_url: &'a str,
}

/// The fields after `token`.
#[derive(serde::Serialize)]
struct SessionUserTail<'a> {
    token_type: &'static str,
    expires_at: Option<i64>,
    auth_method: AuthMethod,
    #[serde(skip_serializing_if = "Option::is_none")]
    issuer: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    groups: &'a [String],
    #[serde(skip_serializing_if = "no_metadata")]
    metadata: Option<&'a std::collections::BTreeMap<String, String>>,
}

fn no_metadata(m: &Option<&std::collections::BTreeMap<String, String>>) -> bool {
    m.is_none_or(|m| m.is_empty())
}

impl SessionUserRef<'_> {
    /// The compact JSON object, as `serde_json::to_vec` writes a
    /// `SessionUser`. The token (up to 16 KB, most of the body) is copied as
    /// it is when it holds nothing JSON escapes (it never does: bearer
    /// credentials are visible ASCII), instead of through serde_json's
    /// byte-by-byte escaping.
    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(512 + self.token.len());
        serde_json::to_writer(&mut buf, &self.head)?;
        buf.pop(); // the head's `}`
        buf.extend_from_slice(b",\"token\":");
        // a fold without early exit, so the compiler vectorises the scan
        let escaped = self.token.bytes().fold(false, |acc, b| {
            acc | (b < 0x20) | (b == b'"') | (b == b'\\')
        });
        if !escaped {
            buf.push(b'"');
            buf.extend_from_slice(self.token.as_bytes());
            buf.push(b'"');
        } else {
            serde_json::to_writer(&mut buf, self.token)?;
        }
        let tail = buf.len();
        serde_json::to_writer(&mut buf, &self.tail)?;
        buf[tail] = b','; // the tail's `{`
        Ok(buf)
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
    /// Drops every cached verification (another replica may have changed
    /// what they relied on). Nothing by default.
    fn forget_all(&self) {}
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
            Some(th) => {
                state.cluster.check()?;
                th.authenticate(parts, state).await
            }
            None => Ok(None),
        };
    };
    // several replicas: refuse while this one may have missed a revocation
    // or a change to a user or key (fail closed)
    state.cluster.check()?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn user(source: &str, subject: Option<&str>, groups: &[&str]) -> Arc<User> {
        Arc::new(User {
            id: "u-1".into(),
            email: "ada@example.com".into(),
            name: "Ada \"the\" Lovelace\\ ü \u{1}".into(),
            role: Role::User,
            profile_image_url: "data:image/png;base64,AAA=".into(),
            source: source.into(),
            subject: subject.map(Into::into),
            groups: groups.iter().map(|g| (*g).into()).collect(),
            permissions: vec![],
            created_at: 1,
        })
    }

    /// The borrowed body serialises to exactly `SessionUser`'s bytes, for
    /// every shape of principal and for tokens that need escaping.
    #[test]
    fn borrowed_session_body_has_the_same_bytes() {
        let metadata = Arc::new(BTreeMap::from([(
            "dept".to_owned(),
            "R&D \"x\"".to_owned(),
        )]));
        let tokens = ["", "eyJ.eyJ.sig-_", "sk-abc", "a\"b\\c\u{7}d", "ünï"];
        let mut checked = 0;
        for token in tokens {
            for (user, method, issuer, subject, metadata, exp) in [
                (
                    user("local", None, &[]),
                    AuthMethod::Session,
                    None,
                    None,
                    None,
                    Some(5),
                ),
                (
                    user("local", None, &["g1", "g\"2"]),
                    AuthMethod::ApiKey,
                    None,
                    None,
                    None,
                    None,
                ),
                (
                    user("ldap", Some("cn=ada"), &["g1"]),
                    AuthMethod::TrustedHeader,
                    None,
                    None,
                    None,
                    None,
                ),
                (
                    user("kc", Some("sub-1"), &[]),
                    AuthMethod::Jwt,
                    Some("kc"),
                    Some("sub-1"),
                    Some(metadata.clone()),
                    Some(-3),
                ),
                (
                    user("kc", None, &[]),
                    AuthMethod::Jwt,
                    Some("kc"),
                    None,
                    Some(Arc::new(BTreeMap::new())),
                    Some(i64::MAX),
                ),
            ] {
                let p = Principal {
                    user,
                    method,
                    token: token.into(),
                    jti: None,
                    expires_at: exp,
                    issuer: issuer.map(Into::into),
                    subject: subject.map(Into::into),
                    metadata,
                };
                let want = serde_json::to_vec(&p.session_user()).unwrap();
                let got = p.session_user_ref().to_json().unwrap();
                assert_eq!(
                    String::from_utf8(got).unwrap(),
                    String::from_utf8(want).unwrap()
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 25);
    }
}
