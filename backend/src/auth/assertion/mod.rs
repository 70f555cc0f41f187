//! Forward auth's signed identity assertion (`X-Tessera-Assertion`): an
//! ES256 JWT under a key Tessera makes itself, keeps sealed in the database
//! (so every replica signs with the same keys), rotates, and publishes at
//! `GET /.well-known/jwks.json`.
//!
//! Rotation fails no request: a new key is published `publish_ahead`
//! before it signs ([`plan`]), every replica reloads the keys more often
//! than that, and a key that stopped signing stays published for `grace`
//! (at least an assertion's lifetime).
mod plan;

pub use plan::{plan, KeyTimes, Plan, Timing};

use super::forward::{groups_value, header_value};
use super::oidc::seal::Sealer;
use crate::clock::Clock;
use crate::config::AssertionConfig;
use crate::domain::User;
use crate::error::{Error, Result};
use crate::store::assertion_keys::StoredAssertionKey;
use crate::store::Db;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use axum::body::Bytes;
use axum::http::{HeaderName, HeaderValue};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tessera_shared::Role;

/// 503: no key to sign with (the database could not be read at start).
pub const NO_KEY: &str = "No assertion signing key is available";
/// 503: the keys could not be reloaded for so long that the signing key
/// may already be retired (and unpublished) by another replica.
pub const STALE_KEYS: &str = "The assertion keys could not be reloaded; try again later";

/// The claims of an assertion.
#[derive(Debug, Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    email: &'a str,
    name: &'a str,
    groups: &'a [String],
    role: Role,
    iat: i64,
    exp: i64,
    jti: String,
}

/// A key that is published, ready to sign.
struct LoadedKey {
    times: KeyTimes,
    encoding: EncodingKey,
    jwk: serde_json::Value,
}

/// The keys in force: the one that signs and the published ones.
#[derive(Default)]
struct Ring {
    signing: Option<Arc<LoadedKey>>,
    published: Vec<Arc<LoadedKey>>,
    jwks: Bytes,
}

