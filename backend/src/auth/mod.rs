//! Who is calling. Each way to authenticate a bearer credential is one module
//! behind [`BearerAuthenticator`]; the [`AuthUser`] extractor asks them in
//! order and yields a [`Principal`]. Role checks are extractors too
//! ([`ActiveUser`], [`AdminUser`]), never `if`s in handlers.
pub mod api_key;
pub mod idp;
pub mod ldap;
pub mod memo;
pub mod mint;
pub mod oidc;
pub mod password;
pub mod password_signin;
pub mod policy;
pub mod rate_limit;
pub mod revocation;
pub mod session;
pub mod trusted_header;
pub mod verified_cache;

use crate::domain::User;
use crate::error::{Error, Result};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use memo::Answer;
use std::sync::Arc;
use tessera_shared::{AuthMethod, Role, SessionUser};

/// Longest bearer credential accepted, in bytes.
pub const MAX_CREDENTIAL_BYTES: usize = 16 * 1024;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The account, as of this request.
    pub user: Arc<User>,
    /// What kind of credential it presented: what it may do
    /// ([`policy`]).
    pub kind: policy::CredentialKind,
    /// How the caller was authenticated (as the wire says it).
    pub method: AuthMethod,
    /// The bearer credential as presented (shared with the verified-token
    /// cache entry it was found in, when there is one).
    pub token: Arc<str>,
    /// The token id, when it has one (revocable).
    pub jti: Option<Arc<str>>,
    /// When the credential expires (Unix seconds); `None`: never.
    pub expires_at: Option<i64>,
    /// For IdP tokens: the issuer's name.
    pub issuer: Option<Arc<str>>,
    /// For IdP tokens: the subject at that issuer.
    pub subject: Option<Arc<str>>,
    /// For IdP tokens: claims copied by the issuer's `claim_mappings`.
    pub metadata: Option<Arc<std::collections::BTreeMap<String, String>>>,
    /// What the requests of this credential share (its verified-token cache
    /// entry's or API key's), when it has one.
    pub memo: Option<Arc<memo::CredentialMemo>>,
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
            body.issuer = self.issuer.as_deref().map(Into::into);
            body.subject = self.subject.as_deref().map(Into::into);
        }
        if let Some(m) = &self.metadata {
            body.metadata = m.as_ref().clone();
        }
        body
    }

    /// [`Principal::session_user`] as JSON (`GET /api/v1/auths/`'s body):
    /// rendered once per version of the account and then shared by the
    /// credential's requests when it has a memo ([`memo`]); for a
    /// credential that must not be kept in the clear (an API key) only the
    /// parts around it are kept.
    pub fn session_answer(&self) -> serde_json::Result<Bytes> {
        let Some(memo) = self.memo.as_deref() else {
            return Ok(self.session_user_ref().to_json()?.into());
        };
        let answer = match memo.answer(&self.user) {
            Some(answer) => answer,
            None => {
                let body = self.session_user_ref();
                let answer = if memo.keeps_token() {
                    Answer::Whole(body.to_json()?.into())
                } else {
                    let (head, tail) = body.to_json_around_token()?;
                    Answer::Around(head.into(), tail.into())
                };
                memo.set_answer(&self.user, &answer);
                answer
            }
        };
        Ok(match answer {
            Answer::Whole(body) => body,
            Answer::Around(head, tail) => {
                let mut b = Vec::with_capacity(head.len() + self.token.len() + 2 + tail.len());
                b.extend_from_slice(&head);
                json_str(&mut b, &self.token)?;
                b.extend_from_slice(&tail);
                b.into()
            }
        })
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
            id: &u.id,
            email: &u.email,
            name: &u.name,
            role: u.role,
            profile_image_url: &u.profile_image_url,
            token: &self.token,
            expires_at: self.expires_at,
            auth_method: self.method,
            issuer,
            subject,
            groups: &u.groups,
            metadata: self.metadata.as_deref().filter(|m| !m.is_empty()),
        }
    }
}

