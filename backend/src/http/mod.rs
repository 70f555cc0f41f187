//! The HTTP surface: one router merged from per-resource modules, the SPA
//! fallback, and the headers every response carries. Handlers stay thin.
pub mod auths;
pub mod extract;
pub mod health;
pub mod spa;
pub mod users;

use crate::error::Error;
use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, get};
use axum::Router;
use tessera_shared::routes;
use tower_http::trace::TraceLayer;

/// Largest request body accepted, in bytes.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The whole application.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(auths::router())
        .merge(users::router())
        .route(routes::PUBLIC_CONFIG, get(health::public_config))
        .route("/api/{*rest}", any(api_not_found))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(no_store));
    Router::new()
        .merge(health::router())
        .merge(api)
        .merge(spa::router(&state))
        .layer(middleware::from_fn(security_headers))
        .layer(TraceLayer::new_for_http().make_span_with(crate::telemetry::request_span))
        .with_state(state)
}

async fn api_not_found() -> Error {
    Error::NotFound("Not found")
}

async fn method_not_allowed() -> Error {
    Error::MethodNotAllowed
}

/// API answers carry tokens and personal data: never cache them.
async fn no_store(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Headers for every response.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    res
}
