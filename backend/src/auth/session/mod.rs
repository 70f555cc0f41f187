//! Tessera's own session tokens: HS256 JWTs signed with the session secret,
//! carrying `iss`, `sub` (user id), `iat`, `exp` where it applies and a unique
//! `jti`. The header's `kid` marks them as Tessera's: every session token
//! starts with the same encoded header, so recognising one is a prefix
//! compare. A token that passed every check is kept in a verified-token cache
//! (by a keyed hash of the whole token, checked against the stored token in
//! constant time, until its `exp`: [`super::verified_cache`]), so a repeated
//! token costs a hash, a look-up and a compare instead of the HMAC and the
//! claim parse; a hit still re-checks time, revocation and the user.
use super::account::Accounts;
use super::grant::GrantCheck;
use super::memo::CredentialMemo;
use super::policy::CredentialKind;
use super::verified_cache::{Entry, Slot, VerifiedCache};
use super::{BearerAuthenticator, Principal};
use crate::clock::Clock;
use crate::config::ExpiresIn;
use crate::domain::User;
use crate::error::{Error, Result};
use axum::http::request::Parts;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tessera_shared::{AuthMethod, EmbedGrant};

/// The `kid` in every session token's header.
pub const SESSION_KID: &str = "tessera-session";
/// A single-use token must be used within this many seconds.
pub const SINGLE_USE_TTL_SECS: i64 = 300;
/// How far in the future `iat` may be (clock skew between replicas).
const IAT_SKEW_SECS: i64 = 60;

/// The header of every session token.
fn session_header() -> Header {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(SESSION_KID.into());
    header
}

/// The first segment of every session token and its dot, encoded exactly as
/// [`SessionKeys::issue`] encodes it.
pub fn session_token_prefix() -> Result<String> {
    let json = serde_json::to_vec(&session_header())
        .map_err(|e| anyhow::anyhow!("encoding the session token header: {e}"))?;
    Ok(format!(
        "{}.",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    ))
}

/// The time checks of a session token, the same on a cache hit as on a full
/// verification: not expired (`exp` == now is expired, no leeway), not issued
/// in the future beyond the skew.
fn check_time(exp: Option<i64>, iat: i64, now: i64) -> Result<()> {
    if exp.is_some_and(|exp| now >= exp) {
        return Err(Error::InvalidToken("session token expired"));
    }
    if iat > now.saturating_add(IAT_SKEW_SECS) {
        return Err(Error::InvalidToken("session token issued in the future"));
    }
    Ok(())
}

/// The claims of a session token. Every field is typed: a token whose claim
/// has the wrong JSON type fails to decode.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionClaims {
    /// Tessera's public URL.
    pub iss: String,
    /// User id.
    pub sub: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expiry (Unix seconds); absent when the token never expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Unique id, for revocation.
    pub jti: String,
    /// Valid for one authenticated request only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub single_use: bool,
    /// The user's token epoch at issue: the token works only while the
    /// user's epoch is still this one (0: tokens issued before epochs).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ep: i64,
    /// Minted from another credential ([`CredentialKind::ExchangedSession`]):
    /// may not mint another session.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exchanged: bool,
    /// The revocation id of the credential it was minted from, when that
    /// one has one: revoking it ends this session too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// Lives as long as the identity provider's grant it was signed in
    /// with, which the server renews ([`GrantCheck`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub grant: bool,
    /// Redeemed from an embed ticket ([`CredentialKind::EmbedSession`]):
    /// what it may reach. Signed like every claim, so it cannot be widened
    /// or removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emb: Option<EmbedGrant>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl SessionClaims {
    /// What kind of credential a token with these claims is.
    pub fn kind(&self) -> CredentialKind {
        if self.emb.is_some() {
            CredentialKind::EmbedSession
        } else if self.single_use {
            CredentialKind::SingleUseSession
        } else if self.exchanged {
            CredentialKind::ExchangedSession
        } else {
            CredentialKind::Session
        }
    }
}

/// Where a new session comes from.
#[derive(Debug, Clone, Copy)]
pub enum Origin<'a> {
    /// A sign-in (password, LDAP, SSO); `not_after`: it ends no later than
    /// this (an SSO provider's token lifetime).
    SignIn {
        /// Unix seconds.
        not_after: Option<i64>,
        /// What else revokes it: the provider session it was signed in
        /// through ([`crate::auth::revocation::provider_session`]).
        src: Option<&'a str>,
        /// It lives as long as the provider's grant ([`GrantCheck`]).
        grant: bool,
    },
    /// Minted from another credential that ends at `ends` (`None`: no end of
    /// its own) and is revoked by `revocation_id`, when it can be: capped by
    /// both and by `[session] exchanged_expires_in`.
    Exchange {
        /// Unix seconds.
        ends: Option<i64>,
        /// The source's `jti` (or the id it is revoked by).
        revocation_id: Option<&'a str>,
    },
}

/// Signs and verifies session tokens.
pub struct SessionKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    lifetime: ExpiresIn,
    exchanged_max_secs: u64,
}

