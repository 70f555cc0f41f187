//! Sign-in without a provider (or against one that refuses every code):
//! account linking, the settings round trip, the hand-over code, the
//! callback's refusals and single-use `state` and `nonce`.
use super::super::browser::HandOver;
use super::super::cookie::FlowState;
use super::super::provision::{provision, Asserted};
use super::*;
use crate::auth::session::SessionKeys;
use crate::clock::ManualClock;
use crate::domain::NoOne;
use crate::replica::single_use::MemorySingleUse;
use crate::store::users::{NewLocalUser, Users};
use crate::store::Db;
use tessera_shared::oidc::OidcProviderSettings;
use tessera_shared::{Role, SessionUser};

/// The SSO component with the handles it works with: a database of its
/// own, the user directory over it, no other replicas.
pub(super) struct Fixture {
    pub(super) oidc: OidcProviders,
    pub(super) db: Db,
    pub(super) users: Users,
    _dir: tempfile::TempDir,
}

impl Fixture {
    /// Provisions the account of `a` at provider `cfg`, now.
    async fn provision(
        &self,
        cfg: &OidcProviderConfig,
        a: &Asserted,
    ) -> Result<Arc<crate::domain::User>> {
        provision(&self.db, &self.users, cfg, a, NOW).await
    }
}

async fn fixture(clock: Arc<ManualClock>) -> Fixture {
    fixture_at(clock, ISS).await
}

/// The SSO component of a Tessera whose provider `kc` is the issuer `iss`.
pub(super) async fn fixture_at(clock: Arc<ManualClock>, iss: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::Config::default();
    config.server.public_url = Some("http://tessera.test".into());
    let mut kc = OidcProviderConfig::new("kc");
    kc.client_id = CLIENT.into();
    kc.client_secret = Some(Secret::new("file-secret"));
    kc.discovery_url = Some(format!("{iss}/.well-known/openid-configuration"));
    config.oidc_providers = vec![kc];
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let db = Db::connect(&url).await.unwrap();
    let users = Users::new(db.clone(), 100);
    let sessions = Arc::new(SessionKeys::new(
        SESSION_SECRET,
        config.session_issuer(),
        config.session.expires_in,
        config.session.exchanged_max_secs(),
    ));
    let handles = Handles {
        db: db.clone(),
        users: users.clone(),
        sessions,
        revocations: Arc::new(
            crate::auth::revocation::Revocations::load(Arc::new(db.clone()), NOW)
                .await
                .unwrap(),
        ),
        once: Arc::new(MemorySingleUse::default()),
        announcer: Arc::new(NoOne),
        clock,
    };
    let oidc = OidcProviders::new(&config, SESSION_SECRET, handles).unwrap();
    oidc.reload().await.unwrap();
    Fixture {
        oidc,
        db,
        users,
        _dir: dir,
    }
}

fn asserted(subject: &str, email: &str, verified: bool) -> Asserted {
    Asserted {
        subject: subject.into(),
        username: Some("root".into()),
        email: email.into(),
        email_verified: verified,
        name: "Admin".into(),
        picture: None,
        groups: vec!["staff".into()],
    }
}

