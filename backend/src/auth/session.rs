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
use tessera_shared::AuthMethod;

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
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl SessionClaims {
    /// What kind of credential a token with these claims is.
    pub fn kind(&self) -> CredentialKind {
        if self.single_use {
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
        self.mint(user, now, Origin::SignIn { not_after: None })
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
        let (not_after, exchanged, src) = match origin {
            Origin::SignIn { not_after } => (not_after, false, None),
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
        };
        let token = jsonwebtoken::encode(&session_header(), &claims, &self.encoding)
            .map_err(|e| anyhow::anyhow!("signing a session token: {e}"))?;
        Ok((token, claims))
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
        })
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
        };
        if let (Some(cache), Some(slot)) = (&self.cache, remember) {
            cache.insert(slot, entry);
        }
        Ok(principal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    /// A request head from nowhere in particular.
    fn head() -> axum::http::request::Parts {
        axum::http::Request::new(()).into_parts().0
    }

    fn keys(lifetime: ExpiresIn) -> SessionKeys {
        SessionKeys::new(SECRET, "http://tessera.test".into(), lifetime, 3600)
    }

    /// A user with this id and token epoch 7.
    fn u(id: &str) -> User {
        User {
            id: id.into(),
            email: format!("{id}@example.com"),
            name: id.into(),
            role: tessera_shared::Role::User,
            profile_image_url: String::new(),
            source: "local".into(),
            subject: None,
            groups: vec![],
            permissions: vec![],
            created_at: 0,
            epoch: 7,
            signed_out_at: None,
        }
    }

    #[test]
    fn round_trip_and_expiry_at_exact_second() {
        let k = keys(ExpiresIn::For(Duration::from_secs(60)));
        let (t, c) = k.issue(&u("u1"), 1000).unwrap();
        assert_eq!(c.exp, Some(1060));
        assert_eq!(k.verify(&t, 1059).unwrap().sub, "u1");
        assert!(k.verify(&t, 1060).is_err(), "exp == now is expired");
    }

    #[test]
    fn capped_sessions_end_with_the_provider_token() {
        let k = keys(ExpiresIn::Never);
        let (_, c) = k
            .mint(
                &u("u1"),
                1000,
                Origin::SignIn {
                    not_after: Some(1300),
                },
            )
            .unwrap();
        assert_eq!(c.exp, Some(1300));
        let k = keys(ExpiresIn::For(Duration::from_secs(60)));
        let (_, c) = k
            .mint(
                &u("u1"),
                1000,
                Origin::SignIn {
                    not_after: Some(1300),
                },
            )
            .unwrap();
        assert_eq!(c.exp, Some(1060), "the shorter of the two");
        let (_, c) = k
            .mint(&u("u1"), 1000, Origin::SignIn { not_after: None })
            .unwrap();
        assert_eq!(c.exp, Some(1060));
    }

    #[test]
    fn never_expiring_has_no_exp() {
        let k = keys(ExpiresIn::Never);
        let (t, c) = k.issue(&u("u1"), 1000).unwrap();
        assert_eq!(c.exp, None);
        assert!(k.verify(&t, i64::MAX / 2).is_ok());
    }

    #[test]
    fn single_use_is_marked_and_bounded() {
        let k = keys(ExpiresIn::SingleUse);
        let (_, c) = k.issue(&u("u1"), 1000).unwrap();
        assert!(c.single_use);
        assert_eq!(c.exp, Some(1000 + SINGLE_USE_TTL_SECS));
    }

    #[test]
    fn forged_tokens_fail() {
        let k = keys(ExpiresIn::Never);
        let (t, _) = k.issue(&u("u1"), 1000).unwrap();
        // another secret
        let other = SessionKeys::new(
            b"another-secret-another-secret-xx",
            "http://tessera.test".into(),
            ExpiresIn::Never,
            3600,
        );
        let (forged, _) = other.issue(&u("u1"), 1000).unwrap();
        assert!(k.verify(&forged, 1000).is_err());
        // another issuer, same secret
        let elsewhere = SessionKeys::new(SECRET, "http://elsewhere".into(), ExpiresIn::Never, 3600);
        let (foreign, _) = elsewhere.issue(&u("u1"), 1000).unwrap();
        assert!(k.verify(&foreign, 1000).is_err());
        // tampered payload
        let mut parts: Vec<&str> = t.split('.').collect();
        let payload =
            base64_url(r#"{"iss":"http://tessera.test","sub":"admin","iat":1000,"jti":"x"}"#);
        parts[1] = &payload;
        assert!(k.verify(&parts.join("."), 1000).is_err());
        // alg none
        let none = format!(
            "{}.{}.",
            base64_url(r#"{"alg":"none","kid":"tessera-session"}"#),
            payload
        );
        assert!(k.verify(&none, 1000).is_err());
        // wrong claim type
        let typed = SessionKeys::new(SECRET, "http://tessera.test".into(), ExpiresIn::Never, 3600);
        let bad_exp = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"iss":"http://tessera.test","sub":"u1","iat":1000,"jti":"j","exp":"9999999999"}),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert!(
            typed.verify(&bad_exp, 1000).is_err(),
            "string exp must not pass"
        );
        // issued in the future
        let (future, _) = k.issue(&u("u1"), 5000).unwrap();
        assert!(k.verify(&future, 1000).is_err());
    }

    fn base64_url(s: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }

    #[tokio::test]
    async fn issued_tokens_start_with_the_prefix_and_only_they_are_recognised() {
        let f = cache::fixture(ExpiresIn::Never, 10).await;
        let auth = &f.auth;
        for lifetime in [
            ExpiresIn::Never,
            ExpiresIn::SingleUse,
            ExpiresIn::For(Duration::from_secs(60)),
        ] {
            let (t, _) = keys(lifetime).issue(&u("u1"), 1000).unwrap();
            assert!(auth.recognises(&t), "{t}");
        }
        // the same header fields in another order, or another kid, are not ours
        for header in [
            r#"{"alg":"HS256","typ":"JWT","kid":"tessera-session"}"#,
            r#"{"typ":"JWT","alg":"HS256","kid":"someone-else"}"#,
            r#"{"typ":"JWT","alg":"RS256","kid":"tessera-session"}"#,
        ] {
            assert!(!auth.recognises(&format!("{}.e30.sig", base64_url(header))));
        }
        assert!(!auth.recognises("sk-abc"));
        assert!(!auth.recognises(""));
    }

    mod cache {
        use super::*;
        use crate::auth::revocation::Revocations;
        use crate::clock::{Clock, ManualClock};
        use crate::store::users::{NewLocalUser, Users};
        use crate::store::Db;
        use tessera_shared::Role;

        const NOW: i64 = 1_900_000_000;

        /// The handles the authenticator is given, named as the
        /// application state names them.
        struct Handles {
            users: Users,
            revocations: Arc<Revocations>,
            sessions: Arc<SessionKeys>,
        }

        pub(super) struct Fixture {
            state: Handles,
            clock: Arc<ManualClock>,
            pub(super) auth: SessionAuthenticator,
            user_id: String,
            bob: Arc<User>,
            _dir: tempfile::TempDir,
        }

        pub(super) async fn fixture(lifetime: ExpiresIn, cache_entries: u64) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
            let db = Db::connect(&url).await.unwrap();
            let clock = Arc::new(ManualClock::new(NOW));
            let state = Handles {
                users: Users::new(db.clone(), 100),
                revocations: Arc::new(Revocations::load(Arc::new(db), NOW).await.unwrap()),
                sessions: Arc::new(keys(lifetime)),
            };
            for (name, email) in [("Ann", "ann@example.com"), ("Bob", "bob@example.com")] {
                state
                    .users
                    .create_local(
                        NewLocalUser {
                            name,
                            email,
                            password_hash: "x",
                            role: Role::User,
                        },
                        NOW,
                    )
                    .await
                    .unwrap();
            }
            let (bob, _) = state
                .users
                .find_local_credentials("bob@example.com")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(bob.role, Role::User);
            let accounts = Accounts {
                users: state.users.clone(),
                revocations: state.revocations.clone(),
            };
            let auth = SessionAuthenticator::new(
                state.sessions.clone(),
                accounts,
                clock.clone(),
                cache_entries,
            )
            .unwrap();
            Fixture {
                state,
                clock,
                auth,
                user_id: bob.id.clone(),
                bob,
                _dir: dir,
            }
        }

        impl Fixture {
            /// A token for Bob, used twice so the second use is a cache hit.
            async fn cached_token(&self) -> (String, SessionClaims) {
                let (t, c) = self
                    .state
                    .sessions
                    .issue(&self.bob, self.clock.now())
                    .unwrap();
                for _ in 0..2 {
                    let p = self.auth.authenticate(&t, &head()).await.unwrap();
                    assert_eq!(p.user.id, self.user_id);
                    assert_eq!(p.jti.as_deref(), Some(c.jti.as_str()));
                }
                assert!(self.auth.is_cached(&t));
                (t, c)
            }

            async fn refused(&self, token: &str) -> bool {
                matches!(
                    self.auth.authenticate(token, &head()).await,
                    Err(Error::InvalidToken(_))
                )
            }
        }

        #[tokio::test]
        async fn a_cached_token_is_refused_once_revoked() {
            let f = fixture(ExpiresIn::Never, 100).await;
            let (t, c) = f.cached_token().await;
            f.state.revocations.revoke(&c.jti, c.exp).await.unwrap();
            assert!(f.refused(&t).await);
        }

        #[tokio::test]
        async fn a_cached_token_is_refused_once_expired() {
            let f = fixture(ExpiresIn::For(Duration::from_secs(60)), 100).await;
            let (t, _) = f.cached_token().await;
            f.clock.advance(59);
            assert!(f.auth.authenticate(&t, &head()).await.is_ok());
            f.clock.advance(1);
            assert!(f.refused(&t).await, "exp == now is expired, cached or not");
            assert!(!f.auth.is_cached(&t), "an expired entry is dropped");
        }

        #[tokio::test]
        async fn a_cached_token_is_refused_once_its_user_is_deleted() {
            let f = fixture(ExpiresIn::Never, 100).await;
            let (t, _) = f.cached_token().await;
            assert!(f.state.users.delete(&f.user_id).await.unwrap());
            assert!(f.refused(&t).await);
        }

        #[tokio::test]
        async fn a_cached_token_carries_the_current_role() {
            let f = fixture(ExpiresIn::Never, 100).await;
            let (t, _) = f.cached_token().await;
            f.state
                .users
                .set_role(&f.user_id, Role::Pending, NOW)
                .await
                .unwrap();
            let p = f.auth.authenticate(&t, &head()).await.unwrap();
            assert_eq!(p.user.role, Role::Pending, "the role extractors see");
        }

        #[tokio::test]
        async fn single_use_tokens_are_never_cached() {
            let f = fixture(ExpiresIn::SingleUse, 100).await;
            let (t, _) = f.state.sessions.issue(&f.bob, f.clock.now()).unwrap();
            assert!(f.auth.authenticate(&t, &head()).await.is_ok());
            assert!(!f.auth.is_cached(&t));
            assert!(f.refused(&t).await, "a second use is refused");
        }

        #[tokio::test]
        async fn refused_tokens_are_not_cached_and_the_cache_can_be_off() {
            let f = fixture(ExpiresIn::Never, 100).await;
            let (t, c) = f.state.sessions.issue(&f.bob, f.clock.now()).unwrap();
            f.state.revocations.revoke(&c.jti, c.exp).await.unwrap();
            assert!(f.refused(&t).await);
            assert!(!f.auth.is_cached(&t));
            // a tampered signature on a token whose twin is cached
            let (good, _) = f.cached_token().await;
            let mut forged = good.clone().into_bytes();
            let i = forged.len() - 5; // a data character of the signature
            forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
            let forged = String::from_utf8(forged).unwrap();
            assert!(f.refused(&forged).await);

            let off = fixture(ExpiresIn::Never, 0).await;
            let (t, c) = off.state.sessions.issue(&off.bob, NOW).unwrap();
            assert!(off.auth.authenticate(&t, &head()).await.is_ok());
            assert!(!off.auth.is_cached(&t));
            off.state.revocations.revoke(&c.jti, c.exp).await.unwrap();
            assert!(off.refused(&t).await);
        }

        #[tokio::test]
        async fn sessions_die_with_their_users_epoch() {
            let f = fixture(ExpiresIn::Never, 100).await;
            let (t, _) = f.cached_token().await;
            f.state
                .users
                .sign_out_everywhere(&f.user_id, NOW)
                .await
                .unwrap()
                .unwrap();
            assert!(f.refused(&t).await, "cached, and signed out everywhere");
            // a token of the new epoch works
            let bob = f.state.users.get(&f.user_id).await.unwrap().unwrap();
            let (fresh, _) = f.state.sessions.issue(&bob, NOW).unwrap();
            assert!(f.auth.authenticate(&fresh, &head()).await.is_ok());
        }

        #[tokio::test]
        async fn an_exchanged_session_dies_with_its_source_and_never_outlives_it() {
            let f = fixture(ExpiresIn::Never, 100).await;
            let (t, c) = f
                .state
                .sessions
                .mint(
                    &f.bob,
                    NOW,
                    Origin::Exchange {
                        ends: Some(NOW + 50),
                        revocation_id: Some("idp-jti-1"),
                    },
                )
                .unwrap();
            assert_eq!(c.exp, Some(NOW + 50), "not past its source");
            assert_eq!(c.kind(), CredentialKind::ExchangedSession);
            let p = f.auth.authenticate(&t, &head()).await.unwrap();
            assert_eq!(p.kind, CredentialKind::ExchangedSession);
            f.state
                .revocations
                .revoke("idp-jti-1", Some(NOW + 50))
                .await
                .unwrap();
            assert!(f.refused(&t).await, "its source was revoked");
            let (_, c) = f
                .state
                .sessions
                .mint(
                    &f.bob,
                    NOW,
                    Origin::Exchange {
                        ends: None,
                        revocation_id: None,
                    },
                )
                .unwrap();
            assert_eq!(
                c.exp,
                Some(NOW + 8 * 3600),
                "capped by exchanged_expires_in"
            );
        }
    }
}
