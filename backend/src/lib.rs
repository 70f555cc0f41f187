//! Tessera's backend: validates every token (its own session JWTs first) and
//! serves the SPA and the REST API.
//!
//! `main.rs` only bootstraps; tests build the app with [`app`] and call it
//! without a socket, or [`serve`] it on `127.0.0.1:0`.
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod replica;
pub mod state;
pub mod store;
pub mod telemetry;

pub use config::Config;
pub use error::{Error, Result};
pub use state::AppState;

use axum::Router;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

/// The application's router.
pub fn app(state: AppState) -> Router {
    http::router(state)
}

/// Serves the app on `listener` until SIGINT or SIGTERM.
pub async fn serve(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    let housekeeping = tokio::spawn(housekeeping(state.clone()));
    let result = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await;
    housekeeping.abort();
    result
}

/// Periodically forgets expired revocations, the kept ID tokens of expired
/// SSO sessions and idle rate-limit keys.
async fn housekeeping(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        if let Err(e) = state.revocations.purge(state.clock.now()).await {
            tracing::warn!(error = %e, "purging expired revocations failed");
        }
        if let Err(e) = state.db.purge_sso_sessions(state.clock.now()).await {
            tracing::warn!(error = %e, "purging expired SSO sessions failed");
        }
        state.limiter.shrink();
        state.minting.shrink();
        state.api_keys.shrink();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
