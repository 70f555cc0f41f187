use super::*;

#[test]
fn expires_in_forms() {
    assert_eq!(ExpiresIn::parse("-1"), Ok(ExpiresIn::Never));
    assert_eq!(ExpiresIn::parse("0"), Ok(ExpiresIn::SingleUse));
    assert_eq!(
        ExpiresIn::parse("30m"),
        Ok(ExpiresIn::For(Duration::from_secs(1800)))
    );
    assert_eq!(
        ExpiresIn::parse("2h"),
        Ok(ExpiresIn::For(Duration::from_secs(7200)))
    );
    assert_eq!(
        ExpiresIn::parse("7d"),
        Ok(ExpiresIn::For(Duration::from_secs(7 * 86400)))
    );
    assert_eq!(
        ExpiresIn::parse("4w"),
        Ok(ExpiresIn::For(Duration::from_secs(28 * 86400)))
    );
    for bad in ["", "-2", "abc", "5x", "0s", "500ms"] {
        assert!(ExpiresIn::parse(bad).is_err(), "{bad} should be refused");
    }
}

#[test]
fn env_names_map_to_sections() {
    assert_eq!(section_key("admin_email").as_deref(), Some("admin.email"));
    assert_eq!(
        section_key("server_data_dir").as_deref(),
        Some("server.data_dir")
    );
    assert_eq!(
        section_key("rate_limit_per_ip_per_minute").as_deref(),
        Some("rate_limit.per_ip_per_minute")
    );
    assert_eq!(section_key("bin"), None);
    assert_eq!(section_key("server"), None);
}

#[test]
fn validation_reports_every_problem() {
    let mut c = Config::default();
    c.session.secret = Some(Secret::new("short"));
    c.admin.email = Some("root@example.com".into());
    c.server.public_url = Some("ftp://x/".into());
    let Err(ConfigError::Invalid(problems)) = c.validate() else {
        panic!("expected invalid config")
    };
    assert_eq!(problems.len(), 3, "{problems:?}");
}

#[test]
fn reserved_names_are_refused_for_issuers_and_providers() {
    let problems = |toml: &str| match from_toml(toml).validate() {
        Err(ConfigError::Invalid(p)) => p,
        Ok(()) => Vec::new(),
        Err(e) => panic!("{e}"),
    };
    let issuer = |name: &str| {
        format!(
            "[[issuers]]\nname = \"{name}\"\nissuer = \"https://kc.example\"\naudiences = [\"app\"]\njwks_url = \"https://kc.example/certs\"\n"
        )
    };
    let provider = |name: &str| {
        format!(
            "[[oidc_providers]]\nname = \"{name}\"\nclient_id = \"tessera\"\ndiscovery_url = \"https://kc.example/.well-known/openid-configuration\"\n"
        )
    };
    assert_eq!(
        problems(&(issuer("kc") + &provider("corp"))),
        Vec::<String>::new()
    );
    for name in RESERVED_NAMES {
        for (toml, entry) in [
            (issuer(name), format!("issuer `{name}`")),
            (provider(name), format!("oidc_providers `{name}`")),
        ] {
            let p = problems(&toml);
            assert_eq!(p.len(), 1, "{toml}: {p:?}");
            assert!(p[0].starts_with(&entry), "{p:?}");
            assert!(
                p[0].contains("is reserved") && p[0].contains("choose another name"),
                "{p:?}"
            );
        }
    }
    // issuer names are free-form: another casing or blanks do not get round it
    for name in ["LDAP", "Trusted_Header", " local"] {
        assert_eq!(problems(&issuer(name)).len(), 1, "{name}");
    }
    // the sources Tessera's own accounts use are all on the list
    for source in [
        crate::domain::TRUSTED_HEADER_SOURCE,
        crate::domain::LDAP_SOURCE,
        "local",
    ] {
        assert!(RESERVED_NAMES.contains(&source), "{source}");
    }
}

#[test]
fn secret_debug_is_masked() {
    assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
}

