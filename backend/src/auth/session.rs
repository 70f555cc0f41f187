//! Tessera's own session tokens: HS256 JWTs signed with the session secret,
//! carrying `iss`, `sub` (user id), `iat`, `exp` where it applies and a unique
//! `jti`. The header's `kid` marks them as Tessera's.
use super::{BearerAuthenticator, Principal};
use crate::config::ExpiresIn;
use crate::error::{Error, Result};
use crate::state::AppState;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tessera_shared::AuthMethod;

/// The `kid` in every session token's header.
pub const SESSION_KID: &str = "tessera-session";
/// A single-use token must be used within this many seconds.
pub const SINGLE_USE_TTL_SECS: i64 = 300;

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
}

/// Signs and verifies session tokens.
pub struct SessionKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    lifetime: ExpiresIn,
}

impl SessionKeys {
    /// Keys from the secret; tokens issued by `issuer` living `lifetime`.
    pub fn new(secret: &[u8], issuer: String, lifetime: ExpiresIn) -> Self {
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
        }
    }

    /// A new token for `user_id` and its expiry.
    pub fn issue(&self, user_id: &str, now: i64) -> Result<(String, SessionClaims)> {
        self.issue_until(user_id, now, None)
    }

    /// As [`SessionKeys::issue`], but the token never outlives `not_after`
    /// (Unix seconds) when given: an SSO session ends with the provider's
    /// access token.
    pub fn issue_until(
        &self,
        user_id: &str,
        now: i64,
        not_after: Option<i64>,
    ) -> Result<(String, SessionClaims)> {
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
            sub: user_id.to_owned(),
            iat: now,
            exp,
            jti: uuid::Uuid::new_v4().to_string(),
            single_use,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(SESSION_KID.into());
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding)
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
        if let Some(exp) = claims.exp {
            if now >= exp {
                return Err(Error::InvalidToken("session token expired"));
            }
        }
        if claims.iat > now + 60 {
            return Err(Error::InvalidToken("session token issued in the future"));
        }
        Ok(claims)
    }
}

/// Authenticates Tessera session tokens.
pub struct SessionAuthenticator;

#[async_trait::async_trait]
impl BearerAuthenticator for SessionAuthenticator {
    fn recognises(&self, credential: &str) -> bool {
        jsonwebtoken::decode_header(credential).is_ok_and(|h| h.kid.as_deref() == Some(SESSION_KID))
    }

    async fn authenticate(&self, credential: &str, state: &AppState) -> Result<Principal> {
        let claims = state.sessions.verify(credential, state.clock.now())?;
        if state.revocations.is_revoked(&claims.jti) {
            return Err(Error::InvalidToken("session token revoked"));
        }
        let user = state
            .users
            .get(&claims.sub)
            .await?
            .ok_or(Error::InvalidToken("session token for a deleted user"))?;
        if claims.single_use && !state.revocations.revoke(&claims.jti, claims.exp).await? {
            return Err(Error::InvalidToken("single-use session token already used"));
        }
        Ok(Principal {
            user,
            method: AuthMethod::Session,
            token: credential.to_owned(),
            jti: Some(claims.jti),
            expires_at: claims.exp,
            issuer: None,
            subject: None,
            metadata: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn keys(lifetime: ExpiresIn) -> SessionKeys {
        SessionKeys::new(SECRET, "http://tessera.test".into(), lifetime)
    }

    #[test]
    fn round_trip_and_expiry_at_exact_second() {
        let k = keys(ExpiresIn::For(Duration::from_secs(60)));
        let (t, c) = k.issue("u1", 1000).unwrap();
        assert_eq!(c.exp, Some(1060));
        assert_eq!(k.verify(&t, 1059).unwrap().sub, "u1");
        assert!(k.verify(&t, 1060).is_err(), "exp == now is expired");
    }

    #[test]
    fn capped_sessions_end_with_the_provider_token() {
        let k = keys(ExpiresIn::Never);
        let (_, c) = k.issue_until("u1", 1000, Some(1300)).unwrap();
        assert_eq!(c.exp, Some(1300));
        let k = keys(ExpiresIn::For(Duration::from_secs(60)));
        let (_, c) = k.issue_until("u1", 1000, Some(1300)).unwrap();
        assert_eq!(c.exp, Some(1060), "the shorter of the two");
        let (_, c) = k.issue_until("u1", 1000, None).unwrap();
        assert_eq!(c.exp, Some(1060));
    }

    #[test]
    fn never_expiring_has_no_exp() {
        let k = keys(ExpiresIn::Never);
        let (t, c) = k.issue("u1", 1000).unwrap();
        assert_eq!(c.exp, None);
        assert!(k.verify(&t, i64::MAX / 2).is_ok());
    }

    #[test]
    fn single_use_is_marked_and_bounded() {
        let k = keys(ExpiresIn::SingleUse);
        let (_, c) = k.issue("u1", 1000).unwrap();
        assert!(c.single_use);
        assert_eq!(c.exp, Some(1000 + SINGLE_USE_TTL_SECS));
    }

    #[test]
    fn forged_tokens_fail() {
        let k = keys(ExpiresIn::Never);
        let (t, _) = k.issue("u1", 1000).unwrap();
        // another secret
        let other = SessionKeys::new(
            b"another-secret-another-secret-xx",
            "http://tessera.test".into(),
            ExpiresIn::Never,
        );
        let (forged, _) = other.issue("u1", 1000).unwrap();
        assert!(k.verify(&forged, 1000).is_err());
        // another issuer, same secret
        let elsewhere = SessionKeys::new(SECRET, "http://elsewhere".into(), ExpiresIn::Never);
        let (foreign, _) = elsewhere.issue("u1", 1000).unwrap();
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
        let typed = SessionKeys::new(SECRET, "http://tessera.test".into(), ExpiresIn::Never);
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
        let (future, _) = k.issue("u1", 5000).unwrap();
        assert!(k.verify(&future, 1000).is_err());
    }

    fn base64_url(s: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }
}
