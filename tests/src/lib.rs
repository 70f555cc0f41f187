//! The end-to-end test harness: the real release server on an ephemeral
//! loopback port, driven over HTTP and through headless Chromium.
pub mod server;

/// The workspace root (where `dist/` and `target/` live).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default()
}