fn from_toml(toml: &str) -> Config {
    Figment::from(Serialized::defaults(Config::default()))
        .merge(Toml::string(toml))
        .extract()
        .unwrap()
}

#[test]
fn database_urls_are_checked_and_never_shown_with_their_password() {
    let problems = |toml: &str| match from_toml(toml).validate() {
        Err(ConfigError::Invalid(p)) => p.join("\n"),
        _ => String::new(),
    };
    assert_eq!(
        problems("[database]\nurl = \"postgresql://t:pw-1@db/t\""),
        ""
    );
    let p = problems("[database]\nurl = \"mysql://t:pw-1@db/t\"");
    assert!(p.contains("only sqlite:, postgres: and postgresql:"), "{p}");
    assert!(
        p.contains("mysql://t:***@db/t") && !p.contains("pw-1"),
        "{p}"
    );
    let p = problems("[database]\nurl = \"sqlite://x.db\"\nurl_file = \"/f\"\nmax_connections = 0\nconnect_timeout_seconds = 0");
    for key in ["url_file", "max_connections", "connect_timeout_seconds"] {
        assert!(p.contains(&format!("database.{key}")), "{key}: {p}");
    }
    let c = from_toml("[database]\nurl = \"postgres://t:pw-1@db/t\"");
    assert!(!format!("{c:?}").contains("pw-1"));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("db-url");
    std::fs::write(&file, "postgres://t:pw-2@db/t\n").unwrap();
    let c = from_toml(&format!("[database]\nurl_file = {file:?}"));
    assert_eq!(c.database_url().unwrap().expose(), "postgres://t:pw-2@db/t");
    std::fs::write(&file, "mysql://t:pw-2@db/t").unwrap();
    let e = format!("{:#}", c.database_url().unwrap_err());
    assert!(e.contains("only sqlite:") && !e.contains("pw-2"), "{e}");
    let c = from_toml("[server]\ndata_dir = \"/d\"");
    assert_eq!(
        c.database_url().unwrap().expose(),
        "sqlite:///d/tessera.db?mode=rwc"
    );
    assert_eq!(c.database_pool(Backend::Postgres).max_connections, 10);
}

#[test]
fn password_signin_is_on_unless_turned_off() {
    assert!(from_toml("").password.signin_enabled);
    assert!(
        from_toml("[password]\nmin_length = 10")
            .password
            .signin_enabled
    );
    let off = from_toml("[password]\nsignin_enabled = false");
    assert!(!off.password.signin_enabled);
    assert_eq!(off.password.min_length, 8);
    assert_eq!(
        section_key("password_signin_enabled").as_deref(),
        Some("password.signin_enabled")
    );
}

#[test]
fn ldap_and_trusted_header_sections_parse_and_validate() {
    let c = from_toml(
        r#"
        [ldap]
        url = "ldaps://ldap.example.org"
        bind_dn = "cn=svc,dc=example,dc=org"
        bind_password = "pw"
        search_base = "ou=people,dc=example,dc=org"
        search_filter = "(objectClass=person)"
        operation_timeout = "500ms"
        connect_timeout = 3
        admin_groups = ["admins"]
        [trusted_header]
        email_header = "X-Forwarded-Email"
        trusted_proxies = ["10.0.0.0/8", "::1/128"]
        "#,
    );
    let ldap = c.ldap.as_ref().unwrap();
    assert_eq!(ldap.operation_timeout, Duration::from_millis(500));
    assert_eq!(ldap.connect_timeout, Duration::from_secs(3));
    assert_eq!(ldap.username_attribute, "uid");
    assert!(format!("{ldap:?}").contains("Secret(***)"));
    assert_eq!(c.trusted_header.as_ref().unwrap().trusted_proxies.len(), 2);
    c.validate().unwrap();
    assert!(from_toml("").ldap.is_none());
}

