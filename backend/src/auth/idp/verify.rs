//! One issuer's checks on a parsed token: signature (jsonwebtoken's
//! cryptography, after Tessera's own ECDSA range check), registered claims,
//! bound claims and the identity claims. Each check is named, so the token
//! inspector can list them all; the hot path stops at the first failure.
use super::keys::{KeySet, Selection};
use super::token::{claim, groups, NullGroups, ParsedToken, Reason};
use crate::config::{BoundClaimsType, IssuerConfig, Scalar};
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// One check's outcome, for the inspector.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// Collects check outcomes: stops at the first failure unless inspecting.
pub struct Checks<'a> {
    out: Option<&'a mut Vec<Check>>,
    first: Option<Reason>,
}

impl<'a> Checks<'a> {
    /// Stop at the first failure.
    pub fn strict() -> Self {
        Self {
            out: None,
            first: None,
        }
    }
    /// Record every check into `out` and carry on past failures.
    pub fn recording(out: &'a mut Vec<Check>) -> Self {
        Self {
            out: Some(out),
            first: None,
        }
    }
    /// Records a check; `Err` ends verification unless recording.
    pub fn run(&mut self, name: &'static str, r: Result<(), Reason>) -> Result<(), Reason> {
        let reason = r.err();
        if let Some(out) = self.out.as_deref_mut() {
            out.push(Check {
                name,
                ok: reason.is_none(),
                reason,
            });
            if let Some(reason) = reason {
                self.first.get_or_insert(reason);
            }
            Ok(())
        } else {
            reason.map_or(Ok(()), Err)
        }
    }
    /// The first failure, when recording.
    pub fn outcome(&self) -> Result<(), Reason> {
        self.first.map_or(Ok(()), Err)
    }
}

/// The identity a verified token asserts.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The user claim's value (never normalised).
    pub subject: String,
    /// E-mail (may be empty).
    pub email: String,
    /// Display name.
    pub name: String,
    /// Groups.
    pub groups: Vec<String>,
    /// Mapped claims.
    pub metadata: BTreeMap<String, String>,
}

/// An issuer's compiled settings.
pub struct IssuerRules {
    /// The config.
    pub config: IssuerConfig,
    algorithms: Vec<Algorithm>,
    required: Vec<String>,
}

impl IssuerRules {
    /// Compiles `config` (already validated).
    pub fn new(config: IssuerConfig) -> Self {
        let algorithms = config
            .algorithms
            .iter()
            .filter_map(|a| super::token::algorithm(a))
            .collect();
        let required = config.required();
        Self {
            config,
            algorithms,
            required,
        }
    }

    /// Whether `alg` is allowed for this issuer.
    pub fn allows(&self, alg: Algorithm) -> bool {
        self.algorithms.contains(&alg)
    }

    /// Checks the signature with a key of `keys`. `Err(None)` means the `kid`
    /// is unknown (a refetch may help).
    pub fn check_signature(
        &self,
        t: &ParsedToken<'_>,
        keys: &KeySet,
        checks: &mut Checks<'_>,
    ) -> Result<(), Option<Reason>> {
        let alg = t.header.alg;
        checks
            .run(
                "alg allowed",
                if self.allows(alg) {
                    Ok(())
                } else {
                    Err("alg not allowed for this issuer")
                },
            )
            .map_err(Some)?;
        let key = match keys.select(alg, t.header.kid.as_deref()) {
            Selection::Found(k) => k,
            Selection::UnknownKid => {
                let _ = checks.run("key", Err("kid unknown to the issuer"));
                return Err(None);
            }
            Selection::Refused(r) => {
                let _ = checks.run("key", Err(r));
                return Err(Some(r));
            }
        };
        checks.run("key", Ok(())).map_err(Some)?;
        checks
            .run("signature", verify_signature(t, alg, key))
            .map_err(Some)
    }

