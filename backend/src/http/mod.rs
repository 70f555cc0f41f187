//! The HTTP surface: one router merged from per-resource modules, the SPA
//! fallback, and the headers every response carries. Handlers stay thin.
pub mod api_keys;
pub mod audit;
pub mod auths;
pub mod embed;
pub mod extract;
pub mod forward_auth;
pub mod health;
pub mod jwt;
pub mod ldap;
pub mod oidc;
pub mod spa;
pub mod users;

use crate::auth::api_key;
use crate::config::BODY_LIMIT;
use crate::error::Error;
use crate::state::AppState;
use axum::body::HttpBody as _;
use axum::extract::State;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use tessera_shared::routes;

/// 415 detail: a `POST`, `PUT` or `PATCH` to the API that is not JSON.
pub const JSON_REQUIRED: &str =
    "Expected Content-Type: application/json (required on every POST, PUT and PATCH under /api/, even without a body)";

/// The whole application.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(auths::router())
        .merge(api_keys::router())
        .merge(embed::router())
        .merge(ldap::router())
        .merge(users::router())
        .merge(audit::router())
        .merge(jwt::router())
        .merge(oidc::api_router())
        .route(routes::PUBLIC_CONFIG, get(health::public_config))
        .route("/api/{*rest}", any(api_not_found))
        .method_not_allowed_fallback(method_not_allowed);
    let app = Router::new()
        .merge(health::router())
        .merge(forward_auth::router())
        .merge(api)
        .merge(oidc::browser_router())
        .merge(spa::router(&state))
        .layer(middleware::from_fn_with_state(state.clone(), edge));
    if state.config.server.log_requests {
        crate::telemetry::with_request_log(app).with_state(state)
    } else {
        app.with_state(state)
    }
}

async fn api_not_found() -> Error {
    Error::NotFound("Not found")
}

async fn method_not_allowed() -> Error {
    Error::MethodNotAllowed
}

/// What every request passes, in one layer (one boxed future, not five —
/// a `Router::layer` wraps every route in one more boxed service): identity
/// headers from an untrusted peer removed, API keys kept to their endpoints,
/// state changes to the API only as JSON, the API's body limit, security
/// headers on every answer and `no-store` on the API's.
async fn edge(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    crate::auth::trusted_header::strip_untrusted_headers(state.authenticators.proxy(), &mut req);
    let api = req.uri().path().starts_with("/api/");
    let mut res = if api && !json_if_changing_state(&req) && !forward_auth::is_verify(&req) {
        Error::UnsupportedMediaType(JSON_REQUIRED).into_response()
    } else if api_key_endpoint_allowed(&state, &req) {
        // a request without a body (hyper knows: no length, or length 0)
        // has nothing to limit; the limit is an extension, one allocation
        if api && !req.body().is_end_stream() {
            DefaultBodyLimit::max(BODY_LIMIT).apply(&mut req);
        }
        next.run(req).await
    } else {
        Error::Forbidden(api_key::ENDPOINT_NOT_ALLOWED).into_response()
    };
    security_headers(&mut res, api);
    res
}

/// Whether a request is JSON when its method changes state (`POST`, `PUT`,
/// `PATCH`), body or not: a page of another site can send a form or plain
/// text with the browser's credentials (a proxy's sign-in) but not JSON
/// without asking first (CORS), which Tessera never allows.
fn json_if_changing_state(req: &Request) -> bool {
    use axum::http::Method;
    let m = req.method();
    if !(m == Method::POST || m == Method::PUT || m == Method::PATCH) {
        return true;
    }
    let mut types = req.headers().get_all(header::CONTENT_TYPE).iter();
    match (types.next(), types.next()) {
        (Some(t), None) => is_json(t.as_bytes()),
        _ => false,
    }
}

/// `application/json`, with parameters or not, in any case.
fn is_json(content_type: &[u8]) -> bool {
    let essence = content_type
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    essence.eq_ignore_ascii_case(b"application/json")
}

/// An API key may call only `[api_keys] allowed_endpoints` when restricted;
/// checked before routing, on the decoded, canonical path.
fn api_key_endpoint_allowed(state: &AppState, req: &Request) -> bool {
    if !state.config.api_keys.restrict_endpoints {
        return true; // what `endpoint_allowed` answers; no need to look at the header
    }
    let is_key = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, cred)| {
            scheme.eq_ignore_ascii_case("bearer") && cred.starts_with(api_key::PREFIX)
        });
    !is_key || api_key::endpoint_allowed(&state.config.api_keys, req.uri().path())
}

/// Headers for every response; `api`: an answer of the API, which carries
/// tokens and personal data and must never be cached.
fn security_headers(res: &mut Response, api: bool) {
    let frameable = res.extensions().get::<spa::AllowFraming>().is_some();
    let h = res.headers_mut();
    h.reserve(5); // one growth of the map at most, not one per insert
    if api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !frameable {
        h.entry(header::X_FRAME_OPTIONS)
            .or_insert(HeaderValue::from_static("DENY"));
    }
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_changes_must_be_json() {
        let req = |method: &str, types: &[&str]| {
            let mut b = Request::builder()
                .method(method)
                .uri("/api/v1/auths/api_key");
            for t in types {
                b = b.header(header::CONTENT_TYPE, *t);
            }
            json_if_changing_state(&b.body(axum::body::Body::empty()).unwrap())
        };
        for method in ["POST", "PUT", "PATCH"] {
            assert!(req(method, &["application/json"]));
            assert!(req(method, &["Application/JSON; charset=utf-8"]));
            assert!(!req(method, &[]), "{method} without a Content-Type");
            for refused in [
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x",
                "text/plain",
                "text/plain; application/json",
                "application/jsonx",
                "",
            ] {
                assert!(!req(method, &[refused]), "{method} {refused}");
            }
            assert!(
                !req(method, &["application/json", "text/plain"]),
                "two types"
            );
        }
        assert!(req("GET", &[]));
        assert!(req("DELETE", &["text/plain"]));
    }
}
