//! An authenticated caller ([`Principal`]) and the `SessionUser` body that
//! describes it, rendered without copying the token.
use super::memo::{self, Answer};
use super::policy;
use crate::domain::User;
use axum::body::Bytes;
use std::sync::Arc;
use tessera_shared::{AuthMethod, Role, SessionUser};

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
    /// For an embed session: what its ticket lets it reach
    /// ([`super::embed`]).
    pub embed: Option<Arc<tessera_shared::EmbedGrant>>,
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
        body.embed = self.embed.as_deref().cloned();
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
            embed: self.embed.as_deref(),
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
    embed: Option<&'a tessera_shared::EmbedGrant>,
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
        if let Some(embed) = self.embed {
            b.extend_from_slice(b",\"embed\":");
            serde_json::to_writer(&mut *b, embed)?;
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
        embed: None,
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

    /// `p`'s borrowed body and shared answers are `SessionUser`'s bytes.
    fn same_bytes(p: &Principal) {
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
                    embed: None,
                };
                same_bytes(&p);
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
                embed: None,
            };
            let want = serde_json::to_vec(&p.session_user()).unwrap();
            assert_eq!(p.session_user_ref().to_json().unwrap(), want);
        }
    }
}