    /// Checks every claim rule at `now`; returns the asserted identity.
    pub fn check_claims(
        &self,
        t: &ParsedToken<'_>,
        now: i64,
        checks: &mut Checks<'_>,
    ) -> Result<Option<Identity>, Reason> {
        let c = &self.config;
        let r = &t.registered;
        let leeway = c.leeway_seconds as i64;
        let missing = self
            .required
            .iter()
            .find(|name| !t.claims.contains_key(name.as_str()));
        checks.run(
            "required claims",
            missing.map_or(Ok(()), |_| Err("a required claim is missing")),
        )?;
        checks.run(
            "iss",
            if r.iss.as_deref() == Some(c.issuer.as_str()) {
                Ok(())
            } else {
                Err("iss does not match the issuer")
            },
        )?;
        let aud_ok = match (&r.aud, c.audiences.is_empty()) {
            (_, true) if c.allow_any_audience => Ok(()),
            (Some(aud), false) => {
                if aud.0.iter().any(|a| c.audiences.iter().any(|w| w == a)) {
                    Ok(())
                } else {
                    Err("aud does not contain an accepted audience")
                }
            }
            _ => Err("aud missing"),
        };
        checks.run("aud", aud_ok)?;
        checks.run(
            "exp",
            match r.exp {
                Some(exp) if now >= exp.saturating_add(leeway) => Err("token expired"),
                _ => Ok(()),
            },
        )?;
        checks.run(
            "nbf",
            match r.nbf {
                Some(nbf) if nbf > now.saturating_add(leeway) => Err("token not yet valid (nbf)"),
                _ => Ok(()),
            },
        )?;
        checks.run(
            "iat",
            match r.iat {
                Some(iat) if iat > now.saturating_add(leeway) => Err("iat in the future"),
                _ => Ok(()),
            },
        )?;
        checks.run(
            "max token age",
            match (c.max_token_age_seconds, r.iat) {
                (Some(max), Some(iat))
                    if now > iat.saturating_add(max as i64).saturating_add(leeway) =>
                {
                    Err("token older than max_token_age_seconds")
                }
                (Some(_), None) => Err("max_token_age_seconds is set but the token has no iat"),
                _ => Ok(()),
            },
        )?;
        let identity = self.identity(&t.claims);
        let subject = identity.as_ref().ok().map(|i| i.subject.as_str());
        checks.run(
            "bound_subject",
            match (&c.bound_subject, subject) {
                (Some(want), Some(got)) if want != got => {
                    Err("user claim does not equal bound_subject")
                }
                _ => Ok(()),
            },
        )?;
        checks.run("bound_claims", self.check_bound(&t.claims))?;
        checks.run(
            "email_verified",
            if c.user_claim == c.email_claim {
                match t.claims.get("email_verified") {
                    None | Some(Value::Bool(true)) => Ok(()),
                    Some(_) => Err("email_verified is present and not true"),
                }
            } else {
                Ok(())
            },
        )?;
        let identity_ok = identity.as_ref().map(|_| ()).map_err(|e| *e);
        checks.run("identity claims", identity_ok)?;
        Ok(identity.ok())
    }

    fn check_bound(&self, claims: &Map<String, Value>) -> Result<(), Reason> {
        for (name, want) in &self.config.bound_claims {
            let Some(got) = claim(claims, name) else {
                return Err("a bound claim is missing");
            };
            let candidates: Vec<&Value> = match got {
                Value::Array(items) => items.iter().collect(),
                v => vec![v],
            };
            let hit = candidates.iter().any(|v| {
                want.values()
                    .iter()
                    .any(|w| scalar_matches(w, v, self.config.bound_claims_type))
            });
            if !hit {
                return Err("a bound claim does not match");
            }
        }
        Ok(())
    }

