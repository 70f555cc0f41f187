//! Unit tests of SSO sign-in without a provider: the ID token's checks with
//! tokens signed by a key made here (through the IdP machinery), nonce
//! replay, account linking, the settings round trip and the hand-over code.
use super::browser::HandOver;
use super::config::OidcProviderConfig;
use super::cookie::FlowState;
use super::flow::{issuer_config, IdTokenVerifier};
use super::provision::{provision, Asserted};
use super::*;
use crate::auth::idp::keys::KeyStore;
use crate::clock::ManualClock;
use crate::state::AppState;
use crate::store::users::NewLocalUser;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use tessera_shared::oidc::OidcProviderSettings;
use tessera_shared::{Role, SessionUser};

const ISS: &str = "https://idp.test/realms/x";
const CLIENT: &str = "tessera";
const NOW: i64 = 1_700_000_000;

struct Signer {
    key: EncodingKey,
    spki_pem: String,
    /// The raw public key, base64url (a JWK's `x`).
    x: String,
}

impl Signer {
    /// The public key as a JWK with `kid`.
    fn jwk(&self, kid: &str) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": kid, "x": self.x})
    }
}

fn signer() -> Signer {
    let doc = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new()).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap();
    let mut spki = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    spki.extend_from_slice(pair.public_key().as_ref());
    let b64 = base64::engine::general_purpose::STANDARD.encode(&spki);
    Signer {
        key: EncodingKey::from_ed_der(doc.as_ref()),
        spki_pem: format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n"),
        x: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
    }
}

fn verifier(s: &Signer) -> IdTokenVerifier {
    let mut cfg = OidcProviderConfig::new("kc");
    cfg.client_id = CLIENT.into();
    let mut ic = issuer_config(&cfg, ISS, None, vec!["EdDSA".into(), "RS256".into()]);
    ic.decode_key_b64 = Some(Secret::new(
        base64::engine::general_purpose::STANDARD.encode(&s.spki_pem),
    ));
    let keys = KeyStore::new(&ic).unwrap();
    IdTokenVerifier::new(ic, Arc::new(keys))
}

fn claims() -> Value {
    json!({"iss": ISS, "sub": "s1", "aud": CLIENT, "exp": NOW + 300, "iat": NOW, "nonce": "n-1"})
}

fn sign(s: &Signer, c: &Value) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), c, &s.key).unwrap()
}

async fn check(c: Value) -> std::result::Result<Map<String, Value>, &'static str> {
    let s = signer();
    verifier(&s).verify(&sign(&s, &c), NOW, Some("n-1")).await
}

#[tokio::test]
async fn a_good_id_token_passes() {
    let c = check(claims()).await.unwrap();
    assert_eq!(c["sub"], "s1");
}

#[tokio::test]
async fn nonce_must_match() {
    let mut c = claims();
    c["nonce"] = json!("n-2");
    assert_eq!(
        check(c).await.unwrap_err(),
        "nonce does not match the sign-in"
    );
    let mut c = claims();
    c.as_object_mut().unwrap().remove("nonce");
    assert_eq!(
        check(c).await.unwrap_err(),
        "nonce missing from the ID token"
    );
}

#[tokio::test]
async fn aud_azp_iss_and_expiry_go_through_the_idp_checks() {
    let mut c = claims();
    c["aud"] = json!("another-client");
    assert_eq!(
        check(c).await.unwrap_err(),
        "aud does not contain an accepted audience"
    );
    let mut c = claims();
    c["aud"] = json!([CLIENT, "other"]);
    assert_eq!(
        check(c.clone()).await.unwrap_err(),
        "azp missing while aud has several values"
    );
    c["azp"] = json!(CLIENT);
    assert!(check(c).await.is_ok());
    let mut c = claims();
    c["azp"] = json!("other");
    assert_eq!(check(c).await.unwrap_err(), "azp is not the client id");
    let mut c = claims();
    c["iss"] = json!("https://evil.test");
    assert_eq!(check(c).await.unwrap_err(), "iss does not match the issuer");
    let mut c = claims();
    c["exp"] = json!(NOW - 61);
    assert_eq!(check(c).await.unwrap_err(), "token expired");
    let mut c = claims();
    c.as_object_mut().unwrap().remove("iat");
    assert_eq!(check(c).await.unwrap_err(), "a required claim is missing");
}

