//! SSO sessions that live exactly as long as the provider says: when a
//! browser sign-in brings a refresh token, the session carries no end of the
//! provider's access token; instead the server keeps the refresh token,
//! sealed, in the session's `sso_sessions` row and renews the provider's
//! tokens while the session is used ([`GrantCheck`]): due a quarter of the
//! access token's lifetime (at most a minute) before it expires, by the first
//! request after that on any replica, which takes a lease on the row so the
//! refresh token is used once (providers that rotate them refuse a second
//! use, and may revoke the grant for it).
//!
//! A provider that refuses the refresh (the grant was revoked, expired or
//! the user was disabled) ends the session at once, on every replica: its
//! `jti` is revoked. A provider that cannot be reached leaves the session
//! usable until its access token's end, then refused with 503 until the
//! provider answers again (fail closed, nobody signed out by an outage). A
//! renewed ID token must come from the same provider for the same `sub`.
//!
//! The refresh token never reaches the browser and is never logged; it is
//! kept sealed ([`super::seal`]).
use super::{flow, OidcProviders, Verified};
use crate::auth::grant::GrantCheck;
use crate::auth::session::SessionClaims;
use crate::config::Secret;
use crate::error::{Error, Result};
use crate::store::sso_sessions::{Grant, GrantTimes, Leased};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::time::Duration;

/// How long one replica may hold the right to renew a grant, in seconds
/// (longer than a token request may take: [`flow::HTTP_TIMEOUT`]).
const LEASE_SECS: i64 = 15;
/// After the provider could not be reached, the next try waits this long.
const RETRY_SECS: i64 = 5;
/// How long a request waits for another request's renewal of an access
/// token that has already expired, in milliseconds.
const WAIT_MS: u64 = 3000;
/// Renewal is due this much before the access token expires: a quarter of
/// its lifetime, at most this many seconds.
const EARLY_MAX_SECS: i64 = 60;
/// A provider that does not say how long its access token lives is asked
/// again after this many seconds.
const UNSTATED_LIFETIME_SECS: i64 = 300;

/// The 401 detail of a session whose grant the provider ended.
const GRANT_OVER: &str = "session ended: the sign-in provider no longer grants it";
/// The 401 detail of a grant session without its row.
const GRANT_GONE: &str = "session ended: its sign-in grant is no longer kept";
/// The 503 detail while the provider cannot renew an expired access token.
const PROVIDER_DOWN: &str =
    "The sign-in provider cannot renew this session right now; please try again shortly";

/// When a grant whose access token lives `lifetime` seconds from `now`
/// expires and is to be renewed.
fn times(now: i64, lifetime: Option<Duration>) -> (i64, i64) {
    let life = lifetime
        .map(|d| d.as_secs().min(i64::MAX as u64 / 4) as i64)
        .unwrap_or(UNSTATED_LIFETIME_SECS)
        .max(1);
    let expires = now.saturating_add(life);
    let early = (life / 4).min(EARLY_MAX_SECS);
    (expires, (expires - early).max(now + 1))
}

/// The `sub` claim of an ID token this server verified before (the payload
/// only; the signature was checked when it arrived).
fn subject_of(id_token: &str) -> Option<String> {
    let payload = id_token.split('.').nth(1)?;
    let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&json).ok()?;
    claims.get("sub")?.as_str().map(str::to_owned)
}

impl OidcProviders {
    /// The grant of a new session signed in with `v`, when the provider
    /// granted a refresh token: sealed for the session's `jti`.
    pub(super) fn grant_of(&self, claims: &SessionClaims, v: &Verified) -> Result<Option<Grant>> {
        let Some(rt) = v.refresh_token.as_ref().filter(|_| claims.grant) else {
            return Ok(None);
        };
        let (access_expires_at, refresh_at) = times(claims.iat, v.expires_in);
        Ok(Some(Grant {
            sealed_refresh_token: self.sealer.seal(&claims.jti, rt.expose())?,
            access_expires_at,
            refresh_at,
        }))
    }

    /// Renews the leased grant of session `jti`: its end on refusal.
    async fn renew(&self, jti: &str, leased: Leased, now: i64) -> Result<()> {
        match self.refresh_leased(jti, &leased, now).await {
            Ok((grant, id_token)) => {
                self.db
                    .renewed_grant(jti, &grant, id_token.as_ref())
                    .await?;
                self.grant_due.insert(jti.to_owned(), grant.refresh_at);
                tracing::debug!(provider = %leased.provider, user = %leased.user_id, "SSO session renewed");
                Ok(())
            }
            Err(flow::RefreshFailure::Refused(why)) => {
                tracing::info!(provider = %leased.provider, user = %leased.user_id, reason = %why, "SSO session ended: the provider refused to renew it");
                self.grant_due.invalidate(jti);
                self.revocations
                    .revoke(jti, Some(leased.expires_at))
                    .await?;
                self.db.drop_sso_session(jti).await?;
                Err(Error::InvalidToken(GRANT_OVER))
            }
            Err(flow::RefreshFailure::Unreachable(why)) => {
                tracing::warn!(provider = %leased.provider, reason = %why, "an SSO session could not be renewed; trying again shortly");
                self.db.hold_lease(jti, now + RETRY_SECS).await?;
                if now < leased.grant.access_expires_at {
                    Ok(())
                } else {
                    Err(Error::Unavailable(PROVIDER_DOWN))
                }
            }
        }
    }

