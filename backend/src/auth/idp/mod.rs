//! IdP-issued JWTs: trusted issuers (static keys, JWKS or OIDC discovery),
//! Tessera's strict parse and checks, claims to users, roles and groups, and
//! the verified-token cache that makes a repeated token cost a hash, a
//! compare and a few map look-ups ([`crate::auth::verified_cache`]: keyed by a
//! keyed hash of the whole token, trusted only for the very token it was
//! made for).
pub mod inspect;
pub mod keys;
pub mod token;
pub mod verify;

use super::{BearerAuthenticator, Principal};
use crate::auth::account::Accounts;
use crate::auth::verified_cache::{Entry, Slot, VerifiedCache};
use crate::clock::Clock;
use crate::config::IssuerConfig;
use crate::domain::{external_id, ExternalUser};
use crate::error::{Error, Result};
use axum::http::request::Parts;
use keys::KeyStore;
use std::collections::BTreeMap;
use std::sync::Arc;
use tessera_shared::AuthMethod;
use token::Reason;
use verify::{Checks, Identity, IssuerRules};

/// One trusted issuer: its rules and its keys.
pub struct Issuer {
    /// Compiled settings.
    pub rules: IssuerRules,
    /// Its keys.
    pub keys: Arc<KeyStore>,
    mapping: crate::domain::RoleMapping,
    /// `name`, shared with every principal it vouches for.
    name: Arc<str>,
}

/// A token that passed every check, as kept in the verified-token cache.
#[derive(Debug, Clone)]
struct Verified {
    issuer: usize,
    generation: u64,
    user_id: String,
    subject: Arc<str>,
    exp: Option<i64>,
    nbf: Option<i64>,
    not_after: Option<i64>,
    iat: Option<i64>,
    /// What revokes it: its `jti`, or for a token without one a hash of the
    /// whole token ([`revocation_id`]).
    jti: Arc<str>,
    /// What else revokes it: the provider session of its `sid` claim
    /// ([`crate::auth::revocation::provider_session`]), ended by a
    /// back-channel logout.
    ended_by: Option<Arc<str>>,
    metadata: Arc<BTreeMap<String, String>>,
    /// The account and answer this token's requests share.
    memo: Arc<super::memo::CredentialMemo>,
}

/// The id a token without `jti` is revoked by: a SHA-256 of the whole token.
pub fn revocation_id(token: &str) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    format!(
        "sha256:{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
    )
}

impl Verified {
    /// Refuses what no longer holds for the user: a token revoked, or issued
    /// before they were signed out everywhere.
    fn still_valid(&self, user: &crate::domain::User) -> Result<()> {
        if let Some(t) = user.signed_out_at {
            if self.iat.is_none_or(|iat| iat <= t) {
                return Err(Error::InvalidToken(
                    "token issued before its user was signed out everywhere",
                ));
            }
        }
        Ok(())
    }
}

/// A token that passed the cryptographic and claim checks of one issuer.
pub struct Accepted {
    /// Index of the issuer.
    pub issuer: usize,
    /// The issuer's key generation at verification.
    pub generation: u64,
    /// The asserted identity.
    pub identity: Identity,
    /// `exp`, `nbf`, `iat`, `jti`.
    pub exp: Option<i64>,
    /// `nbf`.
    pub nbf: Option<i64>,
    /// `iat`.
    pub iat: Option<i64>,
    /// `jti`.
    pub jti: Option<String>,
    /// `sid`: the provider session it belongs to.
    pub sid: Option<String>,
}

/// The IdP token authenticator; cheap to clone.
#[derive(Clone)]
pub struct Idp(Arc<IdpInner>);

struct IdpInner {
    issuers: Vec<Issuer>,
    cache: Option<VerifiedCache<Verified>>,
    max_token_bytes: usize,
}

impl crate::auth::verified_cache::Expires for Verified {
    fn ends_at(&self) -> Option<i64> {
        [self.exp, self.not_after].into_iter().flatten().min()
    }
}

