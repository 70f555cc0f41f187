//! `tessera login`: the CLI's sign-in through its loopback listener.
use super::{cookie, decode, encode, flow, secs, OidcProviders, CLI, NONCE, PENDING_TTL_SECS};
use crate::domain::audit::{AuditAction, Record};
use crate::error::{Error, Result};
use tessera_shared::oidc::{CliFinishForm, CliStartForm, CliStarted};
use tessera_shared::SessionUser;

#[derive(serde::Serialize, serde::Deserialize)]
struct CliPending {
    provider: String,
    redirect_uri: String,
    nonce: String,
    verifier: String,
    client_nonce: String,
    exp: i64,
}

impl OidcProviders {
    /// `tessera login`: the authorization URL for its loopback listener.
    pub async fn cli_start(&self, name: &str, form: &CliStartForm) -> Result<CliStarted> {
        let redirect_uri = cli_redirect_uri(&form.redirect_uri).ok_or_else(|| {
            Error::BadRequest(
                "redirect_uri must be http://localhost:{port}/oidc/callback or http://127.0.0.1:{port}/oidc/callback"
                    .into(),
            )
        })?;
        if !(16..=256).contains(&form.client_nonce.len()) {
            return Err(Error::BadRequest(
                "client_nonce must be 16 to 256 characters".into(),
            ));
        }
        let provider = self
            .get(name)
            .ok_or(Error::NotFound("Unknown sign-in provider"))?;
        let d = provider.discovered().await.map_err(|e| {
            tracing::debug!(provider = %name, error = %e, "discovery failed");
            Error::BadGateway("The sign-in provider could not be reached".into())
        })?;
        let started =
            flow::authorization_url(&provider.config, &d, &redirect_uri, false).map_err(|e| {
                Error::BadGateway(format!("The sign-in provider is misconfigured: {e}"))
            })?;
        let now = self.clock.now();
        if d.id_tokens.is_some() {
            self.allow_once(NONCE, &started.nonce, PENDING_TTL_SECS)
                .await?;
        }
        let pending = CliPending {
            provider: name.to_owned(),
            redirect_uri,
            nonce: started.nonce,
            verifier: started.verifier,
            client_nonce: form.client_nonce.clone(),
            exp: now + PENDING_TTL_SECS,
        };
        self.once
            .put(
                CLI,
                &started.state,
                encode(now, pending)?,
                secs(PENDING_TTL_SECS),
            )
            .await?;
        Ok(CliStarted {
            auth_url: started.url,
        })
    }

    /// `tessera login`: the callback's code for a session.
    pub async fn cli_finish(&self, name: &str, form: &CliFinishForm) -> Result<SessionUser> {
        let pending = decode::<CliPending>(self.once.take(CLI, &form.state).await?)
            .map(|s| s.v)
            .filter(|p| self.clock.now() < p.exp && p.provider == name)
            .ok_or_else(|| {
                Error::BadRequest("No such CLI sign-in (unknown, used or expired state)".into())
            })?;
        if !cookie::same(&form.client_nonce, &pending.client_nonce) {
            return Err(Error::BadRequest(
                "client_nonce does not match the one that started this sign-in".into(),
            ));
        }
        let provider = self
            .get(name)
            .ok_or(Error::NotFound("Unknown sign-in provider"))?;
        let verified = self
            .verify_code(
                &provider,
                &pending.redirect_uri,
                &form.code,
                &pending.verifier,
                &pending.nonce,
                None,
            )
            .await?;
        let user = self.account(&provider, &verified).await?;
        let session = self.session(&user, &verified)?;
        self.audit.record(
            Record::new(AuditAction::SignIn)
                .method(format!("sso:{name} (cli)"))
                .account(user.email.clone()),
        );
        Ok(session)
    }
}

/// The canonical loopback redirect URI of `tessera login`, or `None`.
pub fn cli_redirect_uri(uri: &str) -> Option<String> {
    let u = url::Url::parse(uri).ok()?;
    let host = u.host_str()?;
    let port = u.port()?;
    let ok = u.scheme() == "http"
        && (host == "localhost" || host == "127.0.0.1")
        && port != 0
        && u.path() == "/oidc/callback"
        && u.query().is_none()
        && u.fragment().is_none()
        && u.username().is_empty()
        && u.password().is_none();
    let canonical = format!("http://{host}:{port}/oidc/callback");
    (ok && canonical == uri).then_some(canonical)
}
