//! `tessera admin` against the server's own configuration and database, run
//! while the server is stopped (nobody can sign in): list, create, set a
//! role, reset a password (its sessions end), sign out everywhere; bad input
//! gets exit 1 and a message, and a password is taken from standard input
//! only.
use crate::support::{token, PASSWORD};
use std::io::Write;
use std::process::{Command, Stdio};
use tessera_tests::server::{binary, TestServer};

/// `tessera admin ARGS` with `stdin`: exit code, stdout, stderr.
pub(crate) fn admin(
    server: &TestServer,
    args: &[&str],
    stdin: &str,
) -> (Option<i32>, String, String) {
    let mut child = Command::new(binary())
        .arg("admin")
        .arg("--config")
        .arg(server.config_path())
        .args(args)
        .env_remove("TESSERA_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tessera admin");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("tessera admin output");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn accounts_are_repaired_while_nobody_can_sign_in() {
    let mut server = TestServer::builder().start().await;
    let root = server.signup("Root", "root@example.com", PASSWORD).await;
    let ann = server.signup("Ann", "ann@example.com", PASSWORD).await;
    let (root_token, ann_token) = (token(&root).to_owned(), token(&ann).to_owned());
    server.stop().await;

    let (code, out, err) = admin(&server, &["list-users"], "");
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("root@example.com\tadmin\tlocal"), "{out}");
    assert!(out.contains("ann@example.com\tpending\tlocal"), "{out}");

    let (code, out, err) = admin(&server, &["set-role", "ANN@example.com", "admin"], "");
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("ann@example.com is now admin"), "{out}");
    assert!(out.contains("restart"), "says what applies when: {out}");

    let new_password = "a-new-root-password-42";
    let (code, out, err) = admin(
        &server,
        &["reset-password", "root@example.com"],
        &format!("{new_password}\n"),
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("sessions have ended"), "{out}");
    assert!(!out.contains(new_password) && !err.contains(new_password));

    let (code, _, err) = admin(
        &server,
        &["create-user", "--email", "Bob@Example.com", "--name", "Bob"],
        "bobs-password-123\n",
    );
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = admin(&server, &["signout-user", "ann@example.com"], "");
    assert_eq!(code, Some(0), "{err}");

    // refusals: exit 1 and a message, nothing changed
    for (args, stdin, says) in [
        (
            vec!["set-role", "ann@example.com", "root"],
            "",
            "unknown role",
        ),
        (
            vec!["set-role", "nobody@example.com", "user"],
            "",
            "no account",
        ),
        (
            vec!["reset-password", "ann@example.com"],
            "\n",
            "no password on standard input",
        ),
        (
            vec!["reset-password", "ann@example.com"],
            "short\n",
            "at least",
        ),
        (
            vec!["create-user", "--email", "bob@example.com"],
            "another-password-1\n",
            "already exists",
        ),
    ] {
        let (code, _, err) = admin(&server, &args, stdin);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }

    server.restart().await;
    assert_eq!(
        server.get("/api/v1/auths/", Some(&root_token)).await.0,
        401,
        "reset ends sessions"
    );
    assert_eq!(server.signin("root@example.com", PASSWORD).await.0, 401);
    assert_eq!(server.signin("root@example.com", new_password).await.0, 200);
    assert_eq!(
        server.get("/api/v1/auths/", Some(&ann_token)).await.0,
        401,
        "signed out"
    );
    let (status, ann) = server.signin("ann@example.com", PASSWORD).await;
    assert_eq!(status, 200);
    assert_eq!(ann["role"], "admin");
    let (status, bob) = server.signin("bob@example.com", "bobs-password-123").await;
    assert_eq!(status, 200, "{bob}");
    assert_eq!(
        (bob["role"].as_str(), bob["name"].as_str()),
        (Some("user"), Some("Bob"))
    );
}
