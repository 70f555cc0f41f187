//! Forward auth for reverse proxies (`GET /api/v1/auths/verify`) and the
//! public keys of its assertions (`GET /.well-known/jwks.json`).
use crate::auth::forward::Target;
use crate::auth::policy::{self, Action};
use crate::error::{Error, Result};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use tessera_shared::routes;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::FORWARD_AUTH_VERIFY, any(verify))
        .route(VERIFY_WITH_PATH, any(verify))
        .route(routes::ASSERTION_JWKS, get(jwks))
}

/// Envoy's `ext_authz` appends the original path to the check's path.
const VERIFY_WITH_PATH: &str = "/api/v1/auths/verify/{*original}";

/// Whether `req` asks forward auth: any method (nginx's `auth_request` and
/// Envoy ask with the original request's), never a JSON body.
pub fn is_verify(req: &Request) -> bool {
    req.uri()
        .path()
        .strip_prefix(routes::FORWARD_AUTH_VERIFY)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// 200 (empty body) with `X-Tessera-*` headers when the caller may reach
/// the original request; 401 without or with a bad credential; 403 when
/// refused; 400 when the proxy's description of the request is ambiguous.
async fn verify(State(state): State<AppState>, req: Request) -> Result<Response> {
    let (parts, _) = req.into_parts();
    let principal = state
        .authenticators
        .authenticate(&parts)
        .await?
        .ok_or(Error::NotAuthenticated)?;
    policy::require(principal.kind, Action::ForwardAuth)?;
    let in_path = parts
        .uri
        .path()
        .strip_prefix(routes::FORWARD_AUTH_VERIFY)
        .filter(|rest| rest.starts_with('/'));
    let target = Target::of(&parts.headers, in_path)?;
    let pass = state.forward_rules.decide(&principal.user, &target)?;
    let issued = state.assertions.assertion(&principal.user, pass.aud)?;
    let mut res = StatusCode::OK.into_response();
    let h = res.headers_mut();
    h.reserve(issued.headers.len());
    for (name, value) in &issued.headers {
        h.insert(name.clone(), value.clone());
    }
    Ok(res)
}

/// The published public keys (a JWK Set), cacheable for less than the
/// time a new key is published before it signs.
async fn jwks(State(state): State<AppState>) -> Response {
    let max_age = format!("public, max-age={}", state.assertions.jwks_max_age());
    let mut res = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        state.assertions.jwks(),
    )
        .into_response();
    if let Ok(v) = HeaderValue::try_from(max_age) {
        res.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    res
}
