//! The log as an operator collects it: `[log] format = "json"` writes one
//! JSON object per line on stderr, and neither format writes colour codes
//! when stderr is not a terminal (here a file, as under systemd or
//! `scripts/run.sh > file`). Neither holds a password or a token.
use crate::support::{token, PASSWORD};
use serde_json::Value;
use tessera_tests::server::TestServer;

/// Signs up, signs in with a wrong password and with the right one: the
/// log then has start-up, a refused sign-in and a bootstrap line.
async fn some_traffic(server: &TestServer) -> String {
    let user = server.signup("Ann", "ann@example.com", PASSWORD).await;
    assert_eq!(
        server.signin("ann@example.com", "wrong-password-1").await.0,
        401
    );
    assert_eq!(server.signin("ann@example.com", PASSWORD).await.0, 200);
    token(&user).to_owned()
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let server = TestServer::builder()
        .toml("[log]\nformat = \"json\"\n")
        .start()
        .await;
    let token = some_traffic(&server).await;
    let log = server.log();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 2, "{log}");
    for line in &lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["level"].is_string(), "{line}");
        assert!(v["timestamp"].is_string(), "{line}");
        assert!(v["fields"]["message"].is_string(), "{line}");
    }
    assert!(log.contains("\"message\":\"signed in\""), "{log}");
    assert!(!log.contains('\u{1b}'), "colour codes in {log}");
    assert!(!log.contains(PASSWORD) && !log.contains(&token), "{log}");
}

#[tokio::test]
async fn text_logs_to_a_file_have_no_colour_codes() {
    let server = TestServer::builder().start().await;
    let token = some_traffic(&server).await;
    let log = server.log();
    assert!(!log.trim().is_empty());
    assert!(!log.contains('\u{1b}'), "colour codes in {log}");
    assert!(!log.contains(PASSWORD) && !log.contains(&token), "{log}");
}

#[tokio::test]
async fn an_unknown_log_format_is_refused_at_start_up() {
    let out = std::process::Command::new(tessera_tests::server::binary())
        .env("TESSERA_LOG_FORMAT", "xml")
        .env(
            "TESSERA_SERVER_DATA_DIR",
            tempfile::tempdir().expect("dir").path(),
        )
        .output()
        .expect("run tessera");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.to_lowercase().contains("log.format"),
        "names the key: {err}"
    );
    assert!(
        err.contains("json"),
        "the message names what is accepted: {err}"
    );
}
