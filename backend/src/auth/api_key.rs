//! API keys: `sk-` followed by 256 random bits (base64url). Stored only as
//! HMAC-SHA256 under a server secret — a fast keyed hash suits random keys —
//! and indexed in memory, kept in step with creation and revocation, so a
//! known key costs no database round trip. One active key per user.
use super::{BearerAuthenticator, Principal};
use crate::config::ApiKeysConfig;
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::store::api_keys::StoredKey;
use crate::store::users::PERMISSION_API_KEYS;
use crate::store::Db;
use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::percent_decode_str;
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tessera_shared::AuthMethod;

/// Every API key starts with this.
pub const PREFIX: &str = "sk-";
/// 403 when keys are off, or the user lacks the permission.
pub const NOT_ALLOWED: &str = "API key not allowed";
/// 403 for a path outside `allowed_endpoints`.
pub const ENDPOINT_NOT_ALLOWED: &str = "API key not allowed to access this endpoint";
/// Record a key's use at most this often (seconds).
const TOUCH_EVERY: i64 = 60;

type Digest = [u8; 32];

struct Entry {
    id: String,
    user_id: String,
    digest: Digest,
    last_touch: AtomicI64,
    /// The account and answer this key's requests share.
    remembered: Arc<super::remembered::Remembered>,
}

/// The key index and the secret keys are hashed under.
pub struct ApiKeys {
    mac: Hmac<Sha256>,
    by_digest: RwLock<HashMap<Digest, Arc<Entry>>>,
    /// Bumped when another replica changes keys: a database read that began
    /// before is not indexed after.
    generation: AtomicU64,
}

fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Digest> {
    let mut d = [0u8; 32];
    if s.len() != 64 {
        return None;
    }
    for (i, byte) in d.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(d)
}

impl ApiKeys {
    /// Loads every stored key into the index.
    pub async fn load(db: &Db, secret: Vec<u8>) -> Result<Self> {
        let keys = Self {
            mac: Hmac::new_from_slice(&secret)
                .map_err(|e| anyhow::anyhow!("API key secret: {e}"))?,
            by_digest: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
        };
        for stored in db.api_keys().await? {
            keys.remember(&stored);
        }
        Ok(keys)
    }

    fn digest(&self, key: &str) -> Digest {
        let mut mac = self.mac.clone();
        mac.update(key.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn remember(&self, stored: &StoredKey) -> Option<Arc<Entry>> {
        let digest = unhex(&stored.digest)?;
        let entry = Arc::new(Entry {
            id: stored.id.clone(),
            user_id: stored.user_id.clone(),
            digest,
            last_touch: AtomicI64::new(stored.last_used_at.unwrap_or(0)),
            remembered: Arc::new(super::remembered::Remembered::for_secret()),
        });
        self.by_digest
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(digest, entry.clone());
        Some(entry)
    }

    fn forget(&self, stored: &StoredKey) {
        if let Some(digest) = unhex(&stored.digest) {
            self.by_digest
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&digest);
        }
    }

    /// Drops a user's keys from the index (another replica changed them);
    /// a key still in the database is found again on its next use.
    pub fn forget_user(&self, user_id: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.by_digest
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, e| e.user_id != user_id);
    }

    /// Empties the index; keys are found again in the database on use.
    pub fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.by_digest
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Creates the user's key, replacing (and at once disabling) any old one.
    /// Returns the key: the only time it is ever seen.
    pub async fn create(&self, db: &Db, user_id: &str, now: i64) -> Result<String> {
        let random: [u8; 32] = rand::random();
        let key = format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
        );
        let stored = StoredKey {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: user_id.to_owned(),
            prefix: key.chars().take(PREFIX.len() + 8).collect(),
            digest: hex(&self.digest(&key)),
            created_at: now,
            last_used_at: None,
        };
        if let Some(old) = db.replace_api_key(&stored).await? {
            self.forget(&old);
        }
        self.remember(&stored);
        Ok(key)
    }

    /// Deletes the user's key; false when there was none.
    pub async fn revoke(&self, db: &Db, user_id: &str) -> Result<bool> {
        match db.delete_api_key(user_id).await? {
            Some(old) => {
                self.forget(&old);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn find(&self, db: &Db, key: &str) -> Result<Option<Arc<Entry>>> {
        let digest = self.digest(key);
        let known = self
            .by_digest
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&digest)
            .cloned();
        let entry = match known {
            Some(entry) => Some(entry),
            // made by another replica since start-up
            None => {
                let generation = self.generation.load(Ordering::Acquire);
                let found = db
                    .api_key_by_digest(&hex(&digest))
                    .await?
                    .and_then(|s| self.remember(&s));
                if found.is_some() && self.generation.load(Ordering::Acquire) != generation {
                    // read before another replica's change: not kept
                    self.by_digest
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&digest);
                }
                found
            }
        };
        Ok(entry.filter(|e| constant_time_eq::constant_time_eq_32(&e.digest, &digest)))
    }
}

