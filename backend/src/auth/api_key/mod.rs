//! API keys: `sk-` followed by 256 random bits (base64url). Stored only as
//! HMAC-SHA256 under a server secret — a fast keyed hash suits random keys —
//! and indexed in memory, kept in step with creation and revocation, so a
//! known key costs no database round trip. One active key per user.
//!
//! The index finds a key by its HMAC (the digest, as stored) and, once a key
//! has been presented and matched, by its *fingerprint*: a 128-bit SipHash-2-4 of
//! the key under a secret drawn at random when the process starts. A repeated
//! key then costs one SipHash of ~46 bytes instead of an HMAC-SHA256. The
//! fingerprint decides alone (the key itself is never kept, so there is nothing else
//! to compare): a forger would need a string whose keyed 128-bit PRF output
//! equals one held here, without ever seeing an output, one request at a time.
//! A fingerprint is learnt only from a key whose HMAC matched an indexed entry, and
//! is dropped with that entry (revocation, replacement, another replica's
//! change), under the same lock. Keys the database does not know are
//! remembered by their fingerprint for a while (`refused`): a script retrying a
//! revoked key costs no database look-up per request, and a refusal stays
//! true, since a key is random and shown only after it is stored. A key never
//! seen must be looked up (another replica may have just made it); one client
//! IP may have `[api_keys] unknown_per_ip_per_minute` of those a minute, so a
//! flood of random keys gets 429s, not database reads.
use super::trusted_header::TrustedHeaders;
use super::verified_cache::SlotHasher;
use super::{BearerAuthenticator, Principal};
use crate::clock::Clock;
use crate::config::ApiKeysConfig;
use crate::domain::PERMISSION_API_KEYS;
use crate::error::{Error, Result};
use crate::store::api_keys::StoredKey;
use crate::store::users::Users;
use crate::store::Db;
use axum::http::request::Parts;
use base64::Engine;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use hmac::{Hmac, Mac};
use percent_encoding::percent_decode_str;
use sha2::Sha256;
use siphasher::sip128::{Hasher128, SipHasher24};
use std::collections::HashMap;
use std::hash::Hasher;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;
use tessera_shared::AuthMethod;

/// Every API key starts with this.
pub const PREFIX: &str = "sk-";
/// 403 when keys are off, or the user lacks the permission.
pub const NOT_ALLOWED: &str = "API key not allowed";
/// 403 for a path outside `allowed_endpoints`.
pub const ENDPOINT_NOT_ALLOWED: &str = "API key not allowed to access this endpoint";
/// Record a key's use at most this often (seconds).
const TOUCH_EVERY: i64 = 60;
/// Unknown keys remembered as refused, at most.
const REFUSED_KEPT: u64 = 10_000;
/// How long an unknown key is remembered as refused.
const REFUSED_FOR: Duration = Duration::from_secs(600);

/// HMAC-SHA256 of a key under the server's secret: what the database keeps.
type Digest = [u8; 32];
/// Keyed SipHash-2-4-128 of a key under a per-process secret.
type Fingerprint = u128;

struct Entry {
    id: String,
    user_id: String,
    /// The owner's token epoch the key was made under.
    user_epoch: i64,
    digest: Digest,
    last_touch: AtomicI64,
    /// The account and answer this key's requests share.
    memo: Arc<super::memo::CredentialMemo>,
}

/// An indexed key, and its fingerprint once it has been presented.
struct Known {
    entry: Arc<Entry>,
    fingerprint: Option<Fingerprint>,
}

/// Every indexed key by digest; those presented since by fingerprint. A fingerprint
/// always belongs to an entry in `by_digest` (both change under one lock).
#[derive(Default)]
struct Index {
    by_digest: HashMap<Digest, Known>,
    by_fingerprint: HashMap<Fingerprint, Arc<Entry>, SlotHasher>,
}

impl Entry {
    /// The entry of a stored key; `None` when its digest is malformed.
    fn of(stored: &StoredKey) -> Option<Arc<Entry>> {
        Some(Arc::new(Entry {
            id: stored.id.clone(),
            user_id: stored.user_id.clone(),
            user_epoch: stored.user_epoch,
            digest: unhex(&stored.digest)?,
            last_touch: AtomicI64::new(stored.last_used_at.unwrap_or(0)),
            memo: Arc::new(super::memo::CredentialMemo::for_secret()),
        }))
    }
}

impl Index {
    /// Indexes `entry` (not yet seen), replacing any entry of the same key.
    fn insert(&mut self, entry: Arc<Entry>) {
        let digest = entry.digest;
        self.drop_digest(&digest);
        let known = Known {
            entry,
            fingerprint: None,
        };
        self.by_digest.insert(digest, known);
    }