    /// The refresh itself: the new grant and ID token, or why not.
    async fn refresh_leased(
        &self,
        jti: &str,
        leased: &Leased,
        now: i64,
    ) -> std::result::Result<(Grant, Option<Secret>), flow::RefreshFailure> {
        use flow::RefreshFailure::{Refused, Unreachable};
        let provider = self
            .get(&leased.provider)
            .ok_or_else(|| Refused("the provider is no longer configured".into()))?;
        let rt = self
            .sealer
            .open(jti, &leased.grant.sealed_refresh_token)
            .ok_or_else(|| {
                Refused("the kept refresh token does not open (secret rotated?)".into())
            })?;
        let d = provider.discovered().await.map_err(Unreachable)?;
        let tokens = flow::refresh(
            &self.http,
            &provider.config,
            provider.secret(),
            &d,
            rt.expose(),
        )
        .await?;
        let id_token = match (&d.id_tokens, tokens.id_token) {
            (Some(v), Some(new)) => {
                let claims = v
                    .verify(&new, self.clock.now(), None)
                    .await
                    .map_err(|e| Refused(format!("the renewed ID token was refused: {e}")))?;
                let was = leased
                    .id_token
                    .as_ref()
                    .and_then(|t| subject_of(t.expose()));
                if was.is_some() && claims.get("sub").and_then(|s| s.as_str()) != was.as_deref() {
                    return Err(Refused("the renewed ID token names another subject".into()));
                }
                Some(Secret::new(new))
            }
            _ => None,
        };
        let (access_expires_at, refresh_at) = times(now, tokens.expires_in);
        // a provider that does not rotate refresh tokens keeps the old one
        let rt = tokens.refresh_token.map(Secret::new).unwrap_or(rt);
        let sealed = self
            .sealer
            .seal(jti, rt.expose())
            .map_err(|e| Unreachable(e.to_string()))?;
        Ok((
            Grant {
                sealed_refresh_token: sealed,
                access_expires_at,
                refresh_at,
            },
            id_token,
        ))
    }

    /// The grant of `jti` as the database has it: renewed here when due
    /// and free, else waited for while another request renews an expired one.
    async fn check_kept(&self, jti: &str) -> Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(WAIT_MS);
        loop {
            let now = self.clock.now();
            if let Some(leased) = self.db.lease_grant(jti, now, now + LEASE_SECS).await? {
                return self.renew(jti, leased, now).await;
            }
            let Some(GrantTimes {
                access_expires_at,
                refresh_at,
                ..
            }) = self.db.grant_times(jti, now).await?
            else {
                return Err(Error::InvalidToken(GRANT_GONE));
            };
            if now < refresh_at {
                self.grant_due.insert(jti.to_owned(), refresh_at);
                return Ok(());
            }
            if now < access_expires_at {
                // another request renews it; the access token still holds
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Unavailable(PROVIDER_DOWN));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[async_trait::async_trait]
impl GrantCheck for OidcProviders {
    async fn check(&self, jti: &str, now: i64) -> Result<()> {
        if self.grant_due.get(jti).is_some_and(|due| now < due) {
            return Ok(());
        }
        self.check_kept(jti).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_is_due_a_quarter_early_at_most_a_minute() {
        let d = |s| Some(Duration::from_secs(s));
        assert_eq!(times(1000, d(20)), (1020, 1015));
        assert_eq!(times(1000, d(3600)), (4600, 4540));
        assert_eq!(times(1000, d(1)), (1001, 1001));
        assert_eq!(times(1000, d(0)), (1001, 1001));
        assert_eq!(times(1000, None), (1300, 1240));
    }

    #[test]
    fn the_subject_of_a_kept_id_token() {
        let enc = |v: &str| URL_SAFE_NO_PAD.encode(v);
        let t = format!(
            "{}.{}.sig",
            enc(r#"{"alg":"RS256"}"#),
            enc(r#"{"sub":"alice"}"#)
        );
        assert_eq!(subject_of(&t).as_deref(), Some("alice"));
        assert_eq!(subject_of("garbage"), None);
    }
}