/// An assertion already signed for a user and an audience, with the
/// identity headers that go with it: handed out again while it has at
/// least half its lifetime left, so a cached credential's forward auth
/// signs and encodes nothing.
pub struct Issued {
    user_id: String,
    aud: String,
    kid: String,
    email: String,
    name: String,
    role: Role,
    groups: Vec<String>,
    iat: i64,
    /// The assertion.
    pub token: Arc<str>,
    /// `X-Tessera-*`, the assertion's included, ready for a response.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// The assertion keys and the assertions signed with them.
pub struct AssertionKeys {
    db: Db,
    sealer: Sealer,
    clock: Arc<dyn Clock>,
    timing: Timing,
    ttl: i64,
    refresh_every: Duration,
    /// When the keys were last reloaded (Unix seconds).
    refreshed_at: AtomicI64,
    issuer: String,
    ring: RwLock<Arc<Ring>>,
    issued: moka::sync::Cache<u64, Arc<Issued>>,
    hasher: RandomState,
}

impl AssertionKeys {
    /// Assertions issued as `issuer` (the public URL), keys sealed under a
    /// key derived from the session secret; loads (or makes) the keys.
    pub async fn load(
        db: Db,
        session_secret: &[u8],
        config: &AssertionConfig,
        issuer: String,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<AssertionKeys> {
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        let keys = AssertionKeys {
            db,
            sealer: Sealer::derive_for(session_secret, b"tessera assertion key seal v1")?,
            clock,
            timing: Timing {
                rotate_every: secs(config.rotate_every),
                publish_ahead: secs(config.publish_ahead),
                grace: secs(config.grace),
            },
            ttl: secs(config.ttl),
            refresh_every: config.refresh_every(),
            refreshed_at: AtomicI64::new(i64::MIN),
            issuer,
            ring: RwLock::new(Arc::new(Ring::default())),
            issued: moka::sync::Cache::builder()
                .max_capacity(50_000)
                .time_to_live(config.ttl)
                .build(),
            hasher: RandomState::new(),
        };
        keys.refresh().await?;
        Ok(keys)
    }

    /// How often every replica reloads the keys: well within
    /// `publish_ahead` ([`AssertionConfig::refresh_every`]).
    pub fn refresh_every(&self) -> Duration {
        self.refresh_every
    }

    /// Reloads the keys from the database: makes the next one when it is
    /// due, deletes the retired ones.
    pub async fn refresh(&self) -> Result<()> {
        let now = self.clock.now();
        let current = self.current();
        let mut loaded: Vec<Arc<LoadedKey>> = Vec::new();
        for stored in self.db.assertion_keys().await? {
            match current.published.iter().find(|k| k.times.kid == stored.kid) {
                Some(k) => loaded.push(k.clone()),
                None => match self.open(&stored) {
                    Some(k) => loaded.push(Arc::new(k)),
                    None => tracing::warn!(
                        kid = %stored.kid,
                        "an assertion key does not open with this session secret; skipped"
                    ),
                },
            }
        }
        let times: Vec<KeyTimes> = loaded.iter().map(|k| k.times.clone()).collect();
        let mut p = plan(&times, now, self.timing);
        if let Some(sign_from) = p.make_new {
            let (stored, key) = self.generate(now, sign_from)?;
            self.db.insert_assertion_key(&stored).await?;
            tracing::info!(kid = %stored.kid, sign_from, "made a new assertion signing key");
            loaded.push(Arc::new(key));
            let times: Vec<KeyTimes> = loaded.iter().map(|k| k.times.clone()).collect();
            p = plan(&times, now, self.timing);
        }
        for kid in &p.retired {
            self.db.delete_assertion_key(kid).await?;
        }
        let find = |kid: &str| loaded.iter().find(|k| k.times.kid == kid).cloned();
        let published: Vec<Arc<LoadedKey>> = p.published.iter().filter_map(|k| find(k)).collect();
        let jwks = serde_json::to_vec(&serde_json::json!({
            "keys": published.iter().map(|k| &k.jwk).collect::<Vec<_>>()
        }))
        .map_err(anyhow::Error::from)?;
        let ring = Ring {
            signing: p.signing.as_deref().and_then(find),
            published,
            jwks: jwks.into(),
        };
        *self.ring.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(ring);
        self.refreshed_at.store(now, Ordering::Relaxed);
        Ok(())
    }

    fn current(&self) -> Arc<Ring> {
        self.ring.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The published public keys, as `GET /.well-known/jwks.json` answers.
    pub fn jwks(&self) -> Bytes {
        self.current().jwks.clone()
    }

    /// How long a verifier may cache the JWKS: under `publish_ahead`, so it
    /// has the next key before that key signs.
    pub fn jwks_max_age(&self) -> i64 {
        (self.timing.publish_ahead / 2).clamp(0, 300)
    }

    /// An assertion for `user`, for `aud` (`None`: the issuer).
    pub fn assertion(&self, user: &User, aud: Option<&str>) -> Result<Arc<Issued>> {
        let ring = self.current();
        let key = ring.signing.as_ref().ok_or(Error::Unavailable(NO_KEY))?;
        let aud = aud.unwrap_or(&self.issuer);
        let kid = key.times.kid.as_str();
        let now = self.clock.now();
        let since = now.saturating_sub(self.refreshed_at.load(Ordering::Relaxed));
        if since > self.timing.grace.saturating_sub(self.ttl) {
            return Err(Error::Unavailable(STALE_KEYS));
        }
        let slot = self.hasher.hash_one((&user.id, aud, kid));
        if let Some(i) = self.issued.get(&slot) {
            let fresh = now >= i.iat && now - i.iat <= self.ttl / 2;
            let same = i.user_id == user.id
                && i.aud == aud
                && i.kid == kid
                && i.email == user.email
                && i.name == user.name
                && i.role == user.role
                && i.groups == user.groups;
            if fresh && same {
                return Ok(i);
            }
        }
        let claims = Claims {
            iss: &self.issuer,
            sub: &user.id,
            aud,
            email: &user.email,
            name: &user.name,
            groups: &user.groups,
            role: user.role,
            iat: now,
            exp: now.saturating_add(self.ttl),
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.to_owned());
        let token: Arc<str> = jsonwebtoken::encode(&header, &claims, &key.encoding)
            .map_err(|e| anyhow::anyhow!("signing an assertion: {e}"))?
            .into();
        let issued = Arc::new(Issued {
            user_id: user.id.clone(),
            aud: aud.to_owned(),
            kid: kid.to_owned(),
            email: user.email.clone(),
            name: user.name.clone(),
            role: user.role,
            groups: user.groups.clone(),
            iat: now,
            headers: identity_headers(user, &token)?,
            token,
        });
        self.issued.insert(slot, issued.clone());
        Ok(issued)
    }

    /// A new key: signs from `sign_from`, sealed for the database.
    fn generate(&self, now: i64, sign_from: i64) -> Result<(StoredAssertionKey, LoadedKey)> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| anyhow::anyhow!("generating an assertion key failed"))?;
        let kid = uuid::Uuid::new_v4().simple().to_string();
        let times = KeyTimes {
            kid: kid.clone(),
            created_at: now,
            sign_from,
        };
        let key = loaded(times, pkcs8.as_ref())
            .ok_or_else(|| anyhow::anyhow!("loading a new assertion key failed"))?;
        let sealed_key = self.sealer.seal(&kid, &STANDARD.encode(pkcs8.as_ref()))?;
        let stored = StoredAssertionKey {
            kid,
            sealed_key,
            created_at: now,
            sign_from,
        };
        Ok((stored, key))
    }

