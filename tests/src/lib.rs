//! The end-to-end test harness: the real release server on an ephemeral
//! loopback port, driven over HTTP and through headless Chromium.
pub mod browser;
pub mod keyserver;
pub mod nginx;
pub mod oidc;
pub mod postgres;
pub mod redis;
pub mod server;
pub mod slapd;

/// A loopback TCP port that was free a moment ago (for servers that cannot
/// be told to pick one themselves).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The workspace root (where `dist/` and `target/` live).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default()
}

/// Defines a test that runs on both databases: `mod $name` with the tests
/// `sqlite` and `postgres` (select them with the filters `::sqlite` and
/// `::postgres`), each calling the body with a [`server::Builder`] already
/// set to that database.
#[macro_export]
macro_rules! on_both_databases {
    ($(#[$meta:meta])* async fn $name:ident($builder:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($builder: $crate::server::Builder) $body

            #[tokio::test]
            async fn sqlite() {
                run($crate::server::Builder::default()).await
            }

            #[tokio::test]
            async fn postgres() {
                run($crate::server::Builder::default()
                    .database($crate::server::Database::Postgres))
                .await
            }
        }
    };
}