    /// The identity claims: user, e-mail, name, groups, mapped claims.
    fn identity(&self, claims: &Map<String, Value>) -> Result<Identity, Reason> {
        let c = &self.config;
        let subject = match claim(claims, &c.user_claim) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::String(_)) | None => return Err("the user claim is missing or empty"),
            Some(_) => return Err("the user claim is not a string"),
        };
        if subject.chars().any(char::is_control) {
            return Err("the user claim contains control characters");
        }
        let email = match claim(claims, &c.email_claim) {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err("the email claim is not a string"),
        };
        if email.chars().any(char::is_control) {
            return Err("the email claim contains control characters");
        }
        let name = match c.name_claim.as_deref().map(|n| claim(claims, n)) {
            None | Some(None) => None,
            Some(Some(Value::String(s))) => Some(s.clone()),
            Some(Some(_)) => return Err("the name claim is not a string"),
        };
        let name = name.filter(|n| !n.is_empty()).unwrap_or_else(|| {
            if email.is_empty() {
                subject.clone()
            } else {
                email.clone()
            }
        });
        let groups = groups(claims, c.groups_claim.as_deref(), NullGroups::Refused)?;
        let mut metadata = BTreeMap::new();
        for (name, key) in &c.claim_mappings {
            let value = match claim(claims, name) {
                None | Some(Value::Null) => return Err("a mapped claim is missing"),
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
            };
            metadata.insert(key.clone(), value);
        }
        Ok(Identity {
            subject,
            email,
            name,
            groups,
            metadata,
        })
    }
}

fn scalar_matches(want: &Scalar, got: &Value, kind: BoundClaimsType) -> bool {
    match (want, got) {
        (Scalar::Str(w), Value::String(g)) => match kind {
            BoundClaimsType::String => w == g,
            BoundClaimsType::Glob => glob(w, g),
        },
        (Scalar::Bool(w), Value::Bool(g)) => w == g,
        (Scalar::Int(w), Value::Number(g)) => g.as_i64() == Some(*w),
        _ => false,
    }
}

/// `*` matches any run of characters (none included); everything else is literal.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// P-256 group order, big-endian.
const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];
/// P-384 group order, big-endian.
const P384_N: [u8; 48] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37, 0x2d, 0xdf,
    0x58, 0x1a, 0x0d, 0xb2, 0x48, 0xb0, 0xa7, 0x7a, 0xec, 0xec, 0x19, 0x6a, 0xcc, 0xc5, 0x29, 0x73,
];

/// ECDSA `r` and `s` must each be in `1..n` (the "psychic signature" class).
pub fn ecdsa_in_range(sig: &[u8], n: &[u8]) -> bool {
    if sig.len() != 2 * n.len() {
        return false;
    }
    let (r, s) = sig.split_at(n.len());
    let ok = |x: &[u8]| x.iter().any(|b| *b != 0) && x < n;
    ok(r) && ok(s)
}

fn verify_signature(
    t: &ParsedToken<'_>,
    alg: Algorithm,
    key: &super::keys::Key,
) -> Result<(), Reason> {
    match alg {
        Algorithm::ES256 if !ecdsa_in_range(&t.signature, &P256_N) => {
            return Err("ECDSA signature with r or s zero or out of range")
        }
        Algorithm::ES384 if !ecdsa_in_range(&t.signature, &P384_N) => {
            return Err("ECDSA signature with r or s zero or out of range")
        }
        _ => {}
    }
    match jsonwebtoken::crypto::verify(t.signature_b64, t.signing_input.as_bytes(), &key.key, alg) {
        Ok(true) => Ok(()),
        _ => Err("bad signature"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*@example.com", "ann@example.com"));
        assert!(!glob("*@example.com", "ann@example.com.evil"));
        assert!(glob("team-*-admins", "team-x-admins"));
        assert!(glob("a*b*c", "abc"));
        assert!(!glob("a*b*c", "acb"));
        assert!(glob("*", ""));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exactly"));
    }

    #[test]
    fn ecdsa_range() {
        let mut sig = [1u8; 64];
        assert!(ecdsa_in_range(&sig, &P256_N));
        assert!(!ecdsa_in_range(&[0u8; 64], &P256_N), "psychic signature");
        sig[..32].copy_from_slice(&P256_N);
        assert!(!ecdsa_in_range(&sig, &P256_N), "r == n");
        sig[..32].fill(0xff);
        assert!(!ecdsa_in_range(&sig, &P256_N), "r > n");
        assert!(!ecdsa_in_range(&[1u8; 63], &P256_N), "length");
        assert!(ecdsa_in_range(&[1u8; 96], &P384_N));
    }
}