impl Idp {
    /// Builds the issuers (static keys are read here; a bad file fails start-up)
    /// with a cache of `cache_entries` verified tokens (0: none).
    pub fn new(issuers: &[IssuerConfig], cache_entries: u64) -> anyhow::Result<Self> {
        let issuers = issuers
            .iter()
            .map(|c| {
                let keys =
                    KeyStore::new(c).map_err(|e| anyhow::anyhow!("issuer `{}`: {e}", c.name))?;
                Ok(Issuer {
                    name: c.name.as_str().into(),
                    mapping: c.role_mapping(),
                    rules: IssuerRules::new(c.clone()),
                    keys: Arc::new(keys),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let max_token_bytes = issuers
            .iter()
            .map(|i| i.rules.config.max_token_bytes)
            .max()
            .unwrap_or(0);
        let cache =
            (cache_entries > 0 && !issuers.is_empty()).then(|| VerifiedCache::new(cache_entries));
        Ok(Idp(Arc::new(IdpInner {
            issuers,
            cache,
            max_token_bytes,
        })))
    }

    /// Fetches every issuer's keys once (a down IdP does not fail start-up),
    /// then keeps them fresh in the background.
    pub async fn start(&self) {
        let mut first = tokio::task::JoinSet::new();
        for issuer in self.0.issuers.iter().filter(|i| i.keys.is_remote()) {
            let keys = issuer.keys.clone();
            first.spawn(async move { keys.refresh(true).await });
        }
        while first.join_next().await.is_some() {}
        for issuer in self.0.issuers.iter().filter(|i| i.keys.is_remote()) {
            tokio::spawn(issuer.keys.clone().refresh_loop());
        }
    }

    /// The issuers, in config order.
    pub fn issuers(&self) -> &[Issuer] {
        &self.0.issuers
    }

    /// `(name, keys usable)` for each issuer: for `/readyz`.
    pub fn readiness(&self) -> Vec<(String, bool)> {
        self.0
            .issuers
            .iter()
            .map(|i| (i.rules.config.name.clone(), i.keys.usable()))
            .collect()
    }

    /// Verifies `token` fully at `now`: strict parse, issuer by `iss`, key by
    /// `kid` (one rate-limited refetch for an unknown `kid` when `refetch`),
    /// signature and every claim rule.
    pub async fn verify(&self, token: &str, now: i64, refetch: bool) -> Result<Accepted, Reason> {
        if self.0.issuers.is_empty() {
            return Err("no trusted issuers are configured");
        }
        let parsed = token::parse(token, self.0.max_token_bytes)?;
        // Tessera's own `kid` is never an IdP's: such a token is a session
        // token that is not one (session tokens are recognised by their
        // exact header)
        if parsed.header.kid.as_deref() == Some(super::session::SESSION_KID) {
            return Err("a session token's kid on a token that is not a session token");
        }
        let iss = parsed.registered.iss.as_deref().ok_or("iss missing")?;
        let mut last = "iss matches no trusted issuer";
        for (idx, issuer) in self.0.issuers.iter().enumerate() {
            let rules = &issuer.rules;
            if rules.config.issuer != iss {
                continue;
            }
            if token.len() > rules.config.max_token_bytes {
                return Err("token exceeds the size limit");
            }
            let mut refetched = false;
            let (generation, signed) = loop {
                if !issuer.keys.usable() {
                    break (0, Err(Some("the issuer's keys are not available")));
                }
                let generation = issuer.keys.generation();
                let set = issuer.keys.keys();
                match rules.check_signature(&parsed, &set, &mut Checks::strict()) {
                    Err(None) if refetch && !refetched && issuer.keys.is_remote() => {
                        issuer.keys.refresh(false).await;
                        refetched = true;
                    }
                    r => break (generation, r),
                }
            };
            match signed {
                Ok(()) => {
                    let identity = rules
                        .check_claims(&parsed, now, &mut Checks::strict())?
                        .ok_or("identity claims unusable")?;
                    let r = &parsed.registered;
                    return Ok(Accepted {
                        issuer: idx,
                        generation,
                        identity,
                        exp: r.exp,
                        nbf: r.nbf,
                        iat: r.iat,
                        jti: r.jti.clone(),
                        sid: match parsed.claims.get("sid") {
                            Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
                            _ => None,
                        },
                    });
                }
                Err(None) => last = "kid unknown to the issuer",
                Err(Some(reason)) => last = reason,
            }
        }
        Err(last)
    }

    /// The cache entry of `credential` (at `slot`) when it is kept and still
    /// valid at `now`; `Some(Err)` when it is kept but no longer valid.
    fn cached(
        &self,
        slot: Slot,
        credential: &str,
        now: i64,
    ) -> Option<std::result::Result<Arc<Entry<Verified>>, Reason>> {
        let cache = self.0.cache.as_ref()?;
        let e = cache.get(slot, credential)?;
        let v = &e.value;
        let issuer = self.0.issuers.get(v.issuer)?;
        if issuer.keys.generation() != v.generation || !issuer.keys.usable() {
            cache.invalidate(slot);
            return None;
        }
        let leeway = issuer.rules.config.leeway_seconds as i64;
        let time = if v.exp.is_some_and(|exp| now >= exp.saturating_add(leeway)) {
            Err("token expired")
        } else if v.nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
            Err("token not yet valid (nbf)")
        } else if v
            .not_after
            .is_some_and(|end| now > end.saturating_add(leeway))
        {
            Err("token older than max_token_age_seconds")
        } else {
            Ok(())
        };
        if time.is_err() {
            cache.invalidate(slot);
        }
        Some(time.map(|()| e))
    }

    fn principal(
        &self,
        token: Arc<str>,
        user: Arc<crate::domain::User>,
        v: &Verified,
    ) -> Principal {
        Principal {
            user,
            kind: crate::auth::policy::CredentialKind::IdpJwt,
            method: AuthMethod::Jwt,
            token,
            jti: Some(v.jti.clone()),
            expires_at: v.exp,
            issuer: self.0.issuers.get(v.issuer).map(|i| i.name.clone()),
            subject: Some(v.subject.clone()),
            metadata: (!v.metadata.is_empty()).then(|| v.metadata.clone()),
            memo: Some(v.memo.clone()),
            embed: None,
        }
    }
}

/// IdP tokens as a way to authenticate: the verifier ([`Idp`]) and what a
/// verified token's account is looked up and kept in.
pub struct IdpAuthenticator {
    idp: Idp,
    accounts: Accounts,
    clock: Arc<dyn Clock>,
}

impl IdpAuthenticator {
    /// Verifies with `idp`; accounts are found in and provisioned to
    /// `accounts`.
    pub fn new(idp: Idp, accounts: Accounts, clock: Arc<dyn Clock>) -> Self {
        Self {
            idp,
            accounts,
            clock,
        }
    }
}

#[async_trait::async_trait]
impl BearerAuthenticator for IdpAuthenticator {
    fn recognises(&self, credential: &str) -> bool {
        !self.idp.0.issuers.is_empty() && credential.contains('.')
    }

    fn forget_all(&self) {
        if let Some(cache) = &self.idp.0.cache {
            cache.invalidate_all();
        }
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn authenticate(&self, credential: &str, _parts: &Parts) -> Result<Principal> {
        let now = self.clock.now();
        // the cache slot; no hashing of every token when there is no cache
        let slot = self.idp.0.cache.as_ref().map(|c| c.slot(credential));
        if let Some(hit) = slot.and_then(|slot| self.idp.cached(slot, credential, now)) {
            let e = hit.map_err(Error::InvalidToken)?;
            let v = &e.value;
            let user = self
                .accounts
                .holder([Some(&v.jti), v.ended_by.as_deref()], &v.user_id, &v.memo)
                .await?;
            v.still_valid(&user)?;
            return Ok(self.idp.principal(e.token.clone(), user, v));
        }
        let accepted = self
            .idp
            .verify(credential, now, true)
            .await
            .map_err(Error::InvalidToken)?;
        let jti: Arc<str> = match accepted.jti.as_deref() {
            Some(jti) => jti.into(),
            None => revocation_id(credential).into(),
        };
        if self.accounts.revocations.is_revoked(&jti) {
            return Err(Error::InvalidToken("token revoked"));
        }
        let issuer = &self.idp.0.issuers[accepted.issuer];
        let cfg = &issuer.rules.config;
        let id = &accepted.identity;
        let role = issuer.mapping.admit(&id.groups)?;
        let user_id = external_id(&cfg.name, &id.subject);
        if !cfg.auto_provision && self.accounts.users.get(&user_id).await?.is_none() {
            return Err(Error::InvalidToken(
                "unknown user and auto_provision is off",
            ));
        }
        let user = self
            .accounts
            .users
            .upsert_external(
                &ExternalUser {
                    source: &cfg.name,
                    subject: &id.subject,
                    email: &id.email,
                    name: &id.name,
                    role,
                    groups: &id.groups,
                    create_groups: cfg.create_groups,
                },
                now,
            )
            .await?;
        let verified = Verified {
            issuer: accepted.issuer,
            generation: accepted.generation,
            user_id: user.id.clone(),
            subject: id.subject.as_str().into(),
            exp: accepted.exp,
            nbf: accepted.nbf,
            not_after: cfg
                .max_token_age_seconds
                .zip(accepted.iat)
                .map(|(max, iat)| iat.saturating_add(max as i64)),
            iat: accepted.iat,
            jti,
            ended_by: accepted
                .sid
                .as_deref()
                .map(|sid| crate::auth::revocation::provider_session(&cfg.issuer, sid).into()),
            metadata: Arc::new(id.metadata.clone()),
            memo: Arc::default(),
        };
        let revocations = &self.accounts.revocations;
        if [Some(&verified.jti), verified.ended_by.as_ref()]
            .into_iter()
            .flatten()
            .any(|id| revocations.is_revoked(id))
        {
            return Err(Error::InvalidToken("token revoked"));
        }
        verified.still_valid(&user)?;
        let entry = Entry::new(credential, verified);
        let principal = self.idp.principal(entry.token.clone(), user, &entry.value);
        if let (Some(cache), Some(slot)) = (&self.idp.0.cache, slot) {
            cache.insert(slot, entry);
        }
        Ok(principal)
    }
}

#[cfg(test)]
mod tests;
