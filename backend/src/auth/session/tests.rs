//! Unit tests of `auth::session`.
use super::*;
use std::time::Duration;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

/// A request head from nowhere in particular.
fn head() -> axum::http::request::Parts {
    axum::http::Request::new(()).into_parts().0
}

fn keys(lifetime: ExpiresIn) -> SessionKeys {
    SessionKeys::new(SECRET, "http://tessera.test".into(), lifetime, 3600)
}

/// A user with this id and token epoch 7.
fn u(id: &str) -> User {
    User {
        id: id.into(),
        email: format!("{id}@example.com"),
        name: id.into(),
        role: tessera_shared::Role::User,
        profile_image_url: String::new(),
        source: "local".into(),
        subject: None,
        groups: vec![],
        permissions: vec![],
        created_at: 0,
        epoch: 7,
        signed_out_at: None,
    }
}

#[test]
fn round_trip_and_expiry_at_exact_second() {
    let k = keys(ExpiresIn::For(Duration::from_secs(60)));
    let (t, c) = k.issue(&u("u1"), 1000).unwrap();
    assert_eq!(c.exp, Some(1060));
    assert_eq!(k.verify(&t, 1059).unwrap().sub, "u1");
    assert!(k.verify(&t, 1060).is_err(), "exp == now is expired");
}

#[test]
fn capped_sessions_end_with_the_provider_token() {
    let k = keys(ExpiresIn::Never);
    let (_, c) = k
        .mint(
            &u("u1"),
            1000,
            Origin::SignIn {
                not_after: Some(1300),
                src: None,
                grant: false,
            },
        )
        .unwrap();
    assert_eq!(c.exp, Some(1300));
    let k = keys(ExpiresIn::For(Duration::from_secs(60)));
    let (_, c) = k
        .mint(
            &u("u1"),
            1000,
            Origin::SignIn {
                not_after: Some(1300),
                src: None,
                grant: false,
            },
        )
        .unwrap();
    assert_eq!(c.exp, Some(1060), "the shorter of the two");
    let (_, c) = k
        .mint(
            &u("u1"),
            1000,
            Origin::SignIn {
                not_after: None,
                src: None,
                grant: false,
            },
        )
        .unwrap();
    assert_eq!(c.exp, Some(1060));
}

#[test]
fn never_expiring_has_no_exp() {
    let k = keys(ExpiresIn::Never);
    let (t, c) = k.issue(&u("u1"), 1000).unwrap();
    assert_eq!(c.exp, None);
    assert!(k.verify(&t, i64::MAX / 2).is_ok());
}

#[test]
fn single_use_is_marked_and_bounded() {
    let k = keys(ExpiresIn::SingleUse);
    let (_, c) = k.issue(&u("u1"), 1000).unwrap();
    assert!(c.single_use);
    assert_eq!(c.exp, Some(1000 + SINGLE_USE_TTL_SECS));
}