#[tokio::test]
async fn forged_and_unsigned_tokens_are_refused() {
    let s = signer();
    let v = verifier(&s);
    // another key
    let other = signer();
    assert_eq!(
        v.verify(&sign(&other, &claims()), NOW, Some("n-1"))
            .await
            .unwrap_err(),
        "bad signature"
    );
    // alg none
    let b64 = |x: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(x);
    let none = format!(
        "{}.{}.",
        b64(r#"{"alg":"none"}"#),
        b64(&claims().to_string())
    );
    assert!(v.verify(&none, NOW, Some("n-1")).await.is_err());
    // HS256 keyed with the public key (algorithm confusion)
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(s.spki_pem.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        v.verify(&hs, NOW, Some("n-1")).await.unwrap_err(),
        "alg not allowed for this issuer"
    );
}

async fn app_state(clock: Arc<ManualClock>) -> (AppState, tempfile::TempDir) {
    app_state_at(clock, ISS).await
}

/// The state of a Tessera whose provider `kc` is the issuer `iss`.
async fn app_state_at(clock: Arc<ManualClock>, iss: &str) -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::Config::default();
    config.server.data_dir = dir.path().to_path_buf();
    config.server.public_url = Some("http://tessera.test".into());
    let mut kc = OidcProviderConfig::new("kc");
    kc.client_id = CLIENT.into();
    kc.client_secret = Some(Secret::new("file-secret"));
    kc.discovery_url = Some(format!("{iss}/.well-known/openid-configuration"));
    config.oidc_providers = vec![kc];
    let state = AppState::build_with_clock(config, clock).await.unwrap();
    (state, dir)
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
    let (state, _dir) = app_state(clock).await;
    let root = state
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
    let refused = provision(&state, &cfg, &asserted("s1", "root@example.com", false)).await;
    assert!(
        matches!(refused, Err(Error::Forbidden(d)) if d == provision::UNVERIFIED_EMAIL),
        "{refused:?}"
    );
    assert_eq!(state.users.count().await.unwrap(), 1);
    // an unverified e-mail nobody has: a new account of the provider's
    let u = provision(&state, &cfg, &asserted("s0", "someone@example.com", false))
        .await
        .unwrap();
    assert_ne!(u.id, root.id);
    assert_eq!(u.role, Role::User);
    // merging off: a verified e-mail does not link either
    cfg.merge_accounts_by_email = false;
    let u = provision(&state, &cfg, &asserted("s2", "ROOT@example.com", true))
        .await
        .unwrap();
    assert_ne!(u.id, root.id);
    // merging on and verified: linked to the local account, groups synced
    cfg.merge_accounts_by_email = true;
    cfg.admin_groups = vec!["Staff".into()];
    let u = provision(&state, &cfg, &asserted("s3", "Root@Example.com", true))
        .await
        .unwrap();
    assert_eq!(u.id, root.id);
    assert_eq!(u.groups, vec!["staff"]);
    // from then on linked by (provider, subject), whatever the e-mail says
    let u = provision(&state, &cfg, &asserted("s3", "changed@example.com", false))
        .await
        .unwrap();
    assert_eq!(u.id, root.id);
    // an identity already known by subject is never re-linked by e-mail
    let again = provision(&state, &cfg, &asserted("s0", "root@example.com", true))
        .await
        .unwrap();
    assert_ne!(again.id, root.id);
    // outside the allowed groups: refused
    cfg.user_groups = vec!["trusted".into()];
    cfg.admin_groups.clear();
    assert!(matches!(
        provision(&state, &cfg, &asserted("s4", "x@example.com", true)).await,
        Err(Error::Forbidden(ACCESS_PROHIBITED))
    ));
}

