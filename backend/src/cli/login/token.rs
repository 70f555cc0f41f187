//! Hands out the session token: on stdout, or in `--token-file` (0600, replaced atomically).
use super::checks::clean;
use anyhow::Context;
use std::io::Write;
use std::path::Path;
use tessera_shared::SessionUser;

/// Puts the token of `user` in `token_file` when given, else on stdout.
pub(super) fn hand_out(user: &SessionUser, token_file: Option<&Path>) -> anyhow::Result<()> {
    match token_file {
        Some(path) => {
            write_token_file(path, &user.token)
                .with_context(|| format!("cannot write the token to {}", path.display()))?;
            eprintln!(
                "Signed in as {}; the session token is in {}",
                clean(&user.email),
                path.display()
            );
        }
        None => {
            eprintln!("Signed in as {}.", clean(&user.email));
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", user.token)
                .and_then(|()| out.flush())
                .context("cannot write the token to stdout")?;
        }
    }
    Ok(())
}

/// Writes `token` to `path` with mode 0600: into a new file beside it, then
/// renamed over it, so no reader ever sees a partial or wider-readable file.
pub fn write_token_file(path: &Path, token: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let suffix: u64 = rand::random();
    let tmp = dir.join(format!(".{}.{suffix:016x}.tmp", name.to_string_lossy()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let written = opts.open(&tmp).and_then(|mut f| {
        f.write_all(token.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn token_file_is_private_and_replaced_whole() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "old token").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_token_file(&path, "new-token").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new-token");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("token")],
            "no temporary file left"
        );

        let fresh = dir.path().join("fresh");
        write_token_file(&fresh, "t").unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        assert!(write_token_file(&dir.path().join("missing/dir/token"), "t").is_err());
        assert!(
            write_token_file(dir.path(), "t").is_err(),
            "a folder is not replaced"
        );
    }
}