    /// A stored key, opened; `None` when it does not open with this secret.
    fn open(&self, stored: &StoredAssertionKey) -> Option<LoadedKey> {
        let b64 = self.sealer.open(&stored.kid, &stored.sealed_key)?;
        let der = STANDARD.decode(b64.expose()).ok()?;
        loaded(
            KeyTimes {
                kid: stored.kid.clone(),
                created_at: stored.created_at,
                sign_from: stored.sign_from,
            },
            &der,
        )
    }
}

/// The headers of forward auth's 200: the identity, each value encoded by
/// [`header_value`], and the assertion.
fn identity_headers(user: &User, token: &str) -> Result<Vec<(HeaderName, HeaderValue)>> {
    let value = |s: String| {
        HeaderValue::try_from(s).map_err(|_| anyhow::anyhow!("an identity header value"))
    };
    Ok(vec![
        (
            HeaderName::from_static("x-tessera-user"),
            value(header_value(&user.id))?,
        ),
        (
            HeaderName::from_static("x-tessera-email"),
            value(header_value(&user.email))?,
        ),
        (
            HeaderName::from_static("x-tessera-name"),
            value(header_value(&user.name))?,
        ),
        (
            HeaderName::from_static("x-tessera-groups"),
            value(groups_value(&user.groups))?,
        ),
        (
            HeaderName::from_static("x-tessera-role"),
            HeaderValue::from_static(user.role.as_str()),
        ),
        (
            HeaderName::from_static("x-tessera-assertion"),
            value(token.to_owned())?,
        ),
    ])
}

/// The signing key and public JWK of a PKCS#8 P-256 key.
fn loaded(times: KeyTimes, pkcs8: &[u8]) -> Option<LoadedKey> {
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8).ok()?;
    let point = pair.public_key().as_ref();
    // an uncompressed point: 0x04 || x || y
    if point.len() != 65 || point[0] != 4 {
        return None;
    }
    let jwk = serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..]),
        "kid": times.kid,
        "use": "sig",
        "alg": "ES256",
    });
    Some(LoadedKey {
        times,
        encoding: EncodingKey::from_ec_der(pkcs8),
        jwk,
    })
}

#[cfg(test)]
mod tests;