    /// Drops the key with this digest, and its fingerprint.
    fn drop_digest(&mut self, digest: &Digest) {
        if let Some(Known {
            fingerprint: Some(s),
            ..
        }) = self.by_digest.remove(digest)
        {
            self.by_fingerprint.remove(&s);
        }
    }
}

/// The key index and the secrets keys are hashed under.
pub struct ApiKeys {
    mac: Hmac<Sha256>,
    fingerprinter: SipHasher24,
    index: RwLock<Index>,
    refused: moka::sync::Cache<Fingerprint, (), SlotHasher>,
    /// Database look-ups of keys never seen, by client IP.
    lookups: DefaultKeyedRateLimiter<Option<IpAddr>>,
    /// Moves on with every key dropped from the index (here, or by another
    /// replica): a database read that began before is not indexed after.
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
    /// Loads every stored key into the index; `lookups_per_minute`: of keys
    /// never seen, per client IP.
    pub async fn load(db: &Db, secret: Vec<u8>, lookups_per_minute: u32) -> Result<Self> {
        let per_minute = NonZeroU32::new(lookups_per_minute).unwrap_or(NonZeroU32::MIN);
        let keys = Self {
            mac: Hmac::new_from_slice(&secret)
                .map_err(|e| anyhow::anyhow!("API key secret: {e}"))?,
            fingerprinter: SipHasher24::new_with_key(&rand::random()),
            index: RwLock::new(Index::default()),
            refused: moka::sync::Cache::builder()
                .max_capacity(REFUSED_KEPT)
                .time_to_live(REFUSED_FOR)
                .build_with_hasher(SlotHasher),
            lookups: RateLimiter::keyed(Quota::per_minute(per_minute)),
            generation: AtomicU64::new(0),
        };
        let generation = keys.generation();
        for stored in db.api_keys().await? {
            keys.remember(&stored, generation);
        }
        Ok(keys)
    }

