//! Logging set-up. Request spans carry the method and path only: query
//! strings may hold tokens (`?auth_token=`) and are never logged.
use axum::http::Request;
use tracing::Span;
use tracing_subscriber::EnvFilter;

/// Logs to stderr; `RUST_LOG` overrides the default `tessera=info`.
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("tessera=info,tower_http=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The span of one request: method and path, never the query or headers.
pub fn request_span<B>(req: &Request<B>) -> Span {
    tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
}