impl SessionKeys {
    /// Keys from the secret; tokens issued by `issuer` living `lifetime`;
    /// sessions minted from another credential at most `exchanged_max_secs`.
    pub fn new(
        secret: &[u8],
        issuer: String,
        lifetime: ExpiresIn,
        exchanged_max_secs: u64,
    ) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked against Tessera's clock below, without leeway.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["iss", "sub"]);
        validation.set_issuer(&[issuer.as_str()]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer,
            lifetime,
            exchanged_max_secs,
        }
    }

    /// A new token for `user` after a sign-in, and its claims.
    pub fn issue(&self, user: &User, now: i64) -> Result<(String, SessionClaims)> {
        self.mint(
            user,
            now,
            Origin::SignIn {
                not_after: None,
                src: None,
                grant: false,
            },
        )
    }

    /// A new token for `user` from `origin`, and its claims: `[session]
    /// expires_in` applies, and an exchanged session ends no later than its
    /// source and `[session] exchanged_expires_in`.
    pub fn mint(
        &self,
        user: &User,
        now: i64,
        origin: Origin<'_>,
    ) -> Result<(String, SessionClaims)> {
        let (not_after, exchanged, src, grant) = match origin {
            Origin::SignIn {
                not_after,
                src,
                grant,
            } => (not_after, false, src.map(str::to_owned), grant),
            Origin::Exchange {
                ends,
                revocation_id,
            } => (
                Some(super::policy::minted_expiry(
                    now,
                    ends,
                    self.exchanged_max_secs,
                )),
                true,
                revocation_id.map(str::to_owned),
                false,
            ),
        };
        let (exp, single_use) = match self.lifetime {
            ExpiresIn::Never => (None, false),
            ExpiresIn::SingleUse => (Some(now + SINGLE_USE_TTL_SECS), true),
            ExpiresIn::For(d) => (Some(now.saturating_add(d.as_secs() as i64)), false),
        };
        let exp = match (exp, not_after) {
            (Some(e), Some(n)) => Some(e.min(n)),
            (e, n) => e.or(n),
        };
        let claims = SessionClaims {
            iss: self.issuer.clone(),
            sub: user.id.clone(),
            iat: now,
            exp,
            jti: uuid::Uuid::new_v4().to_string(),
            single_use,
            ep: user.epoch,
            exchanged,
            src,
            grant,
            emb: None,
        };
        self.sign(claims)
    }

    /// A new embed session for `user`, reaching only what `grant` names,
    /// ending at `exp` and revoked with `src` (what minted its ticket).
    pub fn mint_embed(
        &self,
        user: &User,
        now: i64,
        exp: i64,
        src: Option<String>,
        grant: EmbedGrant,
    ) -> Result<(String, SessionClaims)> {
        self.sign(SessionClaims {
            iss: self.issuer.clone(),
            sub: user.id.clone(),
            iat: now,
            exp: Some(exp),
            jti: uuid::Uuid::new_v4().to_string(),
            single_use: false,
            ep: user.epoch,
            exchanged: false,
            src,
            grant: false,
            emb: Some(grant),
        })
    }

    fn sign(&self, claims: SessionClaims) -> Result<(String, SessionClaims)> {
        let token = jsonwebtoken::encode(&session_header(), &claims, &self.encoding)
            .map_err(|e| anyhow::anyhow!("signing a session token: {e}"))?;
        Ok((token, claims))
    }

    /// The longest a session lives, in seconds; `None` when sessions never
    /// expire.
    pub fn longest_life_secs(&self) -> Option<i64> {
        match self.lifetime {
            ExpiresIn::Never => None,
            ExpiresIn::SingleUse => Some(SINGLE_USE_TTL_SECS),
            ExpiresIn::For(d) => Some(d.as_secs().min(i64::MAX as u64) as i64),
        }
    }

    /// Checks signature (HS256 only), issuer, claim types and expiry.
    pub fn verify(&self, token: &str, now: i64) -> Result<SessionClaims> {
        let data = jsonwebtoken::decode::<SessionClaims>(token, &self.decoding, &self.validation)
            .map_err(|_| {
            Error::InvalidToken("session token failed signature or claim checks")
        })?;
        let claims = data.claims;
        if claims.iss != self.issuer {
            return Err(Error::InvalidToken("session token from another issuer"));
        }
        check_time(claims.exp, claims.iat, now)?;
        Ok(claims)
    }
}

/// A session token that passed every check, as kept in the verified-token
/// cache. Single-use tokens are never kept.
#[derive(Debug)]
struct Verified {
    sub: String,
    jti: Arc<str>,
    iat: i64,
    exp: Option<i64>,
    single_use: bool,
    kind: CredentialKind,
    ep: i64,
    src: Option<String>,
    grant: bool,
    embed: Option<Arc<EmbedGrant>>,
    /// The account and answer this token's requests share.
    memo: Arc<CredentialMemo>,
}

