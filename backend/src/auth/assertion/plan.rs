//! Key rotation's bookkeeping, as a function of the keys and the time:
//! which key signs, which are published, which are retired, and whether
//! the next one is due.

/// When a key was made and when it signs from (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTimes {
    /// Key id.
    pub kid: String,
    /// Published from then.
    pub created_at: i64,
    /// Signs from then (until the next key signs).
    pub sign_from: i64,
}

/// `[assertion]`'s durations, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// A key signs this long before the next one takes over.
    pub rotate_every: i64,
    /// A new key is published this long before it signs.
    pub publish_ahead: i64,
    /// A key stays published this long after it stopped signing.
    pub grace: i64,
}

/// What to do with the keys now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// The key that signs now.
    pub signing: Option<String>,
    /// The keys the JWKS lists (the signing one, the next, and those in
    /// their grace period).
    pub published: Vec<String>,
    /// Keys past their grace period: deleted.
    pub retired: Vec<String>,
    /// Make a new key signing from then.
    pub make_new: Option<i64>,
}

/// The plan for `keys` at `now`. The key that signs is the last (by
/// `sign_from`, then kid) whose `sign_from` has come; a key stops signing
/// when the next one starts and is retired `grace` after that. A new key is
/// made, to sign `publish_ahead` later, when none is waiting and the
/// signing one has signed for `rotate_every - publish_ahead`; with no key
/// at all, the first signs at once.
pub fn plan(keys: &[KeyTimes], now: i64, t: Timing) -> Plan {
    let mut keys: Vec<&KeyTimes> = keys.iter().collect();
    keys.sort_by(|a, b| (a.sign_from, &a.kid).cmp(&(b.sign_from, &b.kid)));
    let mut p = Plan::default();
    for (i, k) in keys.iter().enumerate() {
        let retired = keys
            .get(i + 1)
            .is_some_and(|next| next.sign_from.saturating_add(t.grace) <= now);
        if retired {
            p.retired.push(k.kid.clone());
        } else {
            p.published.push(k.kid.clone());
        }
    }
    let signing = keys.iter().rev().find(|k| k.sign_from <= now);
    p.signing = signing.map(|k| k.kid.clone());
    let waiting = keys.iter().any(|k| k.sign_from > now);
    p.make_new = match signing {
        _ if waiting => None,
        None => Some(now),
        Some(k) => {
            let due = k
                .sign_from
                .saturating_add(t.rotate_every)
                .saturating_sub(t.publish_ahead);
            (now >= due).then(|| now.saturating_add(t.publish_ahead))
        }
    };
    p
}
