//! The admin's test round trip: unsaved settings get a draft provider, one
//! sign-in through it signs no one in and leaves a report, shown once.
use super::{
    cookie, decode, encode, fail, failed, provision, secs, Failure, OidcProviders, Provider,
    Verified, PENDING_TTL_SECS, REPORT,
};
use crate::error::{Error, Result};
use serde_json::Value;
use std::sync::Arc;
use tessera_shared::error::detail::ACCESS_PROHIBITED;
use tessera_shared::oidc::{OidcProviderSettings, OidcTestReport, OidcTestStarted};

impl OidcProviders {
    /// Runs discovery for unsaved settings and prepares a test round trip.
    pub async fn test_start(&self, s: &OidcProviderSettings) -> Result<OidcTestStarted> {
        let c = self.draft(&s.name, s)?;
        let name = c.name.clone();
        let provider = Provider::new(c, "database").map_err(Error::Unprocessable)?;
        let d = provider
            .discovered()
            .await
            .map_err(|e| Error::BadGateway(format!("Discovery failed: {e}")))?;
        let id = cookie::random(24);
        self.drafts
            .insert(id.clone(), (self.clock.now(), Arc::new(provider)));
        Ok(OidcTestStarted {
            issuer: d.issuer.clone(),
            login_url: format!("/oauth/{name}/login?test={id}"),
        })
    }

    /// The report of a finished test round trip (single use).
    pub async fn test_result(&self, code: &str) -> Result<OidcTestReport> {
        match decode::<OidcTestReport>(self.once.take(REPORT, code).await?) {
            Some(r) if self.clock.now() < r.at + PENDING_TTL_SECS => Ok(r.v),
            _ => Err(Error::NotFound("No such test result (it is shown once)")),
        }
    }

    pub(super) async fn store_report(&self, r: OidcTestReport) -> String {
        let code = cookie::random(32);
        let stored = match encode(self.clock.now(), r) {
            Ok(v) => {
                self.once
                    .put(REPORT, &code, v, secs(PENDING_TTL_SECS))
                    .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = stored {
            return failed(fail("The test result could not be kept", e.to_string()));
        }
        format!("/settings/security/test#code={code}")
    }

    pub(super) async fn test_report(
        &self,
        provider: &Provider,
        verified: std::result::Result<Verified, Failure>,
    ) -> String {
        let report = match verified {
            Err(f) => OidcTestReport {
                ok: false,
                detail: format!("{}: {}", f.reason, f.detail),
                claims: Value::Null,
                role: None,
                groups: Vec::new(),
            },
            Ok(v) => {
                let claims = Value::Object(v.claims.clone());
                match provision::read_claims(&provider.config, &v.claims) {
                    Err(e) => OidcTestReport {
                        ok: false,
                        detail: format!("The claims cannot be used: {e}"),
                        claims,
                        role: None,
                        groups: Vec::new(),
                    },
                    Ok(a) => match provision::role(&provider.config, &a) {
                        Ok(role) => OidcTestReport {
                            ok: true,
                            detail: format!(
                                "{} ({}) would sign in as {role}",
                                a.name,
                                if a.email.is_empty() {
                                    &a.subject
                                } else {
                                    &a.email
                                }
                            ),
                            claims,
                            role: Some(role),
                            groups: a.groups,
                        },
                        Err(_) => OidcTestReport {
                            ok: false,
                            detail: format!(
                                "{ACCESS_PROHIBITED}: {} is in none of the allowed groups",
                                a.name
                            ),
                            claims,
                            role: None,
                            groups: a.groups,
                        },
                    },
                }
            }
        };
        self.store_report(report).await
    }
}
