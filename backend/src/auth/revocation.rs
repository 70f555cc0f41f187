//! The revocation list: every revoked token id, in memory for the hot path and
//! in a [`RevocationStore`] so it survives restarts.
use crate::error::Result;
use crate::store::revocations::RevocationStore;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Revoked token ids, checked on every request without a database round trip.
pub struct Revocations {
    store: Arc<dyn RevocationStore>,
    revoked: RwLock<HashMap<String, Option<i64>>>,
}

impl Revocations {
    /// Loads the revocations in force at `now` from `store`.
    pub async fn load(store: Arc<dyn RevocationStore>, now: i64) -> Result<Self> {
        let revoked = store.load(now).await?.into_iter().collect();
        Ok(Self {
            store,
            revoked: RwLock::new(revoked),
        })
    }

    /// Whether `jti` is revoked.
    pub fn is_revoked(&self, jti: &str) -> bool {
        self.revoked
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(jti)
    }

    /// Revokes `jti` until `expires_at`; true when it was not revoked before,
    /// here or (for a store shared by replicas) anywhere. The in-memory
    /// insert decides between concurrent calls here, the store between
    /// replicas, so of two concurrent calls only one wins. The store is
    /// always written, so a call that failed can be retried; the token is
    /// refused here even when the store fails.
    pub async fn revoke(&self, jti: &str, expires_at: Option<i64>) -> Result<bool> {
        let fresh_here = self
            .revoked
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(jti.to_owned(), expires_at)
            .is_none();
        let fresh_everywhere = self.store.revoke_once(jti, expires_at).await?;
        Ok(fresh_here && fresh_everywhere)
    }

    /// Notes a revocation another replica made (already stored).
    pub fn note(&self, jti: String, expires_at: Option<i64>) {
        self.revoked
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(jti, expires_at);
    }

    /// Adds every revocation the store holds at `now` (after missed events).
    pub async fn reload(&self, now: i64) -> Result<()> {
        let loaded = self.store.load(now).await?;
        let mut revoked = self.revoked.write().unwrap_or_else(|e| e.into_inner());
        revoked.extend(loaded);
        Ok(())
    }

    /// Forgets revocations of tokens expired by `now`, here and in the store.
    pub async fn purge(&self, now: i64) -> Result<u64> {
        self.revoked
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, exp| exp.is_none_or(|exp| exp > now));
        self.store.purge(now).await
    }

    /// Number of revocations in memory.
    pub fn len(&self) -> usize {
        self.revoked.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no token is revoked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The id a provider session is revoked by once its provider ended it
/// (back-channel logout): sessions signed in through it carry it as `src`,
/// and IdP tokens with its `sid` are checked against it. A hash, so `sid`
/// values of any length or content make ids of one shape.
pub fn provider_session(issuer: &str, sid: &str) -> String {
    format!("sid:{}", digest(issuer, sid))
}

/// The id a provider's logout token is remembered by, so it is used once.
pub fn seen_token(issuer: &str, jti: &str) -> String {
    format!("logout:{}", digest(issuer, jti))
}

fn digest(issuer: &str, value: &str) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let d = Sha256::new()
        .chain_update(issuer.trim_end_matches('/').as_bytes())
        .chain_update([0u8])
        .chain_update(value.as_bytes())
        .finalize();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&d[..18])
}