impl From<SessionClaims> for Verified {
    fn from(c: SessionClaims) -> Self {
        Self {
            kind: c.kind(),
            sub: c.sub,
            jti: c.jti.into(),
            iat: c.iat,
            exp: c.exp,
            single_use: c.single_use,
            ep: c.ep,
            src: c.src,
            grant: c.grant,
            embed: c.emb.map(Arc::new),
            memo: Arc::default(),
        }
    }
}

impl super::verified_cache::Expires for Verified {
    fn ends_at(&self) -> Option<i64> {
        self.exp
    }
}

/// Authenticates Tessera session tokens.
pub struct SessionAuthenticator {
    prefix: String,
    cache: Option<VerifiedCache<Verified>>,
    keys: Arc<SessionKeys>,
    accounts: Accounts,
    clock: Arc<dyn Clock>,
    grants: Option<Arc<dyn GrantCheck>>,
}

impl SessionAuthenticator {
    /// Verifies with `keys`, against `accounts`, at the clock's time; with a
    /// cache of `cache_entries` verified tokens (0: none).
    pub fn new(
        keys: Arc<SessionKeys>,
        accounts: Accounts,
        clock: Arc<dyn Clock>,
        cache_entries: u64,
    ) -> Result<Self> {
        Ok(Self {
            prefix: session_token_prefix()?,
            cache: (cache_entries > 0).then(|| VerifiedCache::new(cache_entries)),
            keys,
            accounts,
            clock,
            grants: None,
        })
    }

    /// Sessions that live as long as a provider's grant are checked with
    /// `grants` (without, they are refused).
    pub fn with_grants(mut self, grants: Arc<dyn GrantCheck>) -> Self {
        self.grants = Some(grants);
        self
    }

    /// The verified claims of `credential` (with the token, shared): from
    /// the cache when it passed every check before (time re-checked here),
    /// else fully verified. With them comes the cache slot when the token is
    /// to be remembered once every other check passes (never for a
    /// single-use token).
    fn verified(&self, credential: &str, now: i64) -> Result<(Arc<Entry<Verified>>, Option<Slot>)> {
        let Some(cache) = &self.cache else {
            let v = self.keys.verify(credential, now)?.into();
            return Ok((Entry::new(credential, v), None));
        };
        let slot = cache.slot(credential);
        if let Some(e) = cache.get(slot, credential) {
            if let Err(err) = check_time(e.value.exp, e.value.iat, now) {
                cache.invalidate(slot);
                return Err(err);
            }
            return Ok((e, None));
        }
        let v: Verified = self.keys.verify(credential, now)?.into();
        let remember = (!v.single_use).then_some(slot);
        Ok((Entry::new(credential, v), remember))
    }
}

#[cfg(test)]
impl SessionAuthenticator {
    fn is_cached(&self, credential: &str) -> bool {
        self.cache.as_ref().is_some_and(|c| c.contains(credential))
    }
}

#[async_trait::async_trait]
impl BearerAuthenticator for SessionAuthenticator {
    fn recognises(&self, credential: &str) -> bool {
        credential.starts_with(&self.prefix)
    }

    fn forget_all(&self) {
        if let Some(cache) = &self.cache {
            cache.invalidate_all();
        }
    }

    async fn authenticate(&self, credential: &str, _parts: &Parts) -> Result<Principal> {
        let now = self.clock.now();
        let (entry, remember) = self.verified(credential, now)?;
        let claims = &entry.value;
        let user = self
            .accounts
            .holder(
                [Some(&claims.jti), claims.src.as_deref()],
                &claims.sub,
                &claims.memo,
            )
            .await?;
        if user.epoch != claims.ep {
            return Err(Error::InvalidToken(
                "session token ended (its user was signed out everywhere or deleted)",
            ));
        }
        // signed out by an identity provider (back-channel logout) after
        // this token was issued; a session of the same second stays, as it
        // may be the sign-in that followed
        if user.signed_out_at.is_some_and(|t| claims.iat < t) {
            return Err(Error::InvalidToken(
                "session token issued before its user was signed out",
            ));
        }
        if claims.grant {
            self.grants
                .as_ref()
                .ok_or(Error::InvalidToken(
                    "session token bound to a provider grant nobody here keeps",
                ))?
                .check(&claims.jti, now)
                .await?;
        }
        if claims.single_use
            && !self
                .accounts
                .revocations
                .revoke(&claims.jti, claims.exp)
                .await?
        {
            return Err(Error::InvalidToken("single-use session token already used"));
        }
        let principal = Principal {
            user,
            kind: claims.kind,
            method: AuthMethod::Session,
            token: entry.token.clone(),
            jti: Some(claims.jti.clone()),
            expires_at: claims.exp,
            issuer: None,
            subject: None,
            metadata: None,
            memo: Some(claims.memo.clone()),
            embed: claims.embed.clone(),
        };
        if let (Some(cache), Some(slot)) = (&self.cache, remember) {
            cache.insert(slot, entry);
        }
        Ok(principal)
    }
}

#[cfg(test)]
mod tests;
