//! RP-initiated logout against a loopback provider whose discovery names an
//! `end_session_endpoint`: what a browser sign-in keeps, the logout URL a
//! sign-out gets (once, for its own account only), the single-use `state`,
//! and `rp_logout = false`.
use super::sign_in::{fixture_at, Fixture};
use super::*;
use crate::clock::ManualClock;
use crate::store::sso_sessions::SsoSession;
use crate::store::users::NewLocalUser;
use tessera_shared::Role;

pub(super) async fn user(sso: &Fixture, email: &str) -> Arc<crate::domain::User> {
    sso.users
        .create_local(
            NewLocalUser {
                name: "ann",
                email,
                password_hash: "x",
                role: Role::User,
            },
            NOW,
        )
        .await
        .unwrap()
}

pub(super) fn verified(id_token: Option<&str>) -> Verified {
    Verified {
        claims: Map::new(),
        not_after: Some(NOW + 120),
        ended_by: None,
        id_token: id_token.map(Secret::new),
        refresh_token: None,
        expires_in: None,
    }
}

/// The `jti` of a session token.
pub(super) fn jti(token: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: Value = serde_json::from_slice(&bytes).unwrap();
    claims["jti"].as_str().unwrap().to_owned()
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

#[tokio::test]
async fn a_browser_sign_in_keeps_the_id_token_for_one_sign_out() {
    let s = signer();
    let idp = FakeIdp::start(json!({"keys": [s.jwk("k1")]})).await;
    let sso = fixture_at(Arc::new(ManualClock::new(NOW)), &idp.url).await;
    let ann = user(&sso, "ann@example.com").await;
    let provider = sso.oidc.get("kc").unwrap();
    let session = sso
        .oidc
        .browser_session(&provider, &ann, &verified(Some("h.i.t")))
        .await
        .unwrap();
    let id = jti(&session.token);

    // another account's sign-out of it gets nothing, and uses it up
    let bob = user(&sso, "bob@example.com").await;
    let stolen = SsoSession {
        jti: "other".into(),
        user_id: ann.id.clone(),
        provider: "kc".into(),
        id_token: Some(Secret::new("x.y.z")),
        expires_at: NOW + 60,
        grant: None,
    };
    sso.db.keep_sso_session(&stolen, NOW).await.unwrap();
    assert_eq!(
        sso.oidc.end_session_url("other", &bob.id).await.unwrap(),
        None
    );
    assert_eq!(
        sso.oidc.end_session_url("other", &ann.id).await.unwrap(),
        None
    );

    let url = sso
        .oidc
        .end_session_url(&id, &ann.id)
        .await
        .unwrap()
        .expect("a logout URL");
    assert!(url.starts_with(&format!("{}/logout?", idp.url)), "{url}");
    let q = query(&url);
    assert_eq!(q["id_token_hint"], "h.i.t");
    assert_eq!(q["post_logout_redirect_uri"], "http://tessera.test/signin");
    assert_eq!(q["client_id"], CLIENT);
    // the state comes back once
    let state = &q["state"];
    assert_eq!(
        sso.oidc
            .returned_from_logout(state)
            .await
            .unwrap()
            .as_deref(),
        Some("kc")
    );
    assert_eq!(sso.oidc.returned_from_logout(state).await.unwrap(), None);
    assert_eq!(sso.oidc.returned_from_logout("forged").await.unwrap(), None);
    // used: a second sign-out of the session gets no URL
    assert_eq!(sso.oidc.end_session_url(&id, &ann.id).await.unwrap(), None);
}

#[tokio::test]
async fn nothing_is_kept_without_an_id_token_or_with_rp_logout_off() {
    let s = signer();
    let idp = FakeIdp::start(json!({"keys": [s.jwk("k1")]})).await;
    let sso = fixture_at(Arc::new(ManualClock::new(NOW)), &idp.url).await;
    let ann = user(&sso, "ann@example.com").await;
    let provider = sso.oidc.get("kc").unwrap();
    let plain = sso
        .oidc
        .browser_session(&provider, &ann, &verified(None))
        .await
        .unwrap();
    assert_eq!(
        sso.oidc
            .end_session_url(&jti(&plain.token), &ann.id)
            .await
            .unwrap(),
        None
    );

    // kept while on; once the setting is off, sign-out gives no URL
    let kept = sso
        .oidc
        .browser_session(&provider, &ann, &verified(Some("h.i.t")))
        .await
        .unwrap();
    let mut settings = sso.oidc.settings()[0].clone();
    settings.rp_logout = false;
    sso.oidc.save("kc", &settings).await.unwrap();
    assert_eq!(
        sso.oidc
            .end_session_url(&jti(&kept.token), &ann.id)
            .await
            .unwrap(),
        None
    );
    // and a sign-in keeps nothing
    let provider = sso.oidc.get("kc").unwrap();
    assert!(!provider.config.rp_logout);
    let off = sso
        .oidc
        .browser_session(&provider, &ann, &verified(Some("h.i.t")))
        .await
        .unwrap();
    assert!(sso
        .db
        .take_sso_session(&jti(&off.token), NOW)
        .await
        .unwrap()
        .is_none());
}
