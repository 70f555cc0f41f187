//! OpenID Connect RP-Initiated Logout 1.0: signing out of a session that was
//! signed in through a provider also ends the provider's session, by sending
//! the browser to its `end_session_endpoint` with `id_token_hint`,
//! `post_logout_redirect_uri` (Tessera's `/signin`), `state` and
//! `client_id`.
//!
//! At a browser sign-in through a provider whose discovery names an
//! `end_session_endpoint` (and whose `rp_logout` is on), the provider's raw
//! ID token is kept in the database for the new session, by its `jti`
//! (`store::sso_sessions`): never in the browser, never logged. Sign-out
//! takes the row (so it is used once, on any replica) and builds the URL;
//! the `state` is kept single-use so the return to `/signin` can be checked
//! ([`OidcProviders::returned_from_logout`]).
//!
//! CLI sign-ins keep nothing: `tessera login` has no browser to send to the
//! provider at sign-out.
use super::{cookie, fail, secs, Failure, OidcProviders, Provider, Verified, PENDING_TTL_SECS};
use crate::auth::session::SessionClaims;
use crate::config::Secret;
use crate::domain::User;
use crate::error::{Error, Result};
use crate::store::sso_sessions::{Grant, SsoSession};
use tessera_shared::SessionUser;

/// Where the provider sends the browser back after its logout (after the
/// public URL): the address to register at the provider.
pub const POST_LOGOUT_PATH: &str = "/signin";
/// The single-use kind of a logout's `state`.
const LOGOUT_STATE: &str = "lo";
/// How long the ID token of a session that never expires is kept, in
/// seconds (30 days). Without a bound it would be kept for good; after a
/// month the provider's own session has ended in every common set-up
/// (Keycloak's "SSO Session Max" is 10 hours by default, Entra ID's and
/// Google's sessions are re-checked far sooner), so the hint has no use left,
/// and sign-out then simply ends the Tessera session alone.
const KEPT_WITHOUT_EXP_SECS: i64 = 30 * 86_400;

impl OidcProviders {
    /// The session of a finished browser sign-in through `provider`. When
    /// that provider offers RP-initiated logout, or granted a refresh token
    /// (the session then lives as long as the grant: [`super::refresh`]),
    /// what they need is kept for the session until it expires.
    pub(super) async fn browser_session(
        &self,
        provider: &Provider,
        user: &User,
        v: &Verified,
    ) -> std::result::Result<SessionUser, Failure> {
        let (session, claims) = self.mint_session(user, v, v.refresh_token.is_some())?;
        let grant = self
            .grant_of(&claims, v)
            .map_err(|e| fail("The session could not be issued", e.to_string()))?;
        let id_token = match &v.id_token {
            Some(t) if grant.is_some() || offers_rp_logout(provider).await => Some(t.clone()),
            _ => None,
        };
        if grant.is_some() || id_token.is_some() {
            self.keep_sso_session(provider, user, &claims, id_token, grant)
                .await
                .map_err(|e| fail("The session could not be issued", e.to_string()))?;
        }
        Ok(session)
    }

    async fn keep_sso_session(
        &self,
        provider: &Provider,
        user: &User,
        claims: &SessionClaims,
        id_token: Option<Secret>,
        grant: Option<Grant>,
    ) -> Result<()> {
        let now = self.clock.now();
        let row = SsoSession {
            jti: claims.jti.clone(),
            user_id: user.id.clone(),
            provider: provider.config.name.clone(),
            id_token,
            expires_at: claims
                .exp
                .unwrap_or_else(|| now.saturating_add(KEPT_WITHOUT_EXP_SECS)),
            grant,
        };
        self.db.keep_sso_session(&row, now).await
    }

    /// Tessera's `post_logout_redirect_uri`: `{public_url}/signin`.
    pub fn post_logout_redirect_uri(&self) -> String {
        format!("{}{POST_LOGOUT_PATH}", self.public_url)
    }

