//! `tessera config check`: the effective configuration (file, then
//! `TESSERA_*` variables) printed as TOML with secrets masked, exit 0; a bad
//! key gets exit 2 and a message naming it.
use std::process::Command;
use tessera_tests::server::binary;

fn check(toml: &str, env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("tessera.toml");
    std::fs::write(&file, toml).expect("config file");
    let mut cmd = Command::new(binary());
    cmd.args(["config", "check", "--config"]).arg(&file);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run tessera config check");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_valid_configuration_is_printed_with_its_secrets_masked() {
    let (code, out, err) = check(
        "[server]\nname = \"Acme SSO\"\n[session]\nsecret = \"a-session-secret-of-forty-chars-0123456789\"\n[admin]\nemail = \"root@example.com\"\n",
        &[("TESSERA_ADMIN_PASSWORD", "an-admin-password-1234")],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("valid"), "{err}");
    let effective: toml::Value = toml::from_str(&out).expect("TOML on stdout");
    assert_eq!(effective["server"]["name"].as_str(), Some("Acme SSO"));
    assert_eq!(effective["session"]["secret"].as_str(), Some("********"));
    assert_eq!(
        effective["admin"]["password"].as_str(),
        Some("********"),
        "from the environment"
    );
    assert_eq!(
        effective["admin"]["email"].as_str(),
        Some("root@example.com")
    );
    assert!(!out.contains("a-session-secret") && !out.contains("an-admin-password"));
    assert!(!err.contains("a-session-secret") && !err.contains("an-admin-password"));
}

#[test]
fn a_bad_key_exits_2_naming_it() {
    let (code, out, err) = check("[ui]\nexpiry_warning = \"2days\"\n", &[]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("expiry_warning"), "{err}");
    assert!(
        out.is_empty(),
        "nothing printed for a bad configuration: {out}"
    );
    let (code, _, err) = check("[session]\nexpires_in = \"soon\"\n", &[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("expires_in"), "{err}");
}
