//! Logging set-up, and the request log (`[server] log_requests`): a span per
//! request and a line per answer. They carry the method and path only: query
//! strings may hold tokens (`?auth_token=`) and are never logged. Off, the
//! request log is not in the stack at all, so it costs nothing.
use crate::config::LogFormat;
use axum::http::Request;
use axum::response::Response;
use axum::Router;
use std::io::IsTerminal;
use std::time::Duration;
use tower_http::trace::TraceLayer;
use tracing::Span;
use tracing_subscriber::EnvFilter;

/// Logs to stderr as `format` says: text, in colour only on a terminal (a
/// file or journald gets plain text), or JSON lines; `RUST_LOG` overrides
/// the default `tessera=info`.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("tessera=info,tower_http=warn"));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => fmt.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => fmt.json().with_ansi(false).try_init(),
    };
}

/// `router` with the request log around it: each request's span (what it
/// logs is marked with its method and path) and one line per answer with
/// its status and the time taken.
pub fn with_request_log<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router.layer(
        TraceLayer::new_for_http()
            .make_span_with(request_span)
            .on_request(())
            .on_response(|res: &Response, latency: Duration, _: &Span| {
                tracing::info!(
                    status = res.status().as_u16(),
                    micros = latency.as_micros() as u64,
                    "answered"
                )
            })
            .on_failure(()),
    )
}

/// Longest part of a request path written into the logs.
const MAX_LOGGED_PATH_BYTES: usize = 256;

/// The span of one request: method and path, never the query or headers. A
/// path longer than 256 bytes is cut there, so one request cannot fill the
/// log with a huge path.
fn request_span<B>(req: &Request<B>) -> Span {
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
