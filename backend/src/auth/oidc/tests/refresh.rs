//! What a browser sign-in with a refresh token keeps, and the grant check
//! before renewal is due (renewal itself runs against the real provider in
//! the end-to-end tests: tests/e2e/api_oidc/refresh.rs).
use super::rp_logout::{jti, user, verified};
use super::sign_in::fixture_at;
use super::*;
use crate::auth::grant::GrantCheck;
use crate::clock::ManualClock;
use crate::store::on_pool;

#[tokio::test]
async fn a_sign_in_with_a_refresh_token_lives_as_long_as_the_grant() {
    let sso = fixture_at(Arc::new(ManualClock::new(NOW)), ISS).await;
    let ann = user(&sso, "ann@example.com").await;
    let provider = sso.oidc.get("kc").unwrap();
    let mut v = verified(Some("h.i.t"));
    v.refresh_token = Some(Secret::new("the-refresh-token"));
    v.expires_in = Some(std::time::Duration::from_secs(20));
    let session = sso.oidc.browser_session(&provider, &ann, &v).await.unwrap();
    // not capped by the access token's 2 minutes (`verified`'s not_after)
    assert!(
        session.expires_at.is_none_or(|e| e > NOW + 3600),
        "{:?}",
        session.expires_at
    );
    let id = jti(&session.token);
    let times = sso
        .db
        .grant_times(&id, NOW)
        .await
        .unwrap()
        .expect("a grant");
    assert_eq!(
        (times.access_expires_at, times.refresh_at),
        (NOW + 20, NOW + 15)
    );
    // sealed: the database never holds the refresh token in the clear
    let kept: Option<String> = on_pool!(sso.db, pool => {
        sqlx::query_scalar("SELECT refresh_token FROM sso_sessions WHERE jti = $1")
            .bind(&id)
            .fetch_one(pool)
            .await
            .unwrap()
    });
    let kept = kept.expect("sealed refresh token");
    assert!(!kept.contains("the-refresh-token"));
    assert_eq!(
        sso.oidc.sealer.open(&id, &kept).unwrap().expose(),
        "the-refresh-token"
    );

    // before renewal is due the grant holds without asking the provider
    sso.oidc.check(&id, NOW + 14).await.unwrap();
    // a session whose row is gone (signed out) is refused
    sso.db.drop_sso_session(&id).await.unwrap();
    sso.oidc.grant_due.invalidate(&id);
    assert!(matches!(
        sso.oidc.check(&id, NOW + 14).await,
        Err(Error::InvalidToken(_))
    ));
}

#[tokio::test]
async fn without_a_refresh_token_the_session_ends_with_the_access_token() {
    let sso = fixture_at(Arc::new(ManualClock::new(NOW)), ISS).await;
    let ann = user(&sso, "ann@example.com").await;
    let provider = sso.oidc.get("kc").unwrap();
    let session = sso
        .oidc
        .browser_session(&provider, &ann, &verified(None))
        .await
        .unwrap();
    assert_eq!(session.expires_at, Some(NOW + 120));
    assert!(sso
        .db
        .grant_times(&jti(&session.token), NOW)
        .await
        .unwrap()
        .is_none());
}