#[tokio::test]
async fn settings_round_trip_keeps_and_never_returns_the_secret() {
    let clock = Arc::new(ManualClock::new(NOW));
    let (state, _dir) = app_state(clock).await;
    let oidc = &state.oidc;
    let listed = oidc.settings();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].source, "config");
    assert!(listed[0].client_secret.is_none() && listed[0].client_secret_set);
    // edit the file provider without a secret: the file's secret is kept
    let mut s = listed[0].clone();
    s.display_name = "Keycloak".into();
    s.groups_claim = Some("/realm_access/roles".into());
    let saved = oidc.save(&state, "kc", &s).await.unwrap();
    assert_eq!(saved.source, "database");
    assert_eq!(saved.display_name, "Keycloak");
    assert!(saved.client_secret.is_none() && saved.client_secret_set);
    assert_eq!(oidc.get("kc").unwrap().secret(), Some("file-secret"));
    assert_eq!(oidc.links()[0].display_name, "Keycloak", "applies at once");
    // a new secret replaces it; null keeps the new one
    s.client_secret = Some("db-secret".into());
    oidc.save(&state, "kc", &s).await.unwrap();
    s.client_secret = None;
    let saved = oidc.save(&state, "kc", &s).await.unwrap();
    assert!(!serde_json::to_string(&saved).unwrap().contains("db-secret"));
    assert_eq!(oidc.get("kc").unwrap().secret(), Some("db-secret"));
    // invalid settings: 422 naming the field, nothing changes
    let mut bad = s.clone();
    bad.client_id.clear();
    match oidc.save(&state, "kc", &bad).await {
        Err(Error::Unprocessable(d)) => assert!(d.contains("client_id"), "{d}"),
        other => panic!("expected 422, got {:?}", other.map(|_| ())),
    }
    let mut other = s.clone();
    other.name = "other".into();
    assert!(matches!(
        oidc.save(&state, "kc", &other).await,
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
    oidc.save(&state, "gh", &gh).await.unwrap();
    assert_eq!(oidc.links().len(), 2);
    gh.client_secret = None;
    assert!(oidc.settings().iter().all(|p| p.client_secret.is_none()));
    oidc.delete(&state, "gh").await.unwrap();
    assert_eq!(oidc.links().len(), 1);
    // deleting the saved settings of a file provider falls back to the file
    oidc.delete(&state, "kc").await.unwrap();
    assert_eq!(oidc.settings()[0].source, "config");
    assert_eq!(oidc.get("kc").unwrap().secret(), Some("file-secret"));
    assert!(matches!(
        oidc.delete(&state, "kc").await,
        Err(Error::NotFound(_))
    ));
}

#[tokio::test]
async fn the_hand_over_code_is_single_use_and_short_lived() {
    let clock = Arc::new(ManualClock::new(NOW));
    let (state, _dir) = app_state(clock.clone()).await;
    let user = state
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
    let session = state.oidc.session(&state, &user, Some(NOW + 120)).unwrap();
    assert_eq!(
        session.expires_at,
        Some(NOW + 120),
        "capped by the provider token"
    );
    let put = |code: &'static str, session: SessionUser| {
        let once = state.oidc.once.clone();
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
    let complete = |code: &'static str, binding: Option<&'static str>| {
        let state = state.clone();
        async move { state.oidc.complete(&state, code, binding).await }
    };
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
    let (state, _dir) = app_state(clock).await;
    let params = CallbackParams {
        code: Some("code".into()),
        state: Some("st".into()),
        ..CallbackParams::default()
    };
    let (loc, binding) = state.oidc.callback(&state, "kc", &params, None).await;
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
    let sealed = state.oidc.key.seal(&fs);
    let loc = state
        .oidc
        .callback(&state, "kc", &params, Some(&sealed))
        .await
        .0;
    assert!(loc.contains("does%20not%20belong"), "{loc}");
    // the provider's error is shown, readable
    let refused = CallbackParams {
        error: Some("access_denied".into()),
        error_description: Some("User cancelled".into()),
        ..CallbackParams::default()
    };
    let loc = state
        .oidc
        .callback(&state, "kc", &refused, Some(&sealed))
        .await
        .0;
    assert!(loc.contains("access_denied"), "{loc}");
    // a state no sign-in started here is refused
    let mut p = params.clone();
    p.state = Some("the-state".into());
    let loc = state.oidc.callback(&state, "kc", &p, Some(&sealed)).await.0;
    assert!(loc.contains("already%20completed"), "{loc}");
    // a replayed state (the same response twice) is refused
    state
        .oidc
        .allow_once(STATE, "the-state", cookie::LIFETIME_SECS)
        .await
        .unwrap();
    let loc = state.oidc.callback(&state, "kc", &p, Some(&sealed)).await.0;
    assert!(loc.contains("could%20not%20be%20reached"), "{loc}");
    let loc = state.oidc.callback(&state, "kc", &p, Some(&sealed)).await.0;
    assert!(loc.contains("already%20completed"), "{loc}");
}

#[tokio::test]
async fn replayed_nonces_and_bad_next_are_refused() {
    let clock = Arc::new(ManualClock::new(NOW));
    let (state, _dir) = app_state(clock).await;
    assert!(
        !state.oidc.use_once(NONCE, "abc").await.unwrap(),
        "a nonce no sign-in started is refused"
    );
    state.oidc.allow_once(NONCE, "abc", 600).await.unwrap();
    assert!(state.oidc.use_once(NONCE, "abc").await.unwrap());
    assert!(
        !state.oidc.use_once(NONCE, "abc").await.unwrap(),
        "a replayed nonce is refused"
    );
    let f = state
        .oidc
        .login(&state, "kc", Some("//evil.example"), None)
        .await
        .unwrap_err();
    assert!(f.reason.contains("path on this site"));
    let f = state
        .oidc
        .login(&state, "nope", None, None)
        .await
        .unwrap_err();
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

/// A provider on loopback: discovery, its keys (every fetch counted; they
/// fail while `keys_fail` is set) and a token endpoint refusing every code.
struct FakeIdp {
    url: String,
    fetches: Arc<AtomicUsize>,
    keys_fail: Arc<AtomicBool>,
}

impl FakeIdp {
    async fn start(jwks: Value) -> FakeIdp {
        use axum::http::StatusCode;
        use axum::routing::{get, post};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let fetches = Arc::new(AtomicUsize::new(0));
        let keys_fail = Arc::new(AtomicBool::new(false));
        let doc = json!({
            "issuer": url,
            "authorization_endpoint": format!("{url}/authorize"),
            "token_endpoint": format!("{url}/token"),
            "jwks_uri": format!("{url}/jwks"),
            "id_token_signing_alg_values_supported": ["EdDSA"],
        });
        let (count, failing) = (fetches.clone(), keys_fail.clone());
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || {
                    let doc = doc.clone();
                    async move { axum::Json(doc) }
                }),
            )
            .route(
                "/jwks",
                get(move || {
                    count.fetch_add(1, Ordering::SeqCst);
                    let answer = if failing.load(Ordering::SeqCst) {
                        (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({})))
                    } else {
                        (StatusCode::OK, axum::Json(jwks.clone()))
                    };
                    async move { answer }
                }),
            )
            .route(
                "/token",
                post(|| async {
                    (
                        StatusCode::BAD_REQUEST,
                        axum::Json(json!({"error": "invalid_grant"})),
                    )
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeIdp {
            url,
            fetches,
            keys_fail,
        }
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// An ID-token verifier over this provider's keys, loaded (or not) as
    /// discovery loads them.
    async fn verifier(&self) -> IdTokenVerifier {
        let mut cfg = OidcProviderConfig::new("kc");
        cfg.client_id = CLIENT.into();
        let jwks = format!("{}/jwks", self.url);
        let ic = issuer_config(&cfg, &self.url, Some(&jwks), vec!["EdDSA".into()]);
        let keys = Arc::new(KeyStore::new(&ic).unwrap());
        keys.refresh(true).await;
        IdTokenVerifier::new(ic, keys)
    }
}

/// Issue 15: a forged ID token with a `kid` the provider never had must not
/// make Tessera fetch the provider's keys once per token — neither while the
/// keys are loaded nor while the provider fails to serve them.
#[tokio::test]
async fn a_burst_of_unknown_kid_id_tokens_fetches_keys_at_most_once_per_interval() {
    let s = signer();
    let idp = FakeIdp::start(json!({"keys": [s.jwk("k1")]})).await;
    let token = |kid: &str| {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.into());
        let mut c = claims();
        c["iss"] = json!(idp.url);
        jsonwebtoken::encode(&header, &c, &s.key).unwrap()
    };
    let v = idp.verifier().await;
    assert_eq!(idp.fetches(), 1, "loaded once, as discovery does");
    assert!(v.verify(&token("k1"), NOW, Some("n-1")).await.is_ok());
    for i in 0..20 {
        assert_eq!(
            v.verify(&token(&format!("forged-{i}")), NOW, Some("n-1"))
                .await
                .unwrap_err(),
            "kid unknown to the provider"
        );
    }
    assert!(idp.fetches() <= 2, "{} fetches", idp.fetches());

    // the provider's keys cannot be loaded: each token must not force a fetch
    idp.keys_fail.store(true, Ordering::SeqCst);
    let v = idp.verifier().await;
    let before = idp.fetches();
    for i in 0..20 {
        assert!(v
            .verify(&token(&format!("forged-{i}")), NOW, Some("n-1"))
            .await
            .is_err());
    }
    assert!(
        idp.fetches() - before <= 1,
        "{} fetches for 20 tokens within the minimum interval",
        idp.fetches() - before
    );
}

/// Issue 15: flooding the one-time store (far past its bound) must not make
/// a used `state` usable again: the same callback a second time is refused
/// before the code goes to the provider.
#[tokio::test]
async fn a_flooded_single_use_store_never_lets_a_state_be_replayed() {
    let s = signer();
    let idp = FakeIdp::start(json!({"keys": [s.jwk("k1")]})).await;
    let clock = Arc::new(ManualClock::new(NOW));
    let (state, _dir) = app_state_at(clock, &idp.url).await;
    let (auth_url, set_cookie) = state.oidc.login(&state, "kc", None, None).await.unwrap();
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
    let first = state
        .oidc
        .callback(&state, "kc", &params, Some(&sealed))
        .await
        .0;
    assert!(first.contains(reached_the_provider), "{first}");
    // a flood of one-time entries, each read a few times so that the cache's
    // admission policy prefers them to older entries (as an attacker's
    // entries, touched again and again, would be)
    let once = state.oidc.once.clone();
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
    let again = state
        .oidc
        .callback(&state, "kc", &params, Some(&sealed))
        .await
        .0;
    assert!(
        !again.contains(reached_the_provider),
        "a replayed state reached the provider: {again}"
    );
}
