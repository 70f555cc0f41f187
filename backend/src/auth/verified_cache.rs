//! The verified-token cache shared by session and IdP tokens: tokens that
//! passed every check, so a repeated token costs a hash, a look-up and a
//! compare instead of the signature and the claim parse. An entry lives no
//! longer than its token.
//!
//! An entry is found by a keyed 128-bit SipHash-1-3 of the whole token
//! string, under a key drawn at random when the cache is made (never by
//! `kid`, `sub` or `jti`, never by a part of the token). The entry keeps the
//! token it was made for, and a look-up trusts it only when that token equals
//! the one presented, compared in constant time: a hash collision — by chance
//! or by design; the key is secret and per process — finds an entry that is
//! then ignored, so no token is ever answered from another token's entry.
//! The hash only picks the slot; equality of the whole token decides. This
//! costs the token's size in memory an entry and buys a hash much cheaper
//! than the SHA-256 it replaces; the stored token is also what the answer
//! carries, so a hit needs no copy of it. Because the slot never decides
//! alone, SipHash-1-3 (the keyed PRF Rust's own `HashMap` uses against
//! collision floods) is enough: its 128-bit output under a secret key keeps
//! slots apart, and it is faster than SipHash-2-4 (figures in
//! docs/benchmarks.md).
use crate::clock::{Clock, SystemClock};
use moka::sync::Cache;
use siphasher::sip128::{Hasher128, SipHasher13};
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A cache entry that ends with its token.
pub trait Expires {
    /// Unix seconds after which the token is no longer valid; `None` when it
    /// has no end (the entry then lives an hour).
    fn ends_at(&self) -> Option<i64>;
}

/// Where a token's entry is (or would be): the keyed hash of the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Slot(u128);

/// A token that passed every check, and what its checks found.
#[derive(Debug)]
pub struct Entry<V> {
    /// The token, exactly as presented when it was verified.
    pub token: Arc<str>,
    /// What the checks found.
    pub value: V,
}

impl<V> Entry<V> {
    /// The entry of `token`, copied.
    pub fn new(token: &str, value: V) -> Arc<Self> {
        Arc::new(Self {
            token: Arc::from(token),
            value,
        })
    }
}

/// Verified tokens by the keyed hash of the whole token, each checked
/// against its stored token before it is trusted.
pub struct VerifiedCache<V> {
    hasher: SipHasher13,
    cache: Cache<Slot, Arc<Entry<V>>, SlotHasher>,
}

impl<V: Expires + Send + Sync + 'static> VerifiedCache<V> {
    /// A cache of at most `capacity` tokens, under a fresh random key.
    pub fn new(capacity: u64) -> Self {
        Self {
            hasher: SipHasher13::new_with_key(&rand::random()),
            cache: Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilExpiry)
                .build_with_hasher(SlotHasher),
        }
    }

    /// The slot of `token`.
    pub fn slot(&self, token: &str) -> Slot {
        let mut h = self.hasher;
        h.write(token.as_bytes());
        Slot(h.finish128().into())
    }

    /// The entry of `token` when one is kept: found at `slot` (the slot of
    /// `token`) and made for exactly this token.
    pub fn get(&self, slot: Slot, token: &str) -> Option<Arc<Entry<V>>> {
        self.cache
            .get(&slot)
            .filter(|e| same_token(e.token.as_bytes(), token.as_bytes()))
    }

    /// Keeps `entry` at `slot` (the slot of its token), replacing whatever
    /// the slot held.
    pub fn insert(&self, slot: Slot, entry: Arc<Entry<V>>) {
        self.cache.insert(slot, entry);
    }

    /// Drops the entry at `slot`.
    pub fn invalidate(&self, slot: Slot) {
        self.cache.invalidate(&slot);
    }

    /// Drops every entry.
    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
    }

    /// Whether an entry for exactly `token` is kept.
    pub fn contains(&self, token: &str) -> bool {
        self.get(self.slot(token), token).is_some()
    }
}

/// Whether `a` and `b` are the same bytes, in time that depends on their
/// lengths only (`constant_time_eq` compares a word at a time; `subtle`'s
/// slice compare costs ~15 instructions a byte, more than the rest of a cache
/// hit for a 1 KB token).
fn same_token(a: &[u8], b: &[u8]) -> bool {
    constant_time_eq::constant_time_eq(a, b)
}

/// Expires an entry at its token's end (at least 1 s, at most a day), or
/// after an hour for tokens without one.
struct UntilExpiry;

impl<V: Expires> moka::Expiry<Slot, Arc<Entry<V>>> for UntilExpiry {
    fn expire_after_create(&self, _: &Slot, e: &Arc<Entry<V>>, _: Instant) -> Option<Duration> {
        let now = SystemClock.now();
        Some(match e.value.ends_at() {
            Some(end) => Duration::from_secs(end.saturating_sub(now).clamp(1, 86_400) as u64),
            None => Duration::from_secs(3600),
        })
    }
}

/// The map's own hash of a key that already is a keyed 128-bit hash (a
/// [`Slot`], an API key's fingerprint): its low 64 bits, no second SipHash over it.
/// Only for such keys: nobody can choose them to collide.
#[derive(Clone, Copy, Default)]
pub(crate) struct SlotHasher;

impl BuildHasher for SlotHasher {
    type Hasher = SlotHash;
    fn build_hasher(&self) -> SlotHash {
        SlotHash(0)
    }
}

/// See [`SlotHasher`].
pub(crate) struct SlotHash(u64);

impl Hasher for SlotHash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // only `write_u128` is ever called (the keys are `u128`s or derive
        // `Hash` over one); fold anything else in rather than drop it
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 ^= v as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Never;
    impl Expires for Never {
        fn ends_at(&self) -> Option<i64> {
            None
        }
    }

    #[test]
    fn same_token_compares_every_byte() {
        let t = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl-_x";
        assert!(same_token(t, t));
        for i in 0..t.len() {
            let mut u = *t;
            u[i] ^= 1;
            assert!(!same_token(t, &u), "byte {i}");
        }
        assert!(!same_token(t, &t[..t.len() - 1]));
        assert!(!same_token(&t[..8], &t[..9]));
        assert!(same_token(b"", b""));
    }

    #[test]
    fn an_entry_is_trusted_only_for_its_own_token() {
        let c: VerifiedCache<Never> = VerifiedCache::new(10);
        let (a, b) = ("token-a", "token-b");
        assert_ne!(c.slot(a), c.slot(b));
        assert_eq!(c.slot(a), c.slot(a), "one key per cache");
        c.insert(c.slot(a), Entry::new(a, Never));
        assert!(c.contains(a));
        assert!(!c.contains(b));
        // a colliding slot (as if b hashed to a's) finds a's entry and
        // refuses it for b
        assert!(c.get(c.slot(a), b).is_none());
        assert!(c.get(c.slot(a), a).is_some());
        c.invalidate(c.slot(a));
        assert!(!c.contains(a));
    }

    #[test]
    fn caches_are_keyed_apart() {
        let (c, d): (VerifiedCache<Never>, VerifiedCache<Never>) =
            (VerifiedCache::new(1), VerifiedCache::new(1));
        assert_ne!(c.slot("t"), d.slot("t"), "a random key per cache");
    }
}
