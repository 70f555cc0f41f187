//! The browser sign-in: the login redirect with its sealed cookie, the
//! provider's callback, and the one-time hand-over code that `/oauth/complete`
//! redeems in the same browser.
use super::cookie::{self, FlowState};
use super::{
    decode, encode, fail, failed, flow, secs, CallbackParams, Failure, OidcProviders, Provider,
    Stamped, CODE, CODE_TTL_SECS, FRAGMENT, NONCE, OTHER_BROWSER, PENDING_TTL_SECS, STATE,
};
use crate::domain::audit::{AuditAction, Record};
use crate::error::{Error, Result};
use serde_json::Value;
use std::net::IpAddr;
use std::sync::Arc;
use tessera_shared::oidc::{OidcTestReport, ResponseMode};
use tessera_shared::SessionUser;

/// A hand-over code's session, for the browser holding the binding secret
/// whose SHA-256 is `binding`.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct HandOver {
    pub(super) session: SessionUser,
    pub(super) binding: String,
}

/// The reason shown when the callback finds no usable sign-in cookie.
const NOT_STARTED: &str = "No sign-in was started in this browser, or it expired; please try again";

impl OidcProviders {
    /// Starts a sign-in: the provider's URL and the `Set-Cookie` value.
    pub async fn login(
        &self,
        name: &str,
        next: Option<&str>,
        test: Option<&str>,
    ) -> std::result::Result<(String, String), Failure> {
        let next = match next.filter(|n| !n.is_empty()) {
            Some(n) if flow::valid_next(n) => Some(n.to_owned()),
            Some(_) => {
                return Err(fail(
                    "The page to return to must be a path on this site",
                    "next refused",
                ))
            }
            None => None,
        };
        let provider = self.provider_for(name, test)?;
        let d = provider
            .discovered()
            .await
            .map_err(|e| fail("The sign-in provider could not be reached", e))?;
        let started = flow::authorization_url(
            &provider.config,
            &d,
            &self.redirect_uri(name),
            provider.config.response_mode == ResponseMode::FormPost,
        )
        .map_err(|e| fail("The sign-in provider is misconfigured", e))?;
        let unavailable =
            |e: Error| fail("Sign-in state unavailable; please try again", e.to_string());
        self.allow_once(STATE, &started.state, cookie::LIFETIME_SECS)
            .await
            .map_err(unavailable)?;
        if d.id_tokens.is_some() {
            self.allow_once(NONCE, &started.nonce, cookie::LIFETIME_SECS)
                .await
                .map_err(unavailable)?;
        }
        let fs = FlowState {
            provider: name.to_owned(),
            state: started.state,
            nonce: started.nonce,
            verifier: started.verifier,
            next,
            test: test.map(String::from),
            exp: self.clock.now() + cookie::LIFETIME_SECS,
        };
        Ok((
            started.url,
            cookie::set_cookie(&self.key.seal(&fs), self.secure),
        ))
    }

    fn provider_for(
        &self,
        name: &str,
        test: Option<&str>,
    ) -> std::result::Result<Arc<Provider>, Failure> {
        match test {
            Some(id) => match self.drafts.get(id) {
                Some((at, p))
                    if p.config.name == name && self.clock.now() < at + PENDING_TTL_SECS =>
                {
                    Ok(p)
                }
                _ => Err(fail(
                    "The test has expired; start it again",
                    "unknown test id",
                )),
            },
            None => self
                .get(name)
                .ok_or_else(|| fail("Unknown sign-in provider", format!("no provider `{name}`"))),
        }
    }

    /// Handles the provider's redirect; answers the path to send the browser
    /// to and, when a hand-over code was issued, the `Set-Cookie` value that
    /// binds it to this browser.
    pub async fn callback(
        &self,
        name: &str,
        params: &CallbackParams,
        cookie_value: Option<&str>,
        client: Option<IpAddr>,
    ) -> (String, Option<String>) {
        let now = self.clock.now();
        let fs = match cookie_value
            .ok_or("no sign-in cookie")
            .and_then(|v| self.key.open(v, name, now))
        {
            Ok(fs) => fs,
            Err(e) => {
                self.audit_failure(name, client, NOT_STARTED);
                return (failed(fail(NOT_STARTED, e)), None);
            }
        };
        let result = self.finish_browser(name, params, &fs, client).await;
        let location = match (result, &fs.test) {
            (Ok(landing), _) => return landing,
            (Err(f), Some(_)) => {
                tracing::debug!(reason = %f.reason, detail = %f.detail, "SSO test failed");
                self.store_report(OidcTestReport {
                    ok: false,
                    detail: format!("{}: {}", f.reason, f.detail),
                    claims: Value::Null,
                    role: None,
                    groups: Vec::new(),
                })
                .await
            }
            (Err(f), None) => {
                self.audit_failure(name, client, &f.reason);
                failed(f)
            }
        };
        (location, None)
    }

