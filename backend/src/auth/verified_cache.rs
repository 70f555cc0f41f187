//! The expiry shared by the verified-token caches (session and IdP tokens):
//! an entry lives no longer than its token.
use crate::clock::{Clock, SystemClock};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A cache entry that ends with its token.
pub trait Expires {
    /// Unix seconds after which the token is no longer valid; `None` when it
    /// has no end (the entry then lives an hour).
    fn ends_at(&self) -> Option<i64>;
}

/// Expires an entry at its token's end (at least 1 s, at most a day), or
/// after an hour for tokens without one.
pub struct UntilExpiry;

impl<V: Expires + Send + Sync + 'static> moka::Expiry<[u8; 32], Arc<V>> for UntilExpiry {
    fn expire_after_create(&self, _: &[u8; 32], v: &Arc<V>, _: Instant) -> Option<Duration> {
        let now = SystemClock.now();
        Some(match v.ends_at() {
            Some(end) => Duration::from_secs(end.saturating_sub(now).clamp(1, 86_400) as u64),
            None => Duration::from_secs(3600),
        })
    }
}