/// [`SessionUser`]'s wire form, borrowed: the same fields in the same order,
/// written as `serde_json` writes a `SessionUser` (unit tests compare the
/// bytes).
pub struct SessionUserRef<'a> {
    id: &'a str,
    email: &'a str,
    name: &'a str,
    role: Role,
    profile_image_url: &'a str,
    token: &'a str,
    expires_at: Option<i64>,
    auth_method: AuthMethod,
    issuer: Option<&'a str>,
    subject: Option<&'a str>,
    groups: &'a [String],
    metadata: Option<&'a std::collections::BTreeMap<String, String>>,
}

/// Appends `s` as a JSON string, as `serde_json` writes it. A string with
/// nothing to escape (the usual case: tokens are visible ASCII) is copied as
/// it is, after one scan the compiler vectorises, instead of serde_json's
/// byte-by-byte escaping (~10 instructions a byte).
fn json_str(buf: &mut Vec<u8>, s: &str) -> serde_json::Result<()> {
    // a fold without early exit, so the compiler vectorises the scan;
    // serde_json escapes exactly these bytes
    let escaped = s.bytes().fold(false, |acc, b| {
        acc | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if escaped {
        return serde_json::to_writer(buf, s);
    }
    buf.reserve(s.len() + 2);
    buf.push(b'"');
    buf.extend_from_slice(s.as_bytes());
    buf.push(b'"');
    Ok(())
}

impl SessionUserRef<'_> {
    /// The compact JSON object, as `serde_json::to_vec` writes a
    /// `SessionUser`: every field in order, optional ones left out as
    /// `SessionUser`'s `serde` attributes leave them out.
    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(384 + self.token.len() + self.profile_image_url.len());
        self.write_head(&mut buf)?;
        json_str(&mut buf, self.token)?;
        self.write_tail(&mut buf)?;
        Ok(buf)
    }

    /// [`SessionUserRef::to_json`] in two parts, without the token: what
    /// comes before its JSON string and what comes after.
    pub fn to_json_around_token(&self) -> serde_json::Result<(Vec<u8>, Vec<u8>)> {
        let mut head = Vec::with_capacity(256 + self.profile_image_url.len());
        self.write_head(&mut head)?;
        let mut tail = Vec::with_capacity(128);
        self.write_tail(&mut tail)?;
        Ok((head, tail))
    }

    /// Every field before the token's value, up to `"token":`.
    fn write_head(&self, b: &mut Vec<u8>) -> serde_json::Result<()> {
        b.extend_from_slice(b"{\"id\":");
        json_str(b, self.id)?;
        b.extend_from_slice(b",\"email\":");
        json_str(b, self.email)?;
        b.extend_from_slice(b",\"name\":");
        json_str(b, self.name)?;
        b.extend_from_slice(b",\"role\":");
        serde_json::to_writer(&mut *b, &self.role)?;
        b.extend_from_slice(b",\"profile_image_url\":");
        json_str(b, self.profile_image_url)?;
        b.extend_from_slice(b",\"token\":");
        Ok(())
    }

    /// Every field after the token's value, to the closing brace.
    fn write_tail(&self, b: &mut Vec<u8>) -> serde_json::Result<()> {
        b.extend_from_slice(b",\"token_type\":\"Bearer\",\"expires_at\":");
        serde_json::to_writer(&mut *b, &self.expires_at)?;
        b.extend_from_slice(b",\"auth_method\":");
        serde_json::to_writer(&mut *b, &self.auth_method)?;
        if let Some(issuer) = self.issuer {
            b.extend_from_slice(b",\"issuer\":");
            json_str(b, issuer)?;
        }
        if let Some(subject) = self.subject {
            b.extend_from_slice(b",\"subject\":");
            json_str(b, subject)?;
        }
        b.extend_from_slice(b",\"groups\":[");
        for (i, g) in self.groups.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            json_str(b, g)?;
        }
        b.push(b']');
        if let Some(metadata) = self.metadata {
            b.extend_from_slice(b",\"metadata\":");
            serde_json::to_writer(&mut *b, metadata)?;
        }
        b.push(b'}');
        Ok(())
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
    /// Verifies the credential fully and finds its user; `parts`: the
    /// request's head (who is asking, for limits on costly failures).
    async fn authenticate(
        &self,
        credential: &str,
        parts: &Parts,
        state: &AppState,
    ) -> Result<Principal>;
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
    let bytes = value.as_bytes();
    // the usual header, in one pass without early exit that the compiler
    // vectorises: `Bearer ` and a credential of visible ASCII (no space) or
    // tabs — `HeaderValue::to_str` would look at a ~1 KB token a byte at a
    // time; anything else takes the path below, which says what is wrong
    if let Some((scheme, credential)) = bytes.split_at_checked(7) {
        let plain = credential.iter().fold(true, |ok, &b| {
            ok & ((b.wrapping_sub(0x21) <= 0x7e - 0x21) | (b == b'\t'))
        });
        if plain
            && !credential.is_empty()
            && credential.len() <= MAX_CREDENTIAL_BYTES
            && scheme.eq_ignore_ascii_case(b"bearer ")
        {
            if let Ok(credential) = std::str::from_utf8(credential) {
                return Ok(Some(credential));
            }
        }
    }
    let value = value
        .to_str()
        .map_err(|_| Error::InvalidToken("authorization header is not visible ASCII"))?;
    let (scheme, credential) = value
        .split_once(' ')
        .ok_or_else(|| Error::InvalidToken("authorization header has no scheme"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Error::InvalidToken("authorization scheme is not Bearer"));
    }
    if credential.is_empty() || credential.len() > MAX_CREDENTIAL_BYTES || has_space(credential) {
        return Err(Error::InvalidToken(
            "bearer credential is empty, too long or malformed",
        ));
    }
    Ok(Some(credential))
}