#[tokio::test]
async fn merge_only_with_a_verified_email_and_never_by_username() {
    let clock = Arc::new(ManualClock::new(NOW));
    let sso = fixture(clock).await;
    let root = sso
        .users
        .create_local(
            NewLocalUser {
                name: "root",
                email: "root@example.com",
                password_hash: "x",
                role: Role::User,
            },
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(root.role, Role::Admin);
    let mut cfg = OidcProviderConfig::new("kc");
    cfg.merge_accounts_by_email = true;
    // username and name equal the root's; e-mail not verified: refused,
    // neither linked nor given a look-alike account
    let refused = sso
        .provision(&cfg, &asserted("s1", "root@example.com", false))
        .await;
    assert!(
        matches!(refused, Err(Error::Forbidden(d)) if d == provision::UNVERIFIED_EMAIL),
        "{refused:?}"
    );
    assert_eq!(sso.users.count().await.unwrap(), 1);
    // an unverified e-mail nobody has: a new account of the provider's
    let u = sso
        .provision(&cfg, &asserted("s0", "someone@example.com", false))
        .await
        .unwrap();
    assert_ne!(u.id, root.id);
    assert_eq!(u.role, Role::User);
    // merging off: a verified e-mail does not link either
    cfg.merge_accounts_by_email = false;
    let u = sso
        .provision(&cfg, &asserted("s2", "ROOT@example.com", true))
        .await
        .unwrap();
    assert_ne!(u.id, root.id);
    // merging on and verified: linked to the local account, groups synced
    cfg.merge_accounts_by_email = true;
    cfg.admin_groups = vec!["Staff".into()];
    let u = sso
        .provision(&cfg, &asserted("s3", "Root@Example.com", true))
        .await
        .unwrap();
    assert_eq!(u.id, root.id);
    assert_eq!(u.groups, vec!["staff"]);
    // from then on linked by (provider, subject), whatever the e-mail says
    let u = sso
        .provision(&cfg, &asserted("s3", "changed@example.com", false))
        .await
        .unwrap();
    assert_eq!(u.id, root.id);
    // an identity already known by subject is never re-linked by e-mail
    let again = sso
        .provision(&cfg, &asserted("s0", "root@example.com", true))
        .await
        .unwrap();
    assert_ne!(again.id, root.id);
    // outside the allowed groups: refused
    cfg.user_groups = vec!["trusted".into()];
    cfg.admin_groups.clear();
    assert!(matches!(
        sso.provision(&cfg, &asserted("s4", "x@example.com", true))
            .await,
        Err(Error::Forbidden(ACCESS_PROHIBITED))
    ));
}

#[tokio::test]
async fn settings_round_trip_keeps_and_never_returns_the_secret() {
    let clock = Arc::new(ManualClock::new(NOW));
    let sso = fixture(clock).await;
    let oidc = &sso.oidc;
    let listed = oidc.settings();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].source, "config");
    assert!(listed[0].client_secret.is_none() && listed[0].client_secret_set);
    // edit the file provider without a secret: the file's secret is kept
    let mut s = listed[0].clone();
    s.display_name = "Keycloak".into();
    s.groups_claim = Some("/realm_access/roles".into());
    let saved = oidc.save("kc", &s).await.unwrap();
    assert_eq!(saved.source, "database");
    assert_eq!(saved.display_name, "Keycloak");
    assert!(saved.client_secret.is_none() && saved.client_secret_set);
    assert_eq!(oidc.get("kc").unwrap().secret(), Some("file-secret"));
    assert_eq!(oidc.links()[0].display_name, "Keycloak", "applies at once");
    // a new secret replaces it; null keeps the new one
    s.client_secret = Some("db-secret".into());
    oidc.save("kc", &s).await.unwrap();
    s.client_secret = None;
    let saved = oidc.save("kc", &s).await.unwrap();
    assert!(!serde_json::to_string(&saved).unwrap().contains("db-secret"));
    assert_eq!(oidc.get("kc").unwrap().secret(), Some("db-secret"));
    // invalid settings: 422 naming the field, nothing changes
    let mut bad = s.clone();
    bad.client_id.clear();
    match oidc.save("kc", &bad).await {
        Err(Error::Unprocessable(d)) => assert!(d.contains("client_id"), "{d}"),
        other => panic!("expected 422, got {:?}", other.map(|_| ())),
    }
    let mut other = s.clone();
    other.name = "other".into();
    assert!(matches!(
        oidc.save("kc", &other).await,
        Err(Error::Unprocessable(_))
    ));
    // a database-only provider appears and disappears
    let mut gh = OidcProviderSettings {
        name: "gh".into(),
        kind: ProviderKind::Github,
        client_id: "id".into(),
        client_secret: Some("gh-secret".into()),
        ..OidcProviderSettings::default()
    };
    oidc.save("gh", &gh).await.unwrap();
    assert_eq!(oidc.links().len(), 2);
    gh.client_secret = None;
    assert!(oidc.settings().iter().all(|p| p.client_secret.is_none()));
    oidc.delete("gh").await.unwrap();
    assert_eq!(oidc.links().len(), 1);
    // deleting the saved settings of a file provider falls back to the file
    oidc.delete("kc").await.unwrap();
    assert_eq!(oidc.settings()[0].source, "config");
    assert_eq!(oidc.get("kc").unwrap().secret(), Some("file-secret"));
    assert!(matches!(oidc.delete("kc").await, Err(Error::NotFound(_))));
}