#[test]
fn ldap_and_trusted_header_mistakes_are_reported() {
    let c = from_toml(
        r#"
        [ldap]
        url = "http://ldap"
        starttls = true
        bind_dn = "cn=svc"
        search_filter = "objectClass=person)"
        [trusted_header]
        email_header = "X Forwarded Email"
        trusted_proxies = ["0.0.0.0/0"]
        "#,
    );
    let Err(ConfigError::Invalid(problems)) = c.validate() else {
        panic!("expected invalid config")
    };
    for wanted in [
        "ldap.url",
        "ldap.search_base",
        "ldap.bind_password",
        "ldap.search_filter",
        "trusted_header.email_header",
        "trusts every address",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(wanted)),
            "{wanted} not reported in {problems:?}"
        );
    }
    let bad_cidr = Figment::from(Serialized::defaults(Config::default()))
        .merge(Toml::string(
            "[trusted_header]\nemail_header = \"X-E\"\ntrusted_proxies = [\"10.0.0.300/8\"]",
        ))
        .extract::<Config>();
    assert!(bad_cidr.is_err(), "an invalid CIDR fails to load");
}

#[test]
fn redis_section_alias_and_mistakes() {
    let c = from_toml("[redis]\nurl = \"redis://:pw@10.0.0.7:6379/2\"\ntimeout = \"500ms\"");
    c.validate().unwrap();
    let r = c.redis().unwrap();
    assert_eq!(r.key_prefix, "tessera:");
    assert_eq!(r.timeout, Duration::from_millis(500));
    assert!(!format!("{r:?}").contains("pw@"), "Debug masks the URL");
    // the older spelling works, with the defaults
    let old = from_toml("[revocation]\nredis_url = \"rediss://cache.internal\"");
    old.validate().unwrap();
    assert_eq!(
        old.redis().unwrap().url.unwrap().expose(),
        "rediss://cache.internal"
    );
    assert!(from_toml("").redis().is_none());
    assert_eq!(
        section_key("redis_url").as_deref(),
        Some("redis.url"),
        "TESSERA_REDIS_URL"
    );
    for (toml, wanted) in [
        (
            "[redis]\nurl = \"redis://a\"\n[revocation]\nredis_url = \"redis://b\"",
            "older spelling",
        ),
        ("[redis]\nurl = \"http://:pw@a\"", "redis.url"),
        ("[redis]\nkey_prefix = \"x\"", "set redis.url"),
        (
            "[redis]\nurl_file = \"/nonexistent/redis\"",
            "does not exist",
        ),
        (
            "[redis]\nurl = \"redis://a\"\nurl_file = \"/etc/hostname\"",
            "only one",
        ),
        (
            "[redis]\nurl = \"redis://a\"\nkey_prefix = \"a b\"",
            "key_prefix",
        ),
        (
            "[revocation]\nredis_url = \"mysql://a\"",
            "revocation.redis_url",
        ),
    ] {
        let Err(ConfigError::Invalid(problems)) = from_toml(toml).validate() else {
            panic!("{toml} should be refused")
        };
        assert!(
            problems.iter().any(|p| p.contains(wanted)),
            "{wanted} not in {problems:?}"
        );
        assert!(
            problems.iter().all(|p| !p.contains(":pw@")),
            "password shown: {problems:?}"
        );
    }
    assert_eq!(
        redacted_url("redis://user:hunter2@h:1/0"),
        "redis://user:***@h:1/0"
    );
}

#[test]
fn embed_origins_are_validated() {
    for good in [
        "https://portal.example.com",
        "http://127.0.0.2:8080",
        "http://[::1]:3000",
    ] {
        assert!(is_origin(good), "{good} should be an origin");
    }
    for bad in [
        "https://portal.example.com/",
        "https://portal.example.com/app",
        "https://PORTAL.example.com",
        "https://portal.example.com:443",
        "portal.example.com",
        "*",
        "ftp://x.example.com",
        "https://*.example.com",
        "https://a;b.example.com",
    ] {
        assert!(!is_origin(bad), "{bad} should be refused");
    }
    let c = from_toml(
        "[embed]\nallowed_origins = [\"https://a.example.com/x\"]\n[injection]\nexpired_redirect = \"/login\"\n",
    );
    let Err(ConfigError::Invalid(problems)) = c.validate() else {
        panic!("expected invalid config")
    };
    assert!(problems.iter().any(|p| p.contains("embed.allowed_origins")));
    assert!(problems
        .iter()
        .any(|p| p.contains("injection.expired_redirect")));
}

