use super::*;

const T: Timing = Timing {
    rotate_every: 100,
    publish_ahead: 10,
    grace: 30,
};

fn k(kid: &str, created_at: i64, sign_from: i64) -> KeyTimes {
    KeyTimes {
        kid: kid.into(),
        created_at,
        sign_from,
    }
}

#[test]
fn rotation_bookkeeping() {
    // no key: the first signs at once
    let p = plan(&[], 1000, T);
    assert_eq!(p.make_new, Some(1000));
    assert_eq!(p.signing, None);
    let a = k("a", 1000, 1000);
    // a signs; nothing due until 1000 + 100 - 10
    let p = plan(std::slice::from_ref(&a), 1089, T);
    assert_eq!(p.signing.as_deref(), Some("a"));
    assert_eq!(p.published, ["a"]);
    assert_eq!(p.make_new, None);
    let p = plan(std::slice::from_ref(&a), 1090, T);
    assert_eq!(p.make_new, Some(1100), "published 10 s before it signs");
    let b = k("b", 1090, 1100);
    // b published, a still signs; no second new key while b waits
    let p = plan(&[b.clone(), a.clone()], 1099, T);
    assert_eq!(p.signing.as_deref(), Some("a"));
    assert_eq!(p.published, ["a", "b"]);
    assert_eq!(p.make_new, None);
    // b signs; a stays published for the grace period, then is retired
    let p = plan(&[a.clone(), b.clone()], 1100, T);
    assert_eq!(p.signing.as_deref(), Some("b"));
    assert_eq!(p.published, ["a", "b"]);
    let p = plan(&[a.clone(), b.clone()], 1129, T);
    assert_eq!(p.published, ["a", "b"]);
    assert!(p.retired.is_empty());
    let p = plan(&[a.clone(), b.clone()], 1130, T);
    assert_eq!(p.published, ["b"]);
    assert_eq!(p.retired, ["a"]);
    // two replicas made a key at once: both published, one signs
    let c = k("c", 1090, 1100);
    let p = plan(&[a, b, c], 1100, T);
    assert_eq!(p.signing.as_deref(), Some("c"));
    assert_eq!(p.published, ["a", "b", "c"]);
    assert_eq!(p.make_new, None);
}

#[test]
fn the_signing_key_is_always_published() {
    for now in 0..400 {
        let keys = [k("a", 0, 0), k("b", 90, 100), k("c", 190, 200)];
        let p = plan(&keys, now, T);
        if let Some(s) = &p.signing {
            assert!(p.published.contains(s), "{now}");
        }
        // a key that signed within `grace` is still published
        for key in &keys {
            let next = keys.iter().find(|n| n.sign_from > key.sign_from);
            if next.is_none_or(|n| now < n.sign_from + T.grace) {
                assert!(p.published.contains(&key.kid), "{now} {}", key.kid);
            }
        }
    }
}