    fn read(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn digest(&self, key: &str) -> Digest {
        let mut mac = self.mac.clone();
        mac.update(key.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn fingerprint(&self, key: &str) -> Fingerprint {
        let mut h = self.fingerprinter;
        h.write(key.as_bytes());
        h.finish128().into()
    }

    /// Indexes a stored key, unless a key was dropped since `generation` was
    /// read (the stored row may be that key's, read before it went). Returns
    /// the entry either way, for the request that found it.
    fn remember(&self, stored: &StoredKey, generation: u64) -> Option<Arc<Entry>> {
        let entry = Entry::of(stored)?;
        let mut index = self.write();
        if self.generation() == generation {
            index.insert(entry.clone());
        }
        Some(entry)
    }

    /// After the database replaced `old` (if any) with `new`: drops `old`
    /// and indexes `new`, unless a key was dropped since `generation` (read
    /// before the write: `new` may itself have been replaced or revoked
    /// since) — then `new` is found in the database on its first use.
    fn replaced(&self, old: Option<&StoredKey>, new: &StoredKey, generation: u64) {
        let entry = Entry::of(new);
        let mut index = self.write();
        let unchanged = self.generation() == generation;
        if let Some(old) = old.and_then(|o| unhex(&o.digest)) {
            self.generation.fetch_add(1, Ordering::AcqRel);
            index.drop_digest(&old);
        }
        if let (true, Some(entry)) = (unchanged, entry) {
            index.insert(entry);
        }
    }

    /// Notes `fingerprint` as the fingerprint of `entry`'s key, if the entry is still the
    /// one indexed under `digest` (it may have been dropped meanwhile).
    fn learn(&self, digest: &Digest, entry: &Arc<Entry>, fingerprint: Fingerprint) {
        let mut index = self.write();
        let Index {
            by_digest,
            by_fingerprint,
        } = &mut *index;
        if let Some(known) = by_digest.get_mut(digest) {
            if Arc::ptr_eq(&known.entry, entry) && known.fingerprint.is_none() {
                known.fingerprint = Some(fingerprint);
                by_fingerprint.insert(fingerprint, entry.clone());
            }
        }
    }

    /// Drops keys from the index; the generation moves on under the lock.
    fn drop_where(&self, drop: impl FnOnce(&mut Index)) {
        let mut index = self.write();
        self.generation.fetch_add(1, Ordering::AcqRel);
        drop(&mut index);
    }

    fn forget(&self, stored: &StoredKey) {
        if let Some(digest) = unhex(&stored.digest) {
            self.drop_where(|index| index.drop_digest(&digest));
        }
    }

    /// Drops a user's keys from the index (another replica changed them);
    /// a key still in the database is found again on its next use.
    pub fn forget_user(&self, user_id: &str) {
        self.drop_where(|index| {
            index.by_digest.retain(|_, k| k.entry.user_id != user_id);
            index.by_fingerprint.retain(|_, e| e.user_id != user_id);
        });
    }

    /// Empties the index; keys are found again in the database on use.
    pub fn forget_all(&self) {
        self.drop_where(|index| *index = Index::default());
    }

    /// Creates the user's key, replacing (and at once disabling) any old one;
    /// it works while the user's token epoch is `user_epoch`. Returns the
    /// key: the only time it is ever seen.
    pub async fn create(
        &self,
        db: &Db,
        user_id: &str,
        user_epoch: i64,
        now: i64,
    ) -> Result<String> {
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
            user_epoch,
        };
        let generation = self.generation();
        let old = db.replace_api_key(&stored).await?;
        self.replaced(old.as_ref(), &stored, generation);
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

    /// Drops the look-up allowances that are full again.
    pub fn shrink(&self) {
        self.lookups.retain_recent();
        self.lookups.shrink_to_fit();
    }

    /// The entry of `key`, when it is a key the database holds. `client`
    /// (asked only when the database must be) names who is asking: 429 once
    /// it has looked up too many unknown keys.
    async fn find(
        &self,
        db: &Db,
        key: &str,
        client: impl FnOnce() -> Option<IpAddr>,
    ) -> Result<Option<Arc<Entry>>> {
        let fingerprint = self.fingerprint(key);
        if let Some(entry) = self.read().by_fingerprint.get(&fingerprint) {
            return Ok(Some(entry.clone()));
        }
        if self.refused.contains_key(&fingerprint) {
            return Ok(None);
        }
        let digest = self.digest(key);
        let known = self.read().by_digest.get(&digest).map(|k| k.entry.clone());
        let entry = match known {
            Some(entry) => entry,
            // made by another replica since start-up, or dropped after a change
            None => {
                self.lookups.check_key(&client()).map_err(|n| {
                    let wait = n.wait_time_from(DefaultClock::default().now());
                    Error::RateLimited {
                        retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                    }
                })?;
                let generation = self.generation();
                let Some(stored) = db.api_key_by_digest(&hex(&digest)).await? else {
                    self.refused.insert(fingerprint, ());
                    return Ok(None);
                };
                match self.remember(&stored, generation) {
                    Some(entry) => entry,
                    None => return Ok(None), // a malformed stored digest
                }
            }
        };
        // found under this digest: equal, but the check costs nothing
        if !constant_time_eq::constant_time_eq_32(&entry.digest, &digest) {
            return Ok(None);
        }
        self.learn(&digest, &entry, fingerprint);
        Ok(Some(entry))
    }
}

/// Authenticates `sk-` keys.
pub struct ApiKeyAuthenticator {
    /// `[api_keys] enabled`.
    pub enabled: bool,
    /// The key index.
    pub keys: Arc<ApiKeys>,
    /// Where keys are looked up and their use recorded.
    pub db: Db,
    /// The key owners.
    pub users: Users,
    /// Whose `X-Forwarded-For` is believed (limits on unknown keys are per
    /// client).
    pub proxy: Option<Arc<TrustedHeaders>>,
    /// The source of "now".
    pub clock: Arc<dyn Clock>,
}

#[async_trait::async_trait]
impl BearerAuthenticator for ApiKeyAuthenticator {
    fn recognises(&self, credential: &str) -> bool {
        credential.starts_with(PREFIX)
    }

    async fn authenticate(&self, credential: &str, parts: &Parts) -> Result<Principal> {
        if !self.enabled {
            return Err(Error::Forbidden(NOT_ALLOWED));
        }
        let entry = self
            .keys
            .find(&self.db, credential, || {
                super::trusted_header::client_ip(self.proxy.as_deref(), parts)
            })
            .await?
            .ok_or_else(|| Error::InvalidToken("unknown or revoked API key"))?;
        let user = entry
            .memo
            .user_of(&self.users, &entry.user_id)
            .await?
            .ok_or_else(|| Error::InvalidToken("API key of a deleted user"))?;
        if user.epoch != entry.user_epoch {
            return Err(Error::InvalidToken(
                "API key ended (its owner was signed out everywhere or deleted)",
            ));
        }
        if !user.has_permission(PERMISSION_API_KEYS) {
            return Err(Error::Forbidden(NOT_ALLOWED));
        }
        let now = self.clock.now();
        let last = entry.last_touch.load(Ordering::Relaxed);
        if now - last >= TOUCH_EVERY
            && entry
                .last_touch
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let (db, id) = (self.db.clone(), entry.id.clone());
            tokio::spawn(async move {
                if let Err(e) = db.touch_api_key(&id, now).await {
                    tracing::warn!(error = %e, "recording an API key's use failed");
                }
            });
        }
        Ok(Principal {
            user,
            kind: super::policy::CredentialKind::ApiKey,
            method: AuthMethod::ApiKey,
            token: Arc::from(credential),
            jti: None,
            expires_at: None,
            issuer: None,
            subject: None,
            metadata: None,
            memo: Some(entry.memo.clone()),
            embed: None,
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
mod tests;