#[test]
fn embed_ticket_window_is_one_to_sixty_seconds() {
    assert_eq!(from_toml("").embed.ticket_expires_in, 60);
    for (secs, ok) in [(0, false), (1, true), (60, true), (61, false)] {
        let c = from_toml(&format!("[embed]\nticket_expires_in = {secs}\n"));
        let problems = match c.validate() {
            Err(ConfigError::Invalid(p)) => p,
            _ => vec![],
        };
        let refused = problems
            .iter()
            .any(|p| p.contains("embed.ticket_expires_in"));
        assert_eq!(refused, !ok, "{secs}: {problems:?}");
    }
}

#[test]
fn a_config_file_table_parses_and_unknown_keys_are_refused() {
    use tessera_shared::oidc::{ProviderKind, ResponseMode};
    let toml = r#"
        [[oidc_providers]]
        name = "kc"
        display_name = "Company"
        discovery_url = "https://kc.example/realms/x/.well-known/openid-configuration"
        client_id = "tessera"
        client_secret = "s"
        groups_claim = "/realm_access/roles"
        admin_groups = ["admin"]
        user_groups = ["trusted"]
        default_role = "pending"
        merge_accounts_by_email = true
        response_mode = "form_post"
        verbose = true

        [[oidc_providers]]
        name = "gh"
        kind = "github"
        client_id = "id"
        client_secret = "s"
    "#;
    let c: Config = Figment::from(Toml::string(toml)).extract().unwrap();
    assert_eq!(c.oidc_providers.len(), 2);
    assert_eq!(c.oidc_providers[0].response_mode, ResponseMode::FormPost);
    assert_eq!(c.oidc_providers[1].kind, ProviderKind::Github);
    assert!(c.validate().is_ok(), "{:?}", c.validate());
    let bad = "[[oidc_providers]]\nname = \"kc\"\nclient_idd = \"x\"\n";
    assert!(Figment::from(Toml::string(bad))
        .extract::<Config>()
        .is_err());
    let mut c = c;
    c.oidc_providers[0].client_id.clear();
    let err = c.validate().unwrap_err().to_string();
    assert!(
        err.contains("oidc_providers `kc`: set `client_id`"),
        "{err}"
    );
}

#[test]
fn ui_durations_default_parse_and_are_bounded() {
    let c = Config::default();
    assert_eq!(c.ui.expiry_warning, Duration::from_secs(120));
    assert_eq!(c.ui.session_check_interval, Duration::from_secs(60));
    let c = from_toml("[ui]\nexpiry_warning = \"5m\"\nsession_check_interval = 0\n");
    assert_eq!(c.ui.expiry_warning, Duration::from_secs(300));
    assert_eq!(c.ui.session_check_interval, Duration::ZERO);
    assert!(c.validate().is_ok(), "{:?}", c.validate());
    let c = from_toml("[ui]\nexpiry_warning = \"2d\"\nsession_check_interval = \"1500ms\"\n");
    let err = c.validate().unwrap_err().to_string();
    assert!(
        err.contains("ui.expiry_warning must be whole seconds"),
        "{err}"
    );
    assert!(err.contains("ui.session_check_interval"), "{err}");
    let bad = "[ui]\nexpiry_warning = \"soon\"\n";
    let err = Figment::from(Toml::string(bad))
        .extract::<Config>()
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not a duration"), "{err}");
    assert_eq!(
        section_key("ui_expiry_warning").as_deref(),
        Some("ui.expiry_warning")
    );
}
