use super::*;
use axum::http::HeaderValue;

pub(crate) fn user(role: Role, groups: &[&str]) -> User {
    User {
        id: "u1".into(),
        email: "ann@example.com".into(),
        name: "Ann".into(),
        role,
        profile_image_url: String::new(),
        source: "local".into(),
        subject: None,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        permissions: vec![],
        created_at: 0,
        epoch: 1,
        signed_out_at: None,
    }
}

fn target(pairs: &[(&str, &str)]) -> Result<Target> {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    Target::of(&h, None)
}

#[test]
fn the_original_request_is_read_strictly() {
    let t = target(&[
        ("x-forwarded-host", "App.Example.com:8443"),
        ("x-forwarded-uri", "/a/%C3%A9/b?x=1"),
    ])
    .unwrap();
    assert_eq!(t.host.as_deref(), Some("app.example.com:8443"));
    assert_eq!(t.path.as_deref(), Some("/a/é/b"));
    assert_eq!(
        target(&[("x-original-uri", "//a//b/")])
            .unwrap()
            .path
            .as_deref(),
        Some("/a/b/")
    );
    assert_eq!(target(&[]).unwrap(), Target::default());
    // Envoy: the original path after the check's own, agreeing with any header
    let h = HeaderMap::new();
    let t = Target::of(&h, Some("/admin/%C3%A9")).unwrap();
    assert_eq!(t.path.as_deref(), Some("/admin/é"));
    let mut h = HeaderMap::new();
    h.insert("x-forwarded-uri", HeaderValue::from_static("/public"));
    assert!(Target::of(&h, Some("/admin")).is_err());
    assert!(Target::of(&h, Some("/public")).is_ok());
    assert!(Target::of(&HeaderMap::new(), Some("/a/../b")).is_err());
    let same = [("x-forwarded-uri", "/a"), ("x-original-uri", "/a")];
    assert_eq!(target(&same).unwrap().path.as_deref(), Some("/a"));
    for bad in [
        vec![("x-forwarded-uri", "/a"), ("x-original-uri", "/b")],
        vec![("x-forwarded-uri", "/a"), ("x-forwarded-uri", "/a")],
        vec![
            ("x-forwarded-host", "a.example"),
            ("x-forwarded-host", "b.example"),
        ],
        vec![("x-forwarded-host", "a.example, b.example")],
        vec![("x-forwarded-host", "")],
        vec![("x-forwarded-uri", "/public/../admin")],
        vec![("x-forwarded-uri", "/public/%2e%2e/admin")],
        vec![("x-forwarded-uri", "/public%2fadmin")],
        vec![("x-forwarded-uri", "/public%5cadmin")],
        vec![("x-forwarded-uri", "/a%252e")],
        vec![("x-forwarded-uri", "/a\\b")],
        vec![("x-forwarded-uri", "/a%0d%0ab")],
        vec![("x-forwarded-uri", "/a%ff")],
        vec![("x-forwarded-uri", "a/b")],
        vec![("x-forwarded-uri", "/./a")],
    ] {
        assert!(matches!(target(&bad), Err(Error::BadRequest(_))), "{bad:?}");
    }
}

fn rule(host: Option<&str>, prefix: Option<&str>) -> ForwardAuthRule {
    ForwardAuthRule {
        host: host.map(Into::into),
        path_prefix: prefix.map(Into::into),
        ..ForwardAuthRule::default()
    }
}

fn at(host: &str, path: &str) -> Target {
    Target {
        host: Some(host.into()),
        path: Some(path.into()),
    }
}

#[test]
fn the_first_matching_rule_decides() {
    let rules = Rules::new(&[
        ForwardAuthRule {
            role: Some(Role::Admin),
            aud: Some("admin-app".into()),
            ..rule(Some("App.example"), Some("/admin"))
        },
        ForwardAuthRule {
            groups: vec!["ops".into(), "dev".into()],
            aud: Some("ops-app".into()),
            ..rule(Some("ops.example:8443"), None)
        },
        ForwardAuthRule {
            aud: Some("app".into()),
            ..rule(Some("app.example"), None)
        },
    ]);
    let ann = user(Role::User, &["dev"]);
    let bob = user(Role::User, &[]);
    let root = user(Role::Admin, &[]);
    let aud = |r: Result<Pass<'_>>| r.map(|p| p.aud.map(str::to_owned));
    assert_eq!(
        aud(rules.decide(&root, &at("app.example:443", "/admin/x"))).unwrap(),
        Some("admin-app".into())
    );
    assert!(matches!(
        rules.decide(&ann, &at("app.example", "/admin")),
        Err(Error::Forbidden(REFUSED_BY_RULE))
    ));
    // a whole segment only
    assert_eq!(
        aud(rules.decide(&ann, &at("app.example", "/administrator"))).unwrap(),
        Some("app".into())
    );
    assert_eq!(
        aud(rules.decide(&ann, &at("ops.example:8443", "/"))).unwrap(),
        Some("ops-app".into())
    );
    assert!(matches!(
        rules.decide(&bob, &at("ops.example:8443", "/")),
        Err(Error::Forbidden(REFUSED_BY_RULE))
    ));
    // a rule with a port matches that port only: no rule, default
    assert_eq!(
        aud(rules.decide(&bob, &at("ops.example", "/"))).unwrap(),
        None
    );
    // a pending user never passes, matching rule or not
    assert!(matches!(
        rules.decide(&user(Role::Pending, &["ops"]), &at("other", "/")),
        Err(Error::Forbidden(_))
    ));
    // rules name a host and a path: a proxy that sends neither is refused
    assert!(matches!(
        rules.decide(&root, &Target::default()),
        Err(Error::BadRequest(_))
    ));
    // no rules: every active user, whatever the proxy sent
    assert_eq!(
        aud(Rules::new(&[]).decide(&bob, &Target::default())).unwrap(),
        None
    );
}

#[test]
fn header_values_are_safe() {
    assert_eq!(header_value("Ann Smith <a@b.c>"), "Ann Smith <a@b.c>");
    assert_eq!(header_value("Zoë"), "Zo%C3%AB");
    assert_eq!(header_value("a\r\nX-Evil: 1"), "a%0D%0AX-Evil: 1");
    assert_eq!(header_value("100%"), "100%25");
    assert_eq!(
        groups_value(&["a,b".into(), "c".into(), "日本".into()]),
        "a%2Cb,c,%E6%97%A5%E6%9C%AC"
    );
    for v in ["Zoë", "\u{0}\u{7f}\t", "x\ny", "🦀,%"] {
        let enc = header_value(v);
        assert!(HeaderValue::from_str(&enc).is_ok(), "{enc}");
        assert!(enc.bytes().all(|b| (0x20..0x7f).contains(&b)), "{enc}");
        assert_eq!(percent_decode_str(&enc).decode_utf8().unwrap(), v);
    }
}
