//! Unit tests of `auth::embed`: path matching, scopes, and forged tokens.
use super::*;
use crate::auth::confine::*;
use crate::auth::policy::CredentialKind;
use crate::config::ExpiresIn;
use axum::http::Method;
use tessera_shared::routes;

fn grant(paths: &[&str], scopes: &[&str]) -> EmbedGrant {
    EmbedGrant {
        origin: "https://portal.example.com".into(),
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        params: serde_json::Map::new(),
    }
}

fn ok(g: &EmbedGrant, method: Method, path: &str) -> bool {
    allows(g, &method, path).is_ok()
}

#[test]
fn prefix_patterns_match_whole_segments_only() {
    let g = grant(&["/api/v1/things/*"], &["read"]);
    for path in [
        "/api/v1/things",
        "/api/v1/things/",
        "/api/v1/things/a",
        "/api/v1/things/a/b.json",
    ] {
        assert!(ok(&g, Method::GET, path), "{path}");
    }
    for path in [
        "/api/v1/thingsX",
        "/api/v1/thingsX/a",
        "/api/v1/thing",
        "/api/v1/things/../users/",
        "/api/v1/things/./a",
        "/api/v1/things/..",
        "/api/v1/things/%2e%2e/users/",
        "/api/v1/things/a%2Fb",
        "/api/v1/things//a",
        "/api/v1/things/a\\..\\b",
        "/api/v1/users/",
        "/api/v1/auths/api_key",
        "/",
        "",
        "api/v1/things/a",
    ] {
        assert!(!ok(&g, Method::GET, path), "{path}");
    }
}

#[test]
fn exact_patterns_match_exactly() {
    let g = grant(&["/api/v1/groups/"], &["read"]);
    assert!(ok(&g, Method::GET, "/api/v1/groups/"));
    assert!(!ok(&g, Method::GET, "/api/v1/groups"));
    assert!(!ok(&g, Method::GET, "/api/v1/groups/x"));
    assert!(!ok(&g, Method::GET, "/api/v1/groups/%2e"));
}

#[test]
fn read_scope_is_get_and_head_only() {
    let g = grant(&["/api/v1/things/*"], &["read"]);
    assert!(ok(&g, Method::GET, "/api/v1/things/1"));
    assert!(ok(&g, Method::HEAD, "/api/v1/things/1"));
    for m in [
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
    ] {
        assert!(
            matches!(
                allows(&g, &m, "/api/v1/things/1"),
                Err(Error::Forbidden(METHOD_NOT_ALLOWED))
            ),
            "{m}"
        );
    }
    let w = grant(&["/api/v1/things/*"], &["read", "write"]);
    assert!(ok(&w, Method::POST, "/api/v1/things/1"));
    assert!(ok(&w, Method::DELETE, "/api/v1/things/1"));
    assert!(!ok(&w, Method::POST, "/api/v1/other"), "write is no wider");
    assert!(!ok(&grant(&["/api/v1/x"], &[]), Method::GET, "/api/v1/y"));
}

#[test]
fn own_session_and_sign_out_are_always_reachable_by_get() {
    let g = grant(&["/api/v1/things/*"], &["read", "write"]);
    assert!(ok(&g, Method::GET, routes::SESSION));
    assert!(ok(&g, Method::GET, routes::SIGNOUT));
    assert!(!ok(&g, Method::POST, routes::TOKEN_EXCHANGE));
    assert!(!ok(&g, Method::POST, routes::API_KEY));
    assert!(!ok(&g, Method::POST, routes::EMBED_TICKETS));
    assert!(!ok(&g, Method::GET, "/api/v1/auths"));
}

#[test]
fn patterns_a_ticket_may_name() {
    for p in [
        "/api/v1/things/*",
        "/api/v1/groups/",
        "/api/v1/things/a-b_c.d~e",
    ] {
        assert!(pattern_ok(p), "{p}");
    }
    for p in [
        "",
        "/",
        "/*",
        "/api/*/x",
        "/api/v1/things*",
        "/api/v1/../users/*",
        "/api/v1/./x",
        "/api/v1/%75sers/",
        "/api//x",
        "/dashboard",
        "/api/v1/things/?a=1",
        "/api/v1/things/#x",
        "api/v1/things",
        "/api/v1/thïngs",
        &format!("/api/{}", "a".repeat(300)),
    ] {
        assert!(!pattern_ok(p), "{p}");
    }
}