    /// The rest of a callback whose cookie opened: the provider's answer
    /// checked, the code exchanged, then either the test's report or the
    /// account's session behind a hand-over code.
    async fn finish_browser(
        &self,
        name: &str,
        params: &CallbackParams,
        fs: &FlowState,
        client: Option<IpAddr>,
    ) -> std::result::Result<(String, Option<String>), Failure> {
        if let Some(refused) = provider_refusal(params) {
            return Err(refused);
        }
        self.use_state(params, fs).await?;
        let code = params
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| fail("The provider sent no authorization code", "code missing"))?;
        let provider = self.provider_for(name, fs.test.as_deref())?;
        let verified = self
            .verify_code(
                &provider,
                &self.redirect_uri(name),
                code,
                &fs.verifier,
                &fs.nonce,
                params.iss.as_deref(),
            )
            .await;
        if fs.test.is_some() {
            return Ok((self.test_report(&provider, verified).await, None));
        }
        let verified = verified?;
        let user = self.account(&provider, &verified).await?;
        let session = self.browser_session(&provider, &user, &verified).await?;
        self.audit.record(
            Record::new(AuditAction::SignIn)
                .method(format!("sso:{name}"))
                .account(user.email.clone())
                .ip(client),
        );
        self.hand_over(session, fs.next.as_deref()).await
    }

    /// The response's `state` is this browser's (its cookie's), and used
    /// here for the first time.
    async fn use_state(
        &self,
        params: &CallbackParams,
        fs: &FlowState,
    ) -> std::result::Result<(), Failure> {
        let got_state = params.state.as_deref().unwrap_or("");
        if !cookie::same(got_state, &fs.state) {
            return Err(fail(
                "The sign-in response does not belong to this browser's sign-in; please try again",
                "state mismatch",
            ));
        }
        if !self
            .use_once(STATE, got_state)
            .await
            .map_err(|e| fail("Sign-in state unavailable; please try again", e.to_string()))?
        {
            return Err(fail(
                "This sign-in was already completed or has expired; please sign in again",
                "state used, expired or not started here",
            ));
        }
        Ok(())
    }

    /// Keeps `session` behind a new hand-over code bound to this browser:
    /// the path to `/oauth/complete` (with `next`) and the binding's
    /// `Set-Cookie` value.
    async fn hand_over(
        &self,
        session: SessionUser,
        next: Option<&str>,
    ) -> std::result::Result<(String, Option<String>), Failure> {
        let hand_over = cookie::random(32);
        let binding = cookie::random(32);
        let stored = HandOver {
            session,
            binding: cookie::binding_hash(&binding),
        };
        let kept = match encode(self.clock.now(), stored) {
            Ok(v) => {
                self.once
                    .put(CODE, &hand_over, v, secs(CODE_TTL_SECS))
                    .await
            }
            Err(e) => Err(e),
        };
        kept.map_err(|e| fail("Sign-in state unavailable; please try again", e.to_string()))?;
        let mut location = format!("/oauth/complete#code={hand_over}");
        if let Some(next) = next {
            location.push_str("&next=");
            location.push_str(&percent_encoding::utf8_percent_encode(next, FRAGMENT).to_string());
        }
        let set_cookie = cookie::set_binding_cookie(
            &binding,
            tessera_shared::routes::OAUTH_COMPLETE,
            CODE_TTL_SECS,
            self.secure,
        );
        Ok((location, Some(set_cookie)))
    }

    /// The `Set-Cookie` value that clears the hand-over binding.
    pub fn clear_binding(&self) -> String {
        cookie::clear_binding_cookie(tessera_shared::routes::OAUTH_COMPLETE, self.secure)
    }

    /// The session of a finished browser sign-in (single use, 60 s), for
    /// the browser whose callback issued the code only: `binding` is its
    /// `tessera_handover` cookie. Unknown, used or expired: 401. Without the
    /// right binding (another browser, e.g. a victim sent an attacker's
    /// code): 403, and the code is left for its own browser — consuming it
    /// would give a holder of the code nothing but the power to cancel it.
    pub async fn complete(&self, code: &str, binding: Option<&str>) -> Result<SessionUser> {
        let now = self.clock.now();
        let gone = || Error::InvalidToken("unknown, used or expired sign-in code");
        let live = |s: &Stamped<HandOver>| now < s.at + CODE_TTL_SECS;
        let bound = |h: &HandOver| {
            binding.is_some_and(|b| cookie::same(&cookie::binding_hash(b), &h.binding))
        };
        let peeked = decode::<HandOver>(self.once.peek(CODE, code).await?)
            .filter(live)
            .ok_or_else(gone)?;
        if !bound(&peeked.v) {
            tracing::debug!("hand-over code presented without its browser's binding");
            return Err(Error::Forbidden(OTHER_BROWSER));
        }
        match decode::<HandOver>(self.once.take(CODE, code).await?) {
            Some(s) if live(&s) && bound(&s.v) => Ok(s.v.session),
            _ => Err(gone()),
        }
    }

    /// Records a refused browser sign-in at provider `name`, with the
    /// reason the sign-in page shows (cut short; never a code or token).
    fn audit_failure(&self, name: &str, client: Option<IpAddr>, reason: &str) {
        let reason: String = reason.chars().take(120).collect();
        self.audit.record(
            Record::new(AuditAction::SignInFailed)
                .method(format!("sso:{name}"))
                .ip(client)
                .detail(reason),
        );
    }
}

/// The provider's refusal (`error`, `error_description`), readable and
/// stripped of control characters; `None` when it sent none.
fn provider_refusal(params: &CallbackParams) -> Option<Failure> {
    let error = params.error.as_ref()?;
    let desc: String = params
        .error_description
        .as_deref()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    Some(fail(
        &format!(
            "The provider refused the sign-in: {}{}",
            error
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .take(64)
                .collect::<String>(),
            if desc.is_empty() {
                String::new()
            } else {
                format!(" ({desc})")
            }
        ),
        "error from the provider",
    ))
}
