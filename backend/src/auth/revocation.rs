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

    /// Revokes `jti` until `expires_at`; true when it was not revoked before.
    /// The in-memory insert decides, so of two concurrent calls only one wins.
    pub async fn revoke(&self, jti: &str, expires_at: Option<i64>) -> Result<bool> {
        let fresh = self
            .revoked
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(jti.to_owned(), expires_at)
            .is_none();
        if fresh {
            self.store.revoke(jti, expires_at).await?;
        }
        Ok(fresh)
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