#[test]
fn forged_tokens_fail() {
    let k = keys(ExpiresIn::Never);
    let (t, _) = k.issue(&u("u1"), 1000).unwrap();
    // another secret
    let other = SessionKeys::new(
        b"another-secret-another-secret-xx",
        "http://tessera.test".into(),
        ExpiresIn::Never,
        3600,
    );
    let (forged, _) = other.issue(&u("u1"), 1000).unwrap();
    assert!(k.verify(&forged, 1000).is_err());
    // another issuer, same secret
    let elsewhere = SessionKeys::new(SECRET, "http://elsewhere".into(), ExpiresIn::Never, 3600);
    let (foreign, _) = elsewhere.issue(&u("u1"), 1000).unwrap();
    assert!(k.verify(&foreign, 1000).is_err());
    // tampered payload
    let mut parts: Vec<&str> = t.split('.').collect();
    let payload = base64_url(r#"{"iss":"http://tessera.test","sub":"admin","iat":1000,"jti":"x"}"#);
    parts[1] = &payload;
    assert!(k.verify(&parts.join("."), 1000).is_err());
    // alg none
    let none = format!(
        "{}.{}.",
        base64_url(r#"{"alg":"none","kid":"tessera-session"}"#),
        payload
    );
    assert!(k.verify(&none, 1000).is_err());
    // wrong claim type
    let typed = SessionKeys::new(SECRET, "http://tessera.test".into(), ExpiresIn::Never, 3600);
    let bad_exp = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &serde_json::json!({"iss":"http://tessera.test","sub":"u1","iat":1000,"jti":"j","exp":"9999999999"}),
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    assert!(
        typed.verify(&bad_exp, 1000).is_err(),
        "string exp must not pass"
    );
    // issued in the future
    let (future, _) = k.issue(&u("u1"), 5000).unwrap();
    assert!(k.verify(&future, 1000).is_err());
}

fn base64_url(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

#[tokio::test]
async fn issued_tokens_start_with_the_prefix_and_only_they_are_recognised() {
    let f = cache::fixture(ExpiresIn::Never, 10).await;
    let auth = &f.auth;
    for lifetime in [
        ExpiresIn::Never,
        ExpiresIn::SingleUse,
        ExpiresIn::For(Duration::from_secs(60)),
    ] {
        let (t, _) = keys(lifetime).issue(&u("u1"), 1000).unwrap();
        assert!(auth.recognises(&t), "{t}");
    }
    // the same header fields in another order, or another kid, are not ours
    for header in [
        r#"{"alg":"HS256","typ":"JWT","kid":"tessera-session"}"#,
        r#"{"typ":"JWT","alg":"HS256","kid":"someone-else"}"#,
        r#"{"typ":"JWT","alg":"RS256","kid":"tessera-session"}"#,
    ] {
        assert!(!auth.recognises(&format!("{}.e30.sig", base64_url(header))));
    }
    assert!(!auth.recognises("sk-abc"));
    assert!(!auth.recognises(""));
}

mod cache {
    use super::*;
    use crate::auth::revocation::Revocations;
    use crate::clock::{Clock, ManualClock};
    use crate::store::users::{NewLocalUser, Users};
    use crate::store::Db;
    use tessera_shared::Role;

    const NOW: i64 = 1_900_000_000;

    /// The handles the authenticator is given, named as the
    /// application state names them.
    struct Handles {
        users: Users,
        revocations: Arc<Revocations>,
        sessions: Arc<SessionKeys>,
    }

    pub(super) struct Fixture {
        state: Handles,
        clock: Arc<ManualClock>,
        pub(super) auth: SessionAuthenticator,
        user_id: String,
        bob: Arc<User>,
        _dir: tempfile::TempDir,
    }

    pub(super) async fn fixture(lifetime: ExpiresIn, cache_entries: u64) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = Db::connect(&url).await.unwrap();
        let clock = Arc::new(ManualClock::new(NOW));
        let state = Handles {
            users: Users::new(db.clone(), 100),
            revocations: Arc::new(Revocations::load(Arc::new(db), NOW).await.unwrap()),
            sessions: Arc::new(SessionKeys::new(
                SECRET,
                "http://tessera.test".into(),
                lifetime,
                crate::config::Config::default()
                    .session
                    .exchanged_max_secs(),
            )),
        };
        for (name, email) in [("Ann", "ann@example.com"), ("Bob", "bob@example.com")] {
            state
                .users
                .create_local(
                    NewLocalUser {
                        name,
                        email,
                        password_hash: "x",
                        role: Role::User,
                    },
                    NOW,
                )
                .await
                .unwrap();
        }
        let (bob, _) = state
            .users
            .find_local_credentials("bob@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(bob.role, Role::User);
        let accounts = Accounts {
            users: state.users.clone(),
            revocations: state.revocations.clone(),
        };
        let auth = SessionAuthenticator::new(
            state.sessions.clone(),
            accounts,
            clock.clone(),
            cache_entries,
        )
        .unwrap();
        Fixture {
            state,
            clock,
            auth,
            user_id: bob.id.clone(),
            bob,
            _dir: dir,
        }
    }

    impl Fixture {
        /// A token for Bob, used twice so the second use is a cache hit.
        async fn cached_token(&self) -> (String, SessionClaims) {
            let (t, c) = self
                .state
                .sessions
                .issue(&self.bob, self.clock.now())
                .unwrap();
            for _ in 0..2 {
                let p = self.auth.authenticate(&t, &head()).await.unwrap();
                assert_eq!(p.user.id, self.user_id);
                assert_eq!(p.jti.as_deref(), Some(c.jti.as_str()));
            }
            assert!(self.auth.is_cached(&t));
            (t, c)
        }

        async fn refused(&self, token: &str) -> bool {
            matches!(
                self.auth.authenticate(token, &head()).await,
                Err(Error::InvalidToken(_))
            )
        }
    }

    /// A keeper of provider grants that holds every grant until `ends_at`.
    struct GrantsUntil(i64);

    #[async_trait::async_trait]
    impl GrantCheck for GrantsUntil {
        async fn check(&self, _jti: &str, now: i64) -> Result<()> {
            if now < self.0 {
                Ok(())
            } else {
                Err(Error::InvalidToken("grant over"))
            }
        }
    }

    #[tokio::test]
    async fn a_grant_session_lives_only_while_its_grant_does_cached_or_not() {
        let f = fixture(ExpiresIn::Never, 100).await;
        let (t, c) = f
            .state
            .sessions
            .mint(
                &f.bob,
                NOW,
                Origin::SignIn {
                    not_after: None,
                    src: None,
                    grant: true,
                },
            )
            .unwrap();
        assert!(c.grant);
        // without a keeper of grants: refused (fail closed)
        assert!(f.refused(&t).await);
        let accounts = Accounts {
            users: f.state.users.clone(),
            revocations: f.state.revocations.clone(),
        };
        let auth =
            SessionAuthenticator::new(f.state.sessions.clone(), accounts, f.clock.clone(), 100)
                .unwrap()
                .with_grants(Arc::new(GrantsUntil(NOW + 10)));
        for _ in 0..2 {
            auth.authenticate(&t, &head()).await.unwrap();
        }
        assert!(auth.is_cached(&t));
        f.clock.advance(10);
        assert!(matches!(
            auth.authenticate(&t, &head()).await,
            Err(Error::InvalidToken(_))
        ));
        // the same token with its grant claim stripped (signature kept) is forged
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let parts: Vec<&str> = t.split('.').collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
        claims.as_object_mut().unwrap().remove("grant");
        let stripped = format!(
            "{}.{}.{}",
            parts[0],
            b64.encode(serde_json::to_vec(&claims).unwrap()),
            parts[2]
        );
        assert!(matches!(
            auth.authenticate(&stripped, &head()).await,
            Err(Error::InvalidToken(_))
        ));
    }

    #[tokio::test]
    async fn a_cached_token_is_refused_once_revoked() {
        let f = fixture(ExpiresIn::Never, 100).await;
        let (t, c) = f.cached_token().await;
        f.state.revocations.revoke(&c.jti, c.exp).await.unwrap();
        assert!(f.refused(&t).await);
    }

    #[tokio::test]
    async fn a_cached_token_is_refused_once_expired() {
        let f = fixture(ExpiresIn::For(Duration::from_secs(60)), 100).await;
        let (t, _) = f.cached_token().await;
        f.clock.advance(59);
        assert!(f.auth.authenticate(&t, &head()).await.is_ok());
        f.clock.advance(1);
        assert!(f.refused(&t).await, "exp == now is expired, cached or not");
        assert!(!f.auth.is_cached(&t), "an expired entry is dropped");
    }

    #[tokio::test]
    async fn a_cached_token_is_refused_once_its_user_is_deleted() {
        let f = fixture(ExpiresIn::Never, 100).await;
        let (t, _) = f.cached_token().await;
        assert!(f.state.users.delete(&f.user_id).await.unwrap());
        assert!(f.refused(&t).await);
    }

    #[tokio::test]
    async fn a_cached_token_carries_the_current_role() {
        let f = fixture(ExpiresIn::Never, 100).await;
        let (t, _) = f.cached_token().await;
        f.state
            .users
            .set_role(&f.user_id, Role::Pending, NOW)
            .await
            .unwrap();
        let p = f.auth.authenticate(&t, &head()).await.unwrap();
        assert_eq!(p.user.role, Role::Pending, "the role extractors see");
    }

    #[tokio::test]
    async fn single_use_tokens_are_never_cached() {
        let f = fixture(ExpiresIn::SingleUse, 100).await;
        let (t, _) = f.state.sessions.issue(&f.bob, f.clock.now()).unwrap();
        assert!(f.auth.authenticate(&t, &head()).await.is_ok());
        assert!(!f.auth.is_cached(&t));
        assert!(f.refused(&t).await, "a second use is refused");
    }

    #[tokio::test]
    async fn refused_tokens_are_not_cached_and_the_cache_can_be_off() {
        let f = fixture(ExpiresIn::Never, 100).await;
        let (t, c) = f.state.sessions.issue(&f.bob, f.clock.now()).unwrap();
        f.state.revocations.revoke(&c.jti, c.exp).await.unwrap();
        assert!(f.refused(&t).await);
        assert!(!f.auth.is_cached(&t));
        // a tampered signature on a token whose twin is cached
        let (good, _) = f.cached_token().await;
        let mut forged = good.clone().into_bytes();
        let i = forged.len() - 5; // a data character of the signature
        forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        assert!(f.refused(&forged).await);

        let off = fixture(ExpiresIn::Never, 0).await;
        let (t, c) = off.state.sessions.issue(&off.bob, NOW).unwrap();
        assert!(off.auth.authenticate(&t, &head()).await.is_ok());
        assert!(!off.auth.is_cached(&t));
        off.state.revocations.revoke(&c.jti, c.exp).await.unwrap();
        assert!(off.refused(&t).await);
    }

    #[tokio::test]
    async fn sessions_die_with_their_users_epoch() {
        let f = fixture(ExpiresIn::Never, 100).await;
        let (t, _) = f.cached_token().await;
        f.state
            .users
            .sign_out_everywhere(&f.user_id, NOW)
            .await
            .unwrap()
            .unwrap();
        assert!(f.refused(&t).await, "cached, and signed out everywhere");
        // a token of the new epoch works
        let bob = f.state.users.get(&f.user_id).await.unwrap().unwrap();
        let (fresh, _) = f.state.sessions.issue(&bob, NOW).unwrap();
        assert!(f.auth.authenticate(&fresh, &head()).await.is_ok());
    }

    #[tokio::test]
    async fn an_exchanged_session_dies_with_its_source_and_never_outlives_it() {
        let f = fixture(ExpiresIn::Never, 100).await;
        let (t, c) = f
            .state
            .sessions
            .mint(
                &f.bob,
                NOW,
                Origin::Exchange {
                    ends: Some(NOW + 50),
                    revocation_id: Some("idp-jti-1"),
                },
            )
            .unwrap();
        assert_eq!(c.exp, Some(NOW + 50), "not past its source");
        assert_eq!(c.kind(), CredentialKind::ExchangedSession);
        let p = f.auth.authenticate(&t, &head()).await.unwrap();
        assert_eq!(p.kind, CredentialKind::ExchangedSession);
        f.state
            .revocations
            .revoke("idp-jti-1", Some(NOW + 50))
            .await
            .unwrap();
        assert!(f.refused(&t).await, "its source was revoked");
        let (_, c) = f
            .state
            .sessions
            .mint(
                &f.bob,
                NOW,
                Origin::Exchange {
                    ends: None,
                    revocation_id: None,
                },
            )
            .unwrap();
        assert_eq!(
            c.exp,
            Some(NOW + 8 * 3600),
            "capped by exchanged_expires_in"
        );
    }
}