    /// At the sign-out of session `jti` of user `user_id`: forgets what was
    /// kept for it and, when it was signed in through a provider that still
    /// offers RP-initiated logout (discovery names an `end_session_endpoint`
    /// and `rp_logout` is on), answers the URL to send the browser to. A
    /// provider that cannot be reached gives none (the session is signed
    /// out here all the same).
    pub async fn end_session_url(&self, jti: &str, user_id: &str) -> Result<Option<String>> {
        let Some(row) = self.db.take_sso_session(jti, self.clock.now()).await? else {
            return Ok(None);
        };
        if row.user_id != user_id {
            tracing::warn!(user = %user_id, "sign-out: the SSO session belongs to another account; no provider logout");
            return Ok(None);
        }
        let Some(provider) = self.get(&row.provider).filter(|p| p.config.rp_logout) else {
            return Ok(None);
        };
        let endpoint = match provider.discovered().await {
            Ok(d) => match &d.end_session_endpoint {
                Some(e) => e.clone(),
                None => return Ok(None),
            },
            Err(e) => {
                tracing::warn!(provider = %row.provider, error = %e, "sign-out: the provider could not be reached; its session is left");
                return Ok(None);
            }
        };
        let state = cookie::random(32);
        // a state that could not be kept only fails the check on return
        if let Err(e) = self
            .once
            .put(
                LOGOUT_STATE,
                &state,
                row.provider.clone(),
                secs(PENDING_TTL_SECS),
            )
            .await
        {
            tracing::warn!(error = %e, "sign-out: the logout state could not be kept");
        }
        let url = logout_url(
            &endpoint,
            row.id_token.as_ref().map(Secret::expose),
            &self.post_logout_redirect_uri(),
            &state,
            &provider.config.client_id,
        )
        .map_err(|e| Error::Internal(anyhow::anyhow!("building the logout URL: {e}")))?;
        tracing::debug!(provider = %row.provider, "sign-out goes on to the provider's logout");
        Ok(Some(url))
    }

    /// The provider whose logout sent the browser back to `/signin` with
    /// `state`, when that state is one this Tessera sent and it was not
    /// used yet (on any replica): usable once, for ten minutes.
    pub async fn returned_from_logout(&self, state: &str) -> Result<Option<String>> {
        self.once.take(LOGOUT_STATE, state).await
    }
}

/// Whether `provider` is set to and able to end its session at sign-out.
async fn offers_rp_logout(provider: &Provider) -> bool {
    provider.config.rp_logout
        && provider
            .discovered()
            .await
            .is_ok_and(|d| d.end_session_endpoint.is_some())
}

/// The `end_session_endpoint` with the logout request's parameters added to
/// its query (RP-Initiated Logout 1.0, §2). The error names the endpoint's
/// fault only, never the token.
pub fn logout_url(
    endpoint: &str,
    id_token_hint: Option<&str>,
    post_logout_redirect_uri: &str,
    state: &str,
    client_id: &str,
) -> std::result::Result<String, String> {
    let mut url = url::Url::parse(endpoint).map_err(|e| format!("end_session_endpoint: {e}"))?;
    {
        let mut q = url.query_pairs_mut();
        if let Some(hint) = id_token_hint {
            q.append_pair("id_token_hint", hint);
        }
        q.append_pair("post_logout_redirect_uri", post_logout_redirect_uri)
            .append_pair("state", state)
            .append_pair("client_id", client_id);
    }
    Ok(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logout_url_keeps_the_endpoint_query_and_escapes_every_value() {
        let url = logout_url(
            "https://idp.example/logout?tenant=a",
            Some("h.e.y"),
            "https://tessera.example/signin",
            "s&t=1",
            "client id",
        )
        .unwrap();
        let parsed = url::Url::parse(&url).unwrap();
        assert_eq!(parsed.path(), "/logout");
        let q: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        let want = [
            ("tenant", "a"),
            ("id_token_hint", "h.e.y"),
            ("post_logout_redirect_uri", "https://tessera.example/signin"),
            ("state", "s&t=1"),
            ("client_id", "client id"),
        ];
        assert_eq!(q, want.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec());
        let without = logout_url("https://idp.example/logout", None, "u", "s", "c").unwrap();
        assert!(!without.contains("id_token_hint"), "{without}");
        assert!(logout_url("not a url", Some("secret"), "u", "s", "c")
            .is_err_and(|e| !e.contains("secret")));
    }
}