#[tokio::test]
async fn the_hand_over_code_is_single_use_and_short_lived() {
    let clock = Arc::new(ManualClock::new(NOW));
    let sso = fixture(clock.clone()).await;
    let user = sso
        .users
        .create_local(
            NewLocalUser {
                name: "ann",
                email: "ann@example.com",
                password_hash: "x",
                role: Role::User,
            },
            NOW,
        )
        .await
        .unwrap();
    let verified = Verified {
        claims: Map::new(),
        not_after: Some(NOW + 120),
        ended_by: None,
        id_token: None,
        refresh_token: None,
        expires_in: None,
    };
    let session = sso.oidc.session(&user, &verified).unwrap();
    assert_eq!(
        session.expires_at,
        Some(NOW + 120),
        "capped by the provider token"
    );
    let put = |code: &'static str, session: SessionUser| {
        let once = sso.oidc.once.clone();
        let stored = HandOver {
            session,
            binding: cookie::binding_hash("browser-a"),
        };
        async move {
            once.put(
                CODE,
                code,
                encode(NOW, stored).unwrap(),
                secs(CODE_TTL_SECS),
            )
            .await
            .unwrap()
        }
    };
    let complete =
        |code: &'static str, binding: Option<&'static str>| sso.oidc.complete(code, binding);
    put("c1", session.clone()).await;
    // another browser (no binding cookie, or its own): 403, and the code
    // stays for the browser it was issued to
    for other in [None, Some(""), Some("browser-b"), Some("browser-a ")] {
        assert!(
            matches!(complete("c1", other).await, Err(Error::Forbidden(d)) if d == OTHER_BROWSER),
            "{other:?}"
        );
    }
    assert_eq!(complete("c1", Some("browser-a")).await.unwrap().id, user.id);
    assert!(
        matches!(
            complete("c1", Some("browser-a")).await,
            Err(Error::InvalidToken(_))
        ),
        "single use"
    );
    assert!(matches!(
        complete("unknown", Some("browser-a")).await,
        Err(Error::InvalidToken(_))
    ));
    put("c2", session).await;
    clock.advance(CODE_TTL_SECS);
    assert!(
        matches!(
            complete("c2", Some("browser-a")).await,
            Err(Error::InvalidToken(_))
        ),
        "expired"
    );
}

#[tokio::test]
async fn callback_without_a_cookie_or_with_a_wrong_state_lands_on_signin() {
    let clock = Arc::new(ManualClock::new(NOW));
    let sso = fixture(clock).await;
    let params = CallbackParams {
        code: Some("code".into()),
        state: Some("st".into()),
        ..CallbackParams::default()
    };
    let (loc, binding) = sso.oidc.callback("kc", &params, None, None).await;
    assert!(binding.is_none());
    assert!(loc.starts_with("/signin?error="), "{loc}");
    let fs = FlowState {
        provider: "kc".into(),
        state: "the-state".into(),
        nonce: "n".into(),
        verifier: "v".into(),
        next: None,
        test: None,
        exp: NOW + 600,
    };
    let sealed = sso.oidc.key.seal(&fs);
    let loc = sso
        .oidc
        .callback("kc", &params, Some(&sealed), None)
        .await
        .0;
    assert!(loc.contains("does%20not%20belong"), "{loc}");
    // the provider's error is shown, readable
    let refused = CallbackParams {
        error: Some("access_denied".into()),
        error_description: Some("User cancelled".into()),
        ..CallbackParams::default()
    };
    let loc = sso
        .oidc
        .callback("kc", &refused, Some(&sealed), None)
        .await
        .0;
    assert!(loc.contains("access_denied"), "{loc}");
    // a state no sign-in started here is refused
    let mut p = params.clone();
    p.state = Some("the-state".into());
    let loc = sso.oidc.callback("kc", &p, Some(&sealed), None).await.0;
    assert!(loc.contains("already%20completed"), "{loc}");
    // a replayed state (the same response twice) is refused
    sso.oidc
        .allow_once(STATE, "the-state", cookie::LIFETIME_SECS)
        .await
        .unwrap();
    let loc = sso.oidc.callback("kc", &p, Some(&sealed), None).await.0;
    assert!(loc.contains("could%20not%20be%20reached"), "{loc}");
    let loc = sso.oidc.callback("kc", &p, Some(&sealed), None).await.0;
    assert!(loc.contains("already%20completed"), "{loc}");
}

