//! Unit tests of `store::users`.
use super::*;
use crate::domain::PERMISSION_API_KEYS;

async fn users() -> (Users, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    (Users::new(Db::connect(&url).await.unwrap(), 100), dir)
}

fn ext<'a>(groups: &'a [String], create_groups: bool) -> ExternalUser<'a> {
    ExternalUser {
        source: "kc",
        subject: "s-1",
        email: "a@example.com",
        name: "A",
        role: Role::User,
        groups,
        create_groups,
    }
}

#[tokio::test]
async fn external_upsert_syncs_groups_and_keeps_a_stable_id() {
    let (users, _dir) = users().await;
    let g = vec!["dev".to_string(), "ops".to_string()];
    let skip = users.upsert_external(&ext(&g, false), 1).await.unwrap();
    assert!(
        skip.groups.is_empty(),
        "unknown groups are skipped without create_groups"
    );
    let u = users.upsert_external(&ext(&g, true), 2).await.unwrap();
    assert_eq!(u.id, skip.id);
    assert_eq!(u.groups, g);
    let fewer = vec!["ops".to_string()];
    let u = users.upsert_external(&ext(&fewer, true), 3).await.unwrap();
    assert_eq!(u.groups, fewer);
    assert_eq!(users.count().await.unwrap(), 1);
    assert_ne!(
        external_id("kc", "s-1"),
        external_id("kc", "S-1"),
        "subjects are never case-folded"
    );
    assert_ne!(external_id("k", "cs-1"), external_id("kc", "s-1"));
}

/// Stored ids never change: the first 16 bytes of SHA-256(source, 0,
/// subject), lowercase hex.
#[test]
fn external_ids_are_stable() {
    use sha2::{Digest, Sha256};
    for (source, subject) in [("kc", "s-1"), ("", ""), ("ldap", "cn=ü,dc=x")] {
        let d = Sha256::new()
            .chain_update(source.as_bytes())
            .chain_update([0u8])
            .chain_update(subject.as_bytes())
            .finalize();
        let hex: String = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
        assert_eq!(external_id(source, subject), format!("ext-{hex}"));
    }
    assert_eq!(external_id("kc", "s-1").len(), 36, "ext- and 32 hex digits");
}

#[tokio::test]
async fn permissions_come_from_the_user_or_a_group() {
    let (users, _dir) = users().await;
    let g = vec!["scripts".to_string()];
    let u = users.upsert_external(&ext(&g, true), 1).await.unwrap();
    assert!(!u.has_permission(PERMISSION_API_KEYS));
    let group_id = users.groups().await.unwrap()[0].id.clone();
    assert!(users
        .set_permission("group", &group_id, PERMISSION_API_KEYS, true)
        .await
        .unwrap());
    let u = users.get(&u.id).await.unwrap().unwrap();
    assert!(
        u.has_permission(PERMISSION_API_KEYS),
        "granted through the group"
    );
    assert_eq!(
        users.groups().await.unwrap()[0].permissions,
        vec![PERMISSION_API_KEYS]
    );
    // leaving the group withdraws it
    let u = users.upsert_external(&ext(&[], true), 2).await.unwrap();
    assert!(!u.has_permission(PERMISSION_API_KEYS));
    // a direct grant
    assert!(users
        .set_permission("user", &u.id, PERMISSION_API_KEYS, true)
        .await
        .unwrap());
    assert!(users
        .get(&u.id)
        .await
        .unwrap()
        .unwrap()
        .has_permission(PERMISSION_API_KEYS));
    assert_eq!(
        users.list().await.unwrap()[0].permissions,
        vec![PERMISSION_API_KEYS]
    );
    assert!(!users
        .set_permission("group", "nope", PERMISSION_API_KEYS, true)
        .await
        .unwrap());
}

#[tokio::test]
async fn first_local_user_is_admin_then_default_role() {
    let (users, _dir) = users().await;
    let new = |email| NewLocalUser {
        name: "N",
        email,
        password_hash: "h",
        role: Role::Pending,
    };
    assert_eq!(
        users.create_local(new("a@x.io"), 1).await.unwrap().role,
        Role::Admin
    );
    assert_eq!(
        users.create_local(new("b@x.io"), 1).await.unwrap().role,
        Role::Pending
    );
    assert!(matches!(
        users.create_local(new("b@x.io"), 1).await,
        Err(Error::Conflict(_))
    ));
}

#[tokio::test]
async fn bootstrap_admin_is_the_configured_email_or_the_first_account() {
    let (users, _dir) = users().await;
    assert_eq!(users.bootstrap_admin_id(None).await.unwrap(), None);
    let new = |email, role| NewLocalUser {
        name: "N",
        email,
        password_hash: "h",
        role,
    };
    // same created_at: insertion order decides
    let first = users
        .create_local(new("a@x.io", Role::Pending), 5)
        .await
        .unwrap();
    let boot = users
        .create_local(new("root@x.io", Role::Admin), 5)
        .await
        .unwrap();
    assert_eq!(boot.role, Role::Admin);
    assert_eq!(
        users.bootstrap_admin_id(None).await.unwrap().as_deref(),
        Some(first.id.as_str())
    );
    assert_eq!(
        users
            .bootstrap_admin_id(Some("root@x.io"))
            .await
            .unwrap()
            .as_deref(),
        Some(boot.id.as_str())
    );
    assert_eq!(
        users.bootstrap_admin_id(Some("nobody@x.io")).await.unwrap(),
        None
    );
    // a demoted account is no longer the bootstrap admin
    users.set_role(&first.id, Role::User, 6).await.unwrap();
    assert_eq!(users.bootstrap_admin_id(None).await.unwrap(), None);
    users.set_role(&boot.id, Role::User, 6).await.unwrap();
    assert_eq!(
        users.bootstrap_admin_id(Some("root@x.io")).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn an_external_first_account_is_no_bootstrap_admin() {
    let (users, _dir) = users().await;
    let mut e = ext(&[], false);
    e.role = Role::Admin;
    users.upsert_external(&e, 1).await.unwrap();
    let local = NewLocalUser {
        name: "N",
        email: "a@example.com",
        password_hash: "h",
        role: Role::Admin,
    };
    users.create_local(local, 2).await.unwrap();
    assert_eq!(users.bootstrap_admin_id(None).await.unwrap(), None);
    assert!(users
        .bootstrap_admin_id(Some("a@example.com"))
        .await
        .unwrap()
        .is_some());
}