/// Whether `s` holds a space: one pass without early exit, which the
/// compiler vectorises (a bearer token is ~1 KB; `str::contains` scans it a
/// word at a time).
fn has_space(s: &str) -> bool {
    s.bytes().fold(false, |acc, b| acc | (b == b' '))
}

/// Authenticates a request's credentials; `Ok(None)` when it carries none.
/// Without a bearer credential, the headers of a trusted proxy are asked
/// (when `[trusted_header]` is configured).
pub async fn authenticate(parts: &Parts, state: &AppState) -> Result<Option<Principal>> {
    let Some(credential) = bearer(parts)? else {
        return match &state.trusted_header {
            Some(th) => {
                state.replica.check()?;
                th.authenticate(parts, state).await
            }
            None => Ok(None),
        };
    };
    // several replicas: refuse while this one may have missed a revocation
    // or a change to a user or key (fail closed)
    state.replica.check()?;
    let authenticator = state
        .authenticators
        .iter()
        .find(|a| a.recognises(credential))
        .ok_or_else(|| Error::InvalidToken("credential of no known kind"))?;
    authenticator
        .authenticate(credential, parts, state)
        .await
        .map(Some)
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = Error;

    /// Authenticates the request each time it is asked: a handler takes one
    /// of these extractors once (a copy kept in the request's extensions
    /// would cost every request a clone, an allocation and a map insert).
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let principal = authenticate(parts, state)
            .await?
            .ok_or_else(|| Error::NotAuthenticated)?;
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
        policy::require(p.kind, policy::Action::Admin)?;
        Ok(AdminUser(p))
    }
}

