//! Unit tests of `auth::api_key`.
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

use crate::store::users::{NewLocalUser, Users};
use tessera_shared::Role;

/// An index over a fresh database with one user; the user's id.
async fn keys() -> (ApiKeys, Db, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let db = Db::connect(&url).await.unwrap();
    let user = Users::new(db.clone(), 10)
        .create_local(
            NewLocalUser {
                name: "A",
                email: "a@example.com",
                password_hash: "x",
                role: Role::User,
            },
            0,
        )
        .await
        .unwrap();
    let keys = ApiKeys::load(&db, b"server secret".to_vec(), 1000)
        .await
        .unwrap();
    (keys, db, user.id.clone(), dir)
}

fn fingerprinted(keys: &ApiKeys) -> usize {
    keys.read().by_fingerprint.len()
}

async fn found(keys: &ApiKeys, db: &Db, key: &str) -> bool {
    keys.find(db, key, || None).await.unwrap().is_some()
}

#[tokio::test]
async fn a_key_is_learnt_by_fingerprint_and_forgotten_with_its_revocation() {
    let (keys, db, uid, _dir) = keys().await;
    let key = keys.create(&db, &uid, 0, 1).await.unwrap();
    assert_eq!(fingerprinted(&keys), 0, "not presented yet");
    assert!(found(&keys, &db, &key).await);
    assert_eq!(fingerprinted(&keys), 1, "learnt once its HMAC matched");
    assert!(found(&keys, &db, &key).await, "found by fingerprint");
    assert!(keys.revoke(&db, &uid).await.unwrap());
    assert_eq!(fingerprinted(&keys), 0);
    assert!(!found(&keys, &db, &key).await);
    assert!(!found(&keys, &db, &key).await, "refused, twice");
}

#[tokio::test]
async fn replacement_drops_the_old_keys_fingerprint() {
    let (keys, db, uid, _dir) = keys().await;
    let old = keys.create(&db, &uid, 0, 1).await.unwrap();
    assert!(found(&keys, &db, &old).await && found(&keys, &db, &old).await);
    let new = keys.create(&db, &uid, 0, 2).await.unwrap();
    assert!(!found(&keys, &db, &old).await, "replaced at once");
    assert!(found(&keys, &db, &new).await && found(&keys, &db, &new).await);
    assert_eq!(fingerprinted(&keys), 1);
    assert!(!found(&keys, &db, &old).await);
}

#[tokio::test]
async fn a_key_off_by_one_character_is_refused() {
    let (keys, db, uid, _dir) = keys().await;
    let key = keys.create(&db, &uid, 0, 1).await.unwrap();
    assert!(found(&keys, &db, &key).await); // learnt: both ways are armed
    for i in 0..key.len() {
        let mut forged = key.clone().into_bytes();
        forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        assert!(!found(&keys, &db, &forged).await, "position {i}");
    }
    for forged in [&key[..key.len() - 1], &format!("{key}A"), "sk-", ""] {
        assert!(!found(&keys, &db, forged).await, "{forged}");
    }
    assert!(found(&keys, &db, &key).await);
}

#[tokio::test]
async fn another_replicas_change_drops_fingerprints_and_the_database_decides() {
    let (keys, db, uid, _dir) = keys().await;
    let key = keys.create(&db, &uid, 0, 1).await.unwrap();
    assert!(found(&keys, &db, &key).await);
    keys.forget_user(&uid);
    assert_eq!(fingerprinted(&keys), 0);
    assert!(found(&keys, &db, &key).await, "still stored: found again");
    assert_eq!(fingerprinted(&keys), 1);
    keys.forget_all();
    assert_eq!(fingerprinted(&keys), 0);
    // revoked elsewhere: the database no longer has it
    db.delete_api_key(&uid).await.unwrap();
    keys.forget_user(&uid);
    assert!(!found(&keys, &db, &key).await);
}

#[tokio::test]
async fn unknown_keys_are_looked_up_a_limited_number_of_times_per_client() {
    let (_, db, uid, _dir) = keys().await;
    let keys = ApiKeys::load(&db, b"server secret".to_vec(), 2)
        .await
        .unwrap();
    let key = keys.create(&db, &uid, 0, 1).await.unwrap();
    let (x, y): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
    let from = |ip| move || Some(ip);
    assert!(keys
        .find(&db, "sk-unknown-1", from(x))
        .await
        .unwrap()
        .is_none());
    assert!(keys
        .find(&db, "sk-unknown-2", from(x))
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        keys.find(&db, "sk-unknown-3", from(x)).await,
        Err(Error::RateLimited {
            retry_after_secs: 1..=60
        })
    ));
    // refused before: no look-up, so no limit
    assert!(keys
        .find(&db, "sk-unknown-1", from(x))
        .await
        .unwrap()
        .is_none());
    // a known key is never held up; another client has its own allowance
    assert!(keys.find(&db, &key, from(x)).await.unwrap().is_some());
    assert!(keys
        .find(&db, "sk-unknown-3", from(y))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn of_two_racing_replacements_the_last_written_wins() {
    let (keys, db, uid, _dir) = keys().await;
    let first = keys.create(&db, &uid, 0, 1).await.unwrap();
    let row = |key: &str| StoredKey {
        id: key.to_owned(),
        user_id: uid.clone(),
        prefix: key[..11].to_owned(),
        digest: hex(&keys.digest(key)),
        created_at: 2,
        last_used_at: None,
        user_epoch: 0,
    };
    let (a, b) = ("sk-AAAAAAAAAAAAAAAAAAAA", "sk-BBBBBBBBBBBBBBBBBBBB");
    // A is written, then B over it; B's request updates the index first
    let ga = keys.generation();
    let old_a = db.replace_api_key(&row(a)).await.unwrap();
    let gb = keys.generation();
    let old_b = db.replace_api_key(&row(b)).await.unwrap();
    assert_eq!(old_b.as_ref().map(|o| o.id.as_str()), Some(a));
    keys.replaced(old_b.as_ref(), &row(b), gb);
    keys.replaced(old_a.as_ref(), &row(a), ga);
    assert!(!found(&keys, &db, &first).await);
    assert!(!found(&keys, &db, a).await, "A was replaced by B");
    assert!(found(&keys, &db, b).await);
}

#[tokio::test]
async fn a_read_that_raced_a_drop_is_not_indexed() {
    let (keys, db, uid, _dir) = keys().await;
    keys.create(&db, &uid, 0, 1).await.unwrap();
    let stored = db.api_key_of(&uid).await.unwrap().unwrap();
    keys.forget_all();
    let before = keys.generation();
    keys.forget_user("someone else"); // a drop while the row was being read
    assert!(keys.remember(&stored, before).is_some(), "this request's");
    assert!(keys.read().by_digest.is_empty(), "not kept");
    keys.remember(&stored, keys.generation());
    assert_eq!(keys.read().by_digest.len(), 1);
}

#[test]
fn hex_round_trip() {
    let d: Digest = rand::random();
    assert_eq!(unhex(&hex(&d)), Some(d));
    assert_eq!(unhex("zz"), None);
}