#[tokio::test]
async fn replayed_nonces_and_bad_next_are_refused() {
    let clock = Arc::new(ManualClock::new(NOW));
    let sso = fixture(clock).await;
    assert!(
        !sso.oidc.use_once(NONCE, "abc").await.unwrap(),
        "a nonce no sign-in started is refused"
    );
    sso.oidc.allow_once(NONCE, "abc", 600).await.unwrap();
    assert!(sso.oidc.use_once(NONCE, "abc").await.unwrap());
    assert!(
        !sso.oidc.use_once(NONCE, "abc").await.unwrap(),
        "a replayed nonce is refused"
    );
    let f = sso
        .oidc
        .login("kc", Some("//evil.example"), None)
        .await
        .unwrap_err();
    assert!(f.reason.contains("path on this site"));
    let f = sso.oidc.login("nope", None, None).await.unwrap_err();
    assert_eq!(f.reason, "Unknown sign-in provider");
}

#[test]
fn cli_redirect_uris_are_loopback_only() {
    assert!(cli_redirect_uri("http://localhost:8250/oidc/callback").is_some());
    assert!(cli_redirect_uri("http://127.0.0.1:8250/oidc/callback").is_some());
    for bad in [
        "https://localhost:8250/oidc/callback",
        "http://localhost/oidc/callback",
        "http://evil.example:8250/oidc/callback",
        "http://localhost:8250/other",
        "http://localhost:8250/oidc/callback?x=1",
        "http://user@localhost:8250/oidc/callback",
        "http://localhost.evil.example:8250/oidc/callback",
        "http://[::1]:8250/oidc/callback",
    ] {
        assert!(cli_redirect_uri(bad).is_none(), "{bad}");
    }
}

/// Issue 15: flooding the one-time store (far past its bound) must not make
/// a used `state` usable again: the same callback a second time is refused
/// before the code goes to the provider.
#[tokio::test]
async fn a_flooded_single_use_store_never_lets_a_state_be_replayed() {
    let s = signer();
    let idp = FakeIdp::start(json!({"keys": [s.jwk("k1")]})).await;
    let clock = Arc::new(ManualClock::new(NOW));
    let sso = fixture_at(clock, &idp.url).await;
    let (auth_url, set_cookie) = sso.oidc.login("kc", None, None).await.unwrap();
    let sealed = set_cookie
        .strip_prefix("tessera_oauth=")
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned();
    let st = url::Url::parse(&auth_url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let params = CallbackParams {
        code: Some("the-code".into()),
        state: Some(st),
        ..CallbackParams::default()
    };
    // the first callback passes the state check; the provider refuses the code
    let reached_the_provider = "did%20not%20accept";
    let first = sso
        .oidc
        .callback("kc", &params, Some(&sealed), None)
        .await
        .0;
    assert!(first.contains(reached_the_provider), "{first}");
    // a flood of one-time entries, each read a few times so that the cache's
    // admission policy prefers them to older entries (as an attacker's
    // entries, touched again and again, would be)
    let once = sso.oidc.once.clone();
    let ttl = secs(600);
    for _ in 0..3 {
        for i in 0..150_000 {
            let id = i.to_string();
            once.put("flood", &id, String::new(), ttl).await.unwrap();
            for _ in 0..2 {
                let _ = once.peek("flood", &id).await.unwrap();
            }
        }
    }
    let again = sso
        .oidc
        .callback("kc", &params, Some(&sealed), None)
        .await
        .0;
    assert!(
        !again.contains(reached_the_provider),
        "a replayed state reached the provider: {again}"
    );
}