#[cfg(test)]
mod tests {
    use super::memo::CredentialMemo;
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
            epoch: 1,
            signed_out_at: None,
        })
    }

    /// The bearer credential, and each way a header is refused.
    #[test]
    fn bearer_credentials() {
        let parse = |v: &[u8]| {
            let req = axum::http::Request::builder()
                .header(
                    AUTHORIZATION,
                    axum::http::HeaderValue::from_bytes(v).unwrap(),
                )
                .body(())
                .unwrap();
            bearer(&req.into_parts().0).map(|c| c.map(str::to_owned))
        };
        assert_eq!(parse(b"Bearer a.b.c").unwrap().as_deref(), Some("a.b.c"));
        assert_eq!(parse(b"bEaReR sk-x").unwrap().as_deref(), Some("sk-x"));
        assert_eq!(parse(b"Bearer a\tb").unwrap().as_deref(), Some("a\tb"));
        // the fast path answers exactly as the general one (`to_str`, split
        // at the first space, no space in the credential) for every byte
        // value at the scheme's last character and the three places after
        // it, after each of five scheme spellings
        let general = |v: &[u8]| -> std::result::Result<String, &'static str> {
            let hv = axum::http::HeaderValue::from_bytes(v).unwrap();
            let s = hv
                .to_str()
                .map_err(|_| "authorization header is not visible ASCII")?;
            let (scheme, cred) = s
                .split_once(' ')
                .ok_or("authorization header has no scheme")?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err("authorization scheme is not Bearer");
            }
            if cred.is_empty() || cred.len() > MAX_CREDENTIAL_BYTES || cred.contains(' ') {
                return Err("bearer credential is empty, too long or malformed");
            }
            Ok(cred.to_owned())
        };
        let mut compared = 0;
        for prefix in [
            &b"Bearer "[..],
            b"bEARER ",
            b"Bearer",
            b"Bearex ",
            b"Bearer\t",
        ] {
            for at in 0..4 {
                for b in 0..=255u8 {
                    let mut v = prefix.to_vec();
                    v.extend_from_slice(b"abc");
                    v.insert(prefix.len().saturating_sub(1) + at, b);
                    if axum::http::HeaderValue::from_bytes(&v).is_err() {
                        continue; // not a header value at all (CR, LF, NUL)
                    }
                    let got = match parse(&v) {
                        Ok(c) => Ok(c.unwrap()),
                        Err(Error::InvalidToken(r)) => Err(r),
                        Err(e) => panic!("{e:?}"),
                    };
                    assert_eq!(got, general(&v), "{v:?}");
                    compared += 1;
                }
            }
        }
        assert!(compared > 4000);
        for (bad, why) in [
            (
                &b"Bearer a\xffb"[..],
                "authorization header is not visible ASCII",
            ),
            (b"Bearer", "authorization header has no scheme"),
            (b"Basic abc", "authorization scheme is not Bearer"),
            (
                b"Bearer ",
                "bearer credential is empty, too long or malformed",
            ),
            (
                b"Bearer a b",
                "bearer credential is empty, too long or malformed",
            ),
            (
                b"Bearer  ab",
                "bearer credential is empty, too long or malformed",
            ),
        ] {
            match parse(bad) {
                Err(Error::InvalidToken(r)) => assert_eq!(r, why, "{bad:?}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        let long = format!("Bearer {}", "a".repeat(MAX_CREDENTIAL_BYTES + 1));
        assert!(parse(long.as_bytes()).is_err());
        let req = axum::http::Request::builder().body(()).unwrap();
        assert!(bearer(&req.into_parts().0).unwrap().is_none());
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
                    kind: policy::CredentialKind::Session,
                    method,
                    token: token.into(),
                    jti: None,
                    expires_at: exp,
                    issuer: issuer.map(Into::into),
                    subject: subject.map(Into::into),
                    metadata,
                    memo: None,
                };
                let want = serde_json::to_vec(&p.session_user()).unwrap();
                let got = p.session_user_ref().to_json().unwrap();
                assert_eq!(
                    String::from_utf8(got).unwrap(),
                    String::from_utf8(want.clone()).unwrap()
                );
                // the shared answer: whole, or around a secret token; the
                // same bytes when rendered and when taken from the memo
                assert_eq!(p.session_answer().unwrap(), want);
                for memo in [CredentialMemo::default(), CredentialMemo::for_secret()] {
                    let memo = Arc::new(memo);
                    memo.set_user(7, &p.user);
                    let p = Principal {
                        memo: Some(memo.clone()),
                        ..p.clone()
                    };
                    assert!(p.session_answer().unwrap() == want, "rendered");
                    assert!(memo.answer(&p.user).is_some(), "kept");
                    assert!(p.session_answer().unwrap() == want, "from the memo");
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 25);
        // every role, and escapes in the other string fields
        for role in [Role::Pending, Role::User, Role::Admin] {
            let mut u = (*user("local", None, &["\\"])).clone();
            u.role = role;
            u.email = "a\"b@example.com".into();
            u.profile_image_url = "x\ny".into();
            let p = Principal {
                user: Arc::new(u),
                kind: policy::CredentialKind::Session,
                method: AuthMethod::Session,
                token: "t".into(),
                jti: None,
                expires_at: None,
                issuer: None,
                subject: None,
                metadata: None,
                memo: None,
            };
            let want = serde_json::to_vec(&p.session_user()).unwrap();
            assert_eq!(p.session_user_ref().to_json().unwrap(), want);
        }
    }
}
