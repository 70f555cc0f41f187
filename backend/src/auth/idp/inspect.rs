//! "Why was this token refused?": every check of the matching issuer, run
//! without stopping at the first failure and without fetching keys, with the
//! header and claims (never the signature) for the admin's token inspector.
use super::token;
use super::verify::{Check, Checks};
use super::Idp;
use serde::Serialize;
use serde_json::{Map, Value};

/// The inspector's answer.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Whether every check passed.
    pub valid: bool,
    /// The matching issuer's name.
    pub issuer: Option<String>,
    /// Each check, in order.
    pub checks: Vec<Check>,
    /// The decoded header (when it parsed).
    pub header: Option<Map<String, Value>>,
    /// The decoded claims (when they parsed).
    pub claims: Option<Map<String, Value>>,
}

impl Idp {
    /// Runs every check on `token` at `now`.
    pub fn inspect(&self, token: &str, now: i64) -> Report {
        let mut checks = Vec::new();
        let mut report = Report {
            valid: false,
            issuer: None,
            checks: Vec::new(),
            header: None,
            claims: None,
        };
        let parsed = match token::parse(token, self.0.max_token_bytes.max(1)) {
            Ok(p) => p,
            Err(reason) => {
                report.checks.push(Check {
                    name: "parse",
                    ok: false,
                    reason: Some(reason),
                });
                // show what can be decoded, to help find the problem
                let mut parts = token.split('.');
                report.header = parts.next().and_then(decode_part);
                report.claims = parts.next().and_then(decode_part);
                return report;
            }
        };
        checks.push(Check {
            name: "parse",
            ok: true,
            reason: None,
        });
        report.header = Some(parsed.header.raw.clone());
        report.claims = Some(parsed.claims.clone());
        let iss = parsed.registered.iss.as_deref();
        let issuer = self
            .issuers()
            .iter()
            .filter(|i| Some(i.rules.config.issuer.as_str()) == iss)
            .find(|i| {
                let set = i.keys.keys();
                i.rules
                    .check_signature(&parsed, &set, &mut Checks::strict())
                    .is_ok()
            })
            .or_else(|| {
                self.issuers()
                    .iter()
                    .find(|i| Some(i.rules.config.issuer.as_str()) == iss)
            });
        let Some(issuer) = issuer else {
            checks.push(Check {
                name: "issuer",
                ok: false,
                reason: Some("iss matches no trusted issuer"),
            });
            report.checks = checks;
            return report;
        };
        checks.push(Check {
            name: "issuer",
            ok: true,
            reason: None,
        });
        report.issuer = Some(issuer.rules.config.name.clone());
        let usable = issuer.keys.usable();
        checks.push(Check {
            name: "keys available",
            ok: usable,
            reason: (!usable).then_some("the issuer's keys are not available"),
        });
        let mut rec = Checks::recording(&mut checks);
        let set = issuer.keys.keys();
        let _ = issuer.rules.check_signature(&parsed, &set, &mut rec);
        let _ = issuer.rules.check_claims(&parsed, now, &mut rec);
        report.valid = rec.outcome().is_ok() && usable;
        report.checks = checks;
        report
    }
}

fn decode_part(part: &str) -> Option<Map<String, Value>> {
    let bytes = token::b64url(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}