fn keys() -> SessionKeys {
    SessionKeys::new(
        b"0123456789abcdef0123456789abcdef",
        "http://tessera.test".into(),
        ExpiresIn::For(std::time::Duration::from_secs(3600)),
        3600,
    )
}

fn user() -> User {
    User {
        id: "u1".into(),
        email: "u1@example.com".into(),
        name: "u1".into(),
        role: Role::User,
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

/// The token with its payload replaced by `edit`'s version of the claims,
/// the signature kept.
fn forged(token: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = token.split('.');
    let (h, p, s) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let mut claims: serde_json::Value = serde_json::from_slice(&b64.decode(p).unwrap()).unwrap();
    edit(&mut claims);
    format!(
        "{h}.{}.{s}",
        b64.encode(serde_json::to_vec(&claims).unwrap())
    )
}

#[test]
fn embed_sessions_carry_their_grant_and_cannot_be_edited() {
    let k = keys();
    let g = grant(&["/api/v1/things/*"], &["read"]);
    let (token, claims) = k
        .mint_embed(&user(), 1000, 1600, Some("parent".into()), g.clone())
        .unwrap();
    assert_eq!(claims.kind(), CredentialKind::EmbedSession);
    let verified = k.verify(&token, 1001).unwrap();
    assert_eq!(verified.emb.as_ref(), Some(&g));
    assert_eq!(verified.kind(), CredentialKind::EmbedSession);
    assert!(k.verify(&token, 1600).is_err(), "ends at its exp");

    type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;
    let edits: [(&str, Edit); 5] = [
        (
            "widened paths",
            Box::new(|c| c["emb"]["paths"] = serde_json::json!(["/api/*"])),
        ),
        (
            "write scope",
            Box::new(|c| c["emb"]["scopes"] = serde_json::json!(["read", "write"])),
        ),
        (
            "grant removed",
            Box::new(|c| {
                c.as_object_mut().unwrap().remove("emb");
            }),
        ),
        (
            "longer life",
            Box::new(|c| c["exp"] = serde_json::json!(99_999)),
        ),
        (
            "other params",
            Box::new(|c| c["emb"]["params"] = serde_json::json!({"tenant": "other"})),
        ),
    ];
    for (what, edit) in edits {
        assert!(k.verify(&forged(&token, edit), 1001).is_err(), "{what}");
    }
    // a well-formed claim set signed with another secret
    let other = SessionKeys::new(
        b"another secret of thirty-two b!!",
        "http://tessera.test".into(),
        ExpiresIn::Never,
        3600,
    );
    let (token, _) = other.mint_embed(&user(), 1000, 1600, None, g).unwrap();
    assert!(k.verify(&token, 1001).is_err());
}

fn principal(kind: CredentialKind, embed: Option<EmbedGrant>) -> Principal {
    Principal {
        user: Arc::new(user()),
        kind,
        method: AuthMethod::Session,
        token: "t".into(),
        jti: None,
        expires_at: None,
        issuer: None,
        subject: None,
        metadata: None,
        memo: None,
        embed: embed.map(Arc::new),
    }
}

#[test]
fn confinement_fails_closed() {
    let g = grant(&["/api/v1/things/*"], &["read"]);
    let get = Method::GET;
    assert!(confine(
        &principal(CredentialKind::Session, None),
        &get,
        "/api/v1/users/"
    )
    .is_ok());
    assert!(confine(
        &principal(CredentialKind::EmbedSession, None),
        &get,
        "/api/v1/things/1"
    )
    .is_err());
    assert!(confine(
        &principal(CredentialKind::Session, Some(g.clone())),
        &get,
        "/api/v1/users/"
    )
    .is_err());
    let p = principal(CredentialKind::EmbedSession, Some(g));
    assert!(confine(&p, &get, "/api/v1/things/1").is_ok());
    assert!(confine(&p, &get, "/api/v1/users/").is_err());
    assert!(confine(&p, &Method::POST, "/api/v1/things/1").is_err());
}

#[test]
fn the_session_answer_shows_the_grant() {
    let mut g = grant(&["/api/v1/things/*"], &["read"]);
    g.params.insert("tenant".into(), serde_json::json!("acme"));
    let p = principal(CredentialKind::EmbedSession, Some(g.clone()));
    let want = serde_json::to_vec(&p.session_user()).unwrap();
    assert_eq!(p.session_user_ref().to_json().unwrap(), want);
    let back: SessionUser = serde_json::from_slice(&want).unwrap();
    assert_eq!(back.embed, Some(g));
}

/// Issue and redeem against a real user store and a clock the test moves:
/// once, from its origin, within its window, into a capped session.
#[tokio::test]
async fn tickets_are_redeemed_once_from_their_origin_within_their_window() {
    use crate::auth::rate_limit::{Limits, LocalLimiter};
    use crate::auth::revocation::Revocations;
    use crate::clock::ManualClock;
    use crate::replica::single_use::MemorySingleUse;
    use crate::store::users::{NewLocalUser, Users};
    const NOW: i64 = 1_700_000_000;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let db = crate::store::Db::connect(&url).await.unwrap();
    let users = Users::new(db.clone(), 100);
    let ann = users
        .create_local(
            NewLocalUser {
                name: "Ann",
                email: "ann@example.com",
                password_hash: "x",
                role: Role::Admin,
            },
            NOW,
        )
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::new(NOW));
    let tickets = EmbedTickets {
        once: Arc::new(MemorySingleUse::default()),
        keys: Arc::new(keys()),
        accounts: Accounts {
            users,
            revocations: Arc::new(Revocations::load(Arc::new(db), NOW).await.unwrap()),
        },
        clock: clock.clone(),
        allowed_origins: vec!["https://portal.example.com".into()],
        ticket_secs: 60,
        limits: Arc::new(LocalLimiter::new(Limits::minting(
            &crate::config::Config::default().rate_limit,
        ))),
    };
    let mut p = principal(CredentialKind::Session, None);
    p.user = ann.clone();
    p.jti = Some("parent".into());
    p.expires_at = Some(NOW + 100);
    let form = || EmbedTicketForm {
        origin: "https://portal.example.com".into(),
        paths: vec!["/api/v1/groups/*".into()],
        scopes: vec![],
        params: serde_json::Map::new(),
        session_seconds: Some(600),
    };
    let portal = Some("https://portal.example.com");

    let t = tickets.issue(&p, form(), None).await.unwrap();
    assert_eq!(t.expires_in, 60);
    let user = tickets.redeem(&t.ticket, portal).await.unwrap();
    assert_eq!(user.id, ann.id);
    assert_eq!(
        user.expires_at,
        Some(NOW + 100),
        "no longer than its parent"
    );
    assert_eq!(user.embed.unwrap().scopes, vec!["read".to_owned()]);
    let refused = |r: Result<SessionUser>| match r {
        Err(Error::Unauthorized(d)) => d,
        other => panic!("{:?}", other.map(|u| u.id)),
    };
    assert_eq!(
        refused(tickets.redeem(&t.ticket, portal).await),
        TICKET_UNKNOWN
    );

    let t = tickets.issue(&p, form(), None).await.unwrap();
    clock.advance(60);
    assert_eq!(
        refused(tickets.redeem(&t.ticket, portal).await),
        TICKET_UNKNOWN,
        "past its window"
    );
    clock.advance(-60);
    let t = tickets.issue(&p, form(), None).await.unwrap();
    assert_eq!(
        refused(
            tickets
                .redeem(&t.ticket, Some("https://portal.example.com.evil"))
                .await
        ),
        TICKET_WRONG_ORIGIN
    );
    assert_eq!(
        refused(tickets.redeem(&t.ticket, portal).await),
        TICKET_UNKNOWN
    );
    p.kind = CredentialKind::EmbedSession;
    assert!(matches!(
        tickets.issue(&p, form(), None).await,
        Err(Error::Forbidden(_))
    ));
}
