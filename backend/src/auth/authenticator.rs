//! One small interface every way of authenticating a bearer credential
//! implements ([`BearerAuthenticator`]), and [`Authenticators`], which finds
//! a request's credential and asks them in order.
use super::principal::Principal;
use super::trusted_header::{TrustedHeaderAuthenticator, TrustedHeaders};
use crate::error::{Error, Result};
use crate::replica::ReplicaSync;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

pub use crate::config::MAX_CREDENTIAL_BYTES;

/// One way to authenticate a bearer credential.
#[async_trait::async_trait]
pub trait BearerAuthenticator: Send + Sync + 'static {
    /// Whether this credential is of this method's kind: a cheap look, no
    /// cryptography. The first authenticator that recognises a credential
    /// decides; it never falls through to the next.
    fn recognises(&self, credential: &str) -> bool;
    /// Verifies the credential fully and finds its user; `parts`: the
    /// request's head (who is asking, for limits on costly failures).
    async fn authenticate(&self, credential: &str, parts: &Parts) -> Result<Principal>;
    /// Drops every cached verification (another replica may have changed
    /// what they relied on). Nothing by default.
    fn forget_all(&self) {}
}

/// Every way a request may authenticate, asked in order.
pub struct Authenticators {
    /// Bearer authentication methods; the first that recognises a
    /// credential decides.
    pub bearer: Vec<Box<dyn BearerAuthenticator>>,
    /// Proxy trust, when `[trusted_header]` is configured: asked when a
    /// request carries no bearer credential.
    pub trusted_header: Option<TrustedHeaderAuthenticator>,
    /// Whether this replica is in step with the others.
    pub replica: ReplicaSync,
}

impl Authenticators {
    /// Authenticates a request's credentials; `Ok(None)` when it carries
    /// none.
    pub async fn authenticate(&self, parts: &Parts) -> Result<Option<Principal>> {
        let Some(credential) = bearer(parts)? else {
            return match &self.trusted_header {
                Some(th) => {
                    self.replica.check()?;
                    th.authenticate(parts).await
                }
                None => Ok(None),
            };
        };
        // several replicas: refuse while this one may have missed a
        // revocation or a change to a user or key (fail closed)
        self.replica.check()?;
        let authenticator = self
            .bearer
            .iter()
            .find(|a| a.recognises(credential))
            .ok_or_else(|| Error::InvalidToken("credential of no known kind"))?;
        let principal = authenticator.authenticate(credential, parts).await?;
        // an embed session reaches only its ticket's paths, whatever asks
        super::confine::confine(&principal, &parts.method, parts.uri.path())?;
        Ok(Some(principal))
    }

    /// The proxy trust, when `[trusted_header]` is configured.
    pub fn proxy(&self) -> Option<&TrustedHeaders> {
        self.trusted_header.as_ref().map(|t| t.headers())
    }

    /// Drops every cached verification (another replica changed something).
    pub fn forget_all(&self) {
        for a in &self.bearer {
            a.forget_all();
        }
    }
}

/// The bearer credential of a request: `Ok(None)` when there is none.
pub fn bearer(parts: &Parts) -> Result<Option<&str>> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
