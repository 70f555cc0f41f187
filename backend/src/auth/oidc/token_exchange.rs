//! A provider's access token exchanged for a Tessera session.
use super::{config, flow, github, provision, OidcProviders};
use crate::domain::audit::{AuditAction, Record};
use crate::error::{Error, Result};
use serde_json::Value;
use tessera_shared::{AuthMethod, SessionUser};

impl OidcProviders {
    /// A provider access token for a Tessera session: verified as a JWT of
    /// the provider (`aud` must hold the client id) when it is one, else
    /// vouched for by the userinfo endpoint (GitHub: its API).
    pub async fn token_exchange(&self, name: &str, token: &str) -> Result<SessionUser> {
        let provider = self
            .get(name)
            .ok_or(Error::NotFound("Unknown sign-in provider"))?;
        if token.is_empty() || token.len() > crate::auth::MAX_CREDENTIAL_BYTES {
            return Err(Error::InvalidToken("token empty or too long"));
        }
        let d = provider.discovered().await.map_err(|e| {
            tracing::debug!(provider = %name, error = %e, "discovery failed");
            Error::BadGateway("The sign-in provider could not be reached".into())
        })?;
        let now = self.clock.now();
        let own_jwt = d.id_tokens.as_ref().filter(|_| {
            crate::auth::idp::token::parse(token, crate::auth::MAX_CREDENTIAL_BYTES)
                .ok()
                .and_then(|p| p.registered.iss)
                .is_some_and(|iss| iss == d.issuer)
        });
        let (claims, not_after) = match own_jwt {
            Some(v) => {
                let claims = v
                    .verify(token, now, None)
                    .await
                    .map_err(Error::InvalidToken)?;
                let exp = claims.get("exp").and_then(Value::as_i64);
                (claims, exp)
            }
            None => {
                let claims = match (&d.id_tokens, d.userinfo_endpoint.as_deref()) {
                    (None, api) => {
                        github::claims(&self.http, api.unwrap_or(config::GITHUB_API), token).await
                    }
                    (Some(_), Some(ui)) => {
                        match flow::get_with_token(&self.http, ui, token).await {
                            Ok(Value::Object(m)) => Ok(m),
                            Ok(_) => Err("userinfo is not an object".into()),
                            Err(e) => Err(e),
                        }
                    }
                    (Some(_), None) => Err("the provider has no userinfo endpoint".into()),
                };
                let claims = claims.map_err(|e| {
                    tracing::debug!(provider = %name, error = %e, "token exchange refused");
                    Error::InvalidToken("the provider does not vouch for the token")
                })?;
                (claims, None)
            }
        };
        if provider.config.verbose {
            tracing::info!(provider = %name, claims = %serde_json::Value::Object(claims.clone()), "SSO claims received (token exchange)");
        }
        let a = provision::read_claims(&provider.config, &claims).map_err(Error::InvalidToken)?;
        let user = provision::provision(&self.db, &self.users, &provider.config, &a, now).await?;
        // minted from the provider's token: capped by it (or, for a token
        // the provider only vouches for through userinfo, by `[session]
        // exchanged_expires_in`), and never exchanged again
        let (token, c) = self.sessions.mint(
            &user,
            now,
            crate::auth::session::Origin::Exchange {
                ends: not_after,
                revocation_id: None,
            },
        )?;
        tracing::info!(provider = %name, user = %user.id, "provider token exchanged for a session");
        self.audit.record(
            Record::new(AuditAction::TokenExchanged)
                .method(format!("sso:{name}"))
                .account(user.email.clone()),
        );
        Ok(crate::auth::session_user(
            &user,
            token,
            c.exp,
            AuthMethod::Session,
        ))
    }
}