/// Authenticates `sk-` keys.
pub struct ApiKeyAuthenticator;

#[async_trait::async_trait]
impl BearerAuthenticator for ApiKeyAuthenticator {
    fn recognises(&self, credential: &str) -> bool {
        credential.starts_with(PREFIX)
    }

    async fn authenticate(&self, credential: &str, state: &AppState) -> Result<Principal> {
        if !state.config.api_keys.enabled {
            return Err(Error::Forbidden(NOT_ALLOWED));
        }
        let entry = state
            .api_keys
            .find(&state.db, credential)
            .await?
            .ok_or_else(|| Error::InvalidToken("unknown or revoked API key"))?;
        let user = state
            .users
            .get_remembered(&entry.user_id, &entry.remembered)
            .await?
            .ok_or_else(|| Error::InvalidToken("API key of a deleted user"))?;
        if !user.has_permission(PERMISSION_API_KEYS) {
            return Err(Error::Forbidden(NOT_ALLOWED));
        }
        let now = state.clock.now();
        let last = entry.last_touch.load(Ordering::Relaxed);
        if now - last >= TOUCH_EVERY
            && entry
                .last_touch
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let (db, id) = (state.db.clone(), entry.id.clone());
            tokio::spawn(async move {
                if let Err(e) = db.touch_api_key(&id, now).await {
                    tracing::warn!(error = %e, "recording an API key's use failed");
                }
            });
        }
        Ok(Principal {
            user,
            method: AuthMethod::ApiKey,
            token: Arc::from(credential),
            jti: None,
            expires_at: None,
            issuer: None,
            subject: None,
            metadata: None,
            remembered: Some(entry.remembered.clone()),
        })
    }
}

/// Whether an API key may call `raw_path` (the request's path, still
/// percent-encoded). The path is decoded and must be canonical — no empty,
/// `.` or `..` segments, no backslashes — so no encoding trick can reach a
/// path the list does not name; trailing slashes are ignored on both sides.
pub fn endpoint_allowed(config: &ApiKeysConfig, raw_path: &str) -> bool {
    if !config.restrict_endpoints {
        return true;
    }
    let Ok(path) = percent_decode_str(raw_path).decode_utf8() else {
        return false;
    };
    if !path.starts_with('/') || path.contains('\\') || path.chars().any(char::is_control) {
        return false;
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed
        .split('/')
        .skip(1)
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return false;
    }
    config
        .allowed_endpoints
        .iter()
        .any(|allowed| match allowed.strip_suffix('*') {
            Some(prefix) => trimmed.starts_with(prefix) || trimmed == prefix.trim_end_matches('/'),
            None => trimmed == allowed.trim_end_matches('/'),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(allowed: &[&str]) -> ApiKeysConfig {
        ApiKeysConfig {
            enabled: true,
            restrict_endpoints: true,
            allowed_endpoints: allowed.iter().map(|s| s.to_string()).collect(),
            ..ApiKeysConfig::default()
        }
    }

    #[test]
    fn allowlist_matches_exact_and_prefix() {
        let c = config(&["/api/v1/models", "/api/v1/things/*"]);
        for ok in [
            "/api/v1/models",
            "/api/v1/models/",
            "/api/v1/things/1",
            "/api/v1/things/a/b",
            "/api/v1/things",
        ] {
            assert!(endpoint_allowed(&c, ok), "{ok}");
        }
        for bad in [
            "/api/v1/models/x",
            "/api/v1/modelsx",
            "/api/v1/thingsx",
            "/api/v1/auths/",
            "/api/v1/things/../auths/api_key",
            "/api/v1/things/%2e%2e/%2E%2E/users/",
            "/api/v1/things/..%2F..%2Fusers",
            "/api/v1//models",
            "//api/v1/models",
            "/api/v1/./models",
            "/api/v1/things/a\\..\\..\\users",
            "/api/v1/things/%5c..%5cusers",
            "/api/v1/things/%ff",
            "/api/v1/things/%00",
        ] {
            assert!(!endpoint_allowed(&c, bad), "{bad}");
        }
        assert!(
            endpoint_allowed(&c, "/api/v1/things/a%2Fb"),
            "an encoded slash is a slash"
        );
    }

    #[test]
    fn unrestricted_allows_everything() {
        let mut c = config(&[]);
        c.restrict_endpoints = false;
        assert!(endpoint_allowed(&c, "/anything/../at/all"));
    }

    #[test]
    fn hex_round_trip() {
        let d: Digest = rand::random();
        assert_eq!(unhex(&hex(&d)), Some(d));
        assert_eq!(unhex("zz"), None);
    }
}
