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

/// Longest part of a request path written into the logs.
const MAX_LOGGED_PATH_BYTES: usize = 256;

/// The span of one request: method and path, never the query or headers. A
/// path longer than 256 bytes is cut there, so one request cannot fill the
/// log with a huge path.
pub fn request_span<B>(req: &Request<B>) -> Span {
    let path = req.uri().path();
    if path.len() <= MAX_LOGGED_PATH_BYTES {
        return tracing::info_span!("request", method = %req.method(), path = %path);
    }
    let cut = (0..=MAX_LOGGED_PATH_BYTES)
        .rev()
        .find(|&i| path.is_char_boundary(i))
        .unwrap_or(0);
    tracing::info_span!(
        "request",
        method = %req.method(),
        path = %format_args!("{}...({} bytes)", &path[..cut], path.len())
    )
}
