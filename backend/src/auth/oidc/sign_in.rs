//! The steps a browser and a CLI sign-in share: the code's exchange and
//! checks, the account, the session.
use super::{
    config, fail, flow, github, provision, Failure, OidcProviders, Provider, Verified, NONCE,
};
use crate::auth::session::SessionClaims;
use crate::error::Error;
use serde_json::Value;
use std::sync::Arc;
use tessera_shared::error::detail::ACCESS_PROHIBITED;
use tessera_shared::{AuthMethod, SessionUser};

impl OidcProviders {
    /// Exchanges the code, verifies the ID token (or reads GitHub's API) and
    /// reads userinfo when claims are missing.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn verify_code(
        &self,
        provider: &Provider,
        redirect_uri: &str,
        code: &str,
        verifier: &str,
        nonce: &str,
        iss: Option<&str>,
    ) -> std::result::Result<Verified, Failure> {
        let cfg = &provider.config;
        let d = provider
            .discovered()
            .await
            .map_err(|e| fail("The sign-in provider could not be reached", e))?;
        if iss.is_some_and(|i| i != d.issuer) {
            return Err(fail(
                "The sign-in response came from another issuer",
                "iss parameter mismatch (RFC 9207)",
            ));
        }
        let tokens = flow::exchange(
            &self.http,
            cfg,
            provider.secret(),
            &d,
            redirect_uri,
            code,
            verifier,
        )
        .await
        .map_err(|e| fail("The provider did not accept the sign-in", e))?;
        let now = self.clock.now();
        let claims = match &d.id_tokens {
            Some(v) => {
                let id_token = tokens
                    .id_token
                    .as_deref()
                    .ok_or_else(|| fail("The provider sent no ID token", "no id_token"))?;
                let mut claims = v
                    .verify(id_token, now, Some(nonce))
                    .await
                    .map_err(|e| fail("The provider's ID token was refused", e))?;
                if !self.use_once(NONCE, nonce).await.map_err(|e| {
                    fail("Sign-in state unavailable; please try again", e.to_string())
                })? {
                    return Err(fail(
                        "The provider's ID token was refused",
                        "nonce used, expired or not started here",
                    ));
                }
                if !provision::has_configured_claims(cfg, &claims) {
                    if let Some(ui) = &d.userinfo_endpoint {
                        match flow::get_with_token(&self.http, ui, &tokens.access_token).await {
                            Ok(Value::Object(info)) => provision::merge_userinfo(&mut claims, info)
                                .map_err(|e| fail("The provider's user info was refused", e))?,
                            Ok(_) => {
                                return Err(fail(
                                    "The provider's user info was refused",
                                    "userinfo is not an object",
                                ))
                            }
                            Err(e) => {
                                return Err(fail("The provider's user info could not be read", e))
                            }
                        }
                    }
                }
                claims
            }
            None => {
                let api = d.userinfo_endpoint.as_deref().unwrap_or(config::GITHUB_API);
                github::claims(&self.http, api, &tokens.access_token)
                    .await
                    .map_err(|e| fail("GitHub's user could not be read", e))?
            }
        };
        if cfg.verbose {
            tracing::info!(provider = %cfg.name, claims = %serde_json::Value::Object(claims.clone()), "SSO claims received");
        }
        Ok(Verified {
            ended_by: ended_by(&d, &claims),
            claims,
            id_token: tokens
                .id_token
                .filter(|_| d.id_tokens.is_some())
                .map(crate::config::Secret::new),
            not_after: tokens
                .expires_in
                .map(|d| now.saturating_add(d.as_secs().min(i64::MAX as u64 / 2) as i64)),
            refresh_token: tokens.refresh_token.map(crate::config::Secret::new),
            expires_in: tokens.expires_in,
        })
    }

    pub(super) async fn account(
        &self,
        provider: &Provider,
        v: &Verified,
    ) -> std::result::Result<Arc<crate::domain::User>, Failure> {
        let a = provision::read_claims(&provider.config, &v.claims)
            .map_err(|e| fail("The provider's claims cannot be used", e))?;
        match provision::provision(
            &self.db,
            &self.users,
            &provider.config,
            &a,
            self.clock.now(),
        )
        .await
        {
            Ok(u) => {
                tracing::info!(provider = %provider.config.name, user = %u.id, role = %u.role, "signed in with SSO");
                Ok(u)
            }
            Err(Error::Forbidden(ACCESS_PROHIBITED)) => Err(fail(
                ACCESS_PROHIBITED,
                format!("subject {} is in none of the allowed groups", a.subject),
            )),
            Err(Error::Forbidden(provision::UNVERIFIED_EMAIL)) => Err(fail(
                provision::UNVERIFIED_EMAIL,
                format!("subject {}: e-mail not verified by the provider", a.subject),
            )),
            Err(e) => {
                tracing::error!(error = %e, "provisioning an SSO user failed");
                Err(fail(
                    "The account could not be set up",
                    "provisioning failed",
                ))
            }
        }
    }

    /// A new session for `user` after a sign-in that `v` verified, ending
    /// with the provider's access token (a CLI sign-in's: nothing renews it).
    pub(super) fn session(
        &self,
        user: &crate::domain::User,
        v: &Verified,
    ) -> std::result::Result<SessionUser, Failure> {
        self.mint_session(user, v, false)
            .map(|(session, _)| session)
    }

    /// A new session for `user` after a sign-in that `v` verified, and its
    /// claims; with `grant`, one that lives as long as the provider's grant
    /// instead of ending with its access token ([`super::refresh`]).
    pub(super) fn mint_session(
        &self,
        user: &crate::domain::User,
        v: &Verified,
        grant: bool,
    ) -> std::result::Result<(SessionUser, SessionClaims), Failure> {
        let (token, claims) = self
            .sessions
            .mint(
                user,
                self.clock.now(),
                crate::auth::session::Origin::SignIn {
                    not_after: if grant { None } else { v.not_after },
                    src: v.ended_by.as_deref(),
                    grant,
                },
            )
            .map_err(|e| fail("The session could not be issued", e.to_string()))?;
        let session = crate::auth::session_user(user, token, claims.exp, AuthMethod::Session);
        Ok((session, claims))
    }
}

/// The revocation id of the provider session the claims name (`sid`):
/// sessions signed in through it end with it (back-channel logout).
fn ended_by(d: &flow::Discovered, claims: &serde_json::Map<String, Value>) -> Option<String> {
    match (&d.id_tokens, claims.get("sid")) {
        (Some(_), Some(Value::String(sid))) if !sid.is_empty() => {
            Some(crate::auth::revocation::provider_session(&d.issuer, sid))
        }
        _ => None,
    }
}
