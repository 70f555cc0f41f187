//! Extractors of the HTTP layer: JSON bodies with Tessera's error shape, and
//! the client's IP address.
use crate::auth::policy;
use crate::auth::Principal;
use crate::error::{Error, Result};
use crate::state::AppState;
use axum::extract::{FromRef, FromRequest, FromRequestParts};
use axum::http::request::Parts;
use std::net::IpAddr;
use tessera_shared::Role;

/// `axum::Json`, but a refused body answers `{"detail": ...}` like every other error.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(Error))]
pub struct AppJson<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for AppJson<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// The client's address, when the server knows it: the TCP peer, or, when
/// that peer is a trusted proxy (`[trusted_header] trusted_proxies`), the
/// right-most `X-Forwarded-For` hop that is not one.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp
where
    AppState: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        Ok(ClientIp(crate::auth::trusted_header::client_ip(
            state.authenticators.proxy(),
            parts,
        )))
    }
}

/// Any authenticated caller, whatever the role (`pending` included).
#[derive(Debug, Clone)]
pub struct AuthUser(pub Principal);

/// A caller whose role is `user` or `admin`.
#[derive(Debug, Clone)]
pub struct ActiveUser(pub Principal);

/// A caller whose role is `admin`.
#[derive(Debug, Clone)]
pub struct AdminUser(pub Principal);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = Error;

    /// Authenticates the request each time it is asked: a handler takes one
    /// of these extractors once (a copy kept in the request's extensions
    /// would cost every request a clone, an allocation and a map insert).
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let principal = state
            .authenticators
            .authenticate(parts)
            .await?
            .ok_or_else(|| Error::NotAuthenticated)?;
        Ok(AuthUser(principal))
    }
}

impl FromRequestParts<AppState> for ActiveUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let AuthUser(p) = AuthUser::from_request_parts(parts, state).await?;
        if p.user.role < Role::User {
            return Err(Error::Forbidden(
                tessera_shared::error::detail::ACCESS_PROHIBITED,
            ));
        }
        Ok(ActiveUser(p))
    }
}

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let AuthUser(p) = AuthUser::from_request_parts(parts, state).await?;
        if p.user.role != Role::Admin {
            return Err(Error::Forbidden(
                tessera_shared::error::detail::ACCESS_PROHIBITED,
            ));
        }
        policy::require(p.kind, policy::Action::Admin)?;
        Ok(AdminUser(p))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::TrustedHeaderConfig;
    use crate::state::AppState;
    use axum::extract::ConnectInfo;
    use std::net::SocketAddr;
    use tessera_shared::AuthMethod;

    #[tokio::test]
    async fn only_a_trusted_peer_signs_in_by_header() {
        use axum::body::Body;
        use axum::http::{Request, StatusCode};
        use tower::ServiceExt;
        let dir = tempfile::tempdir().unwrap();
        let mut config = crate::Config::default();
        config.server.data_dir = dir.path().join("data");
        config.server.static_dir = dir.path().join("dist");
        config.trusted_header = Some(TrustedHeaderConfig {
            email_header: "X-Forwarded-Email".into(),
            trusted_proxies: vec!["10.0.0.0/24".parse().unwrap()],
            ..TrustedHeaderConfig::default()
        });
        let app = crate::app(AppState::build(config).await.unwrap());
        let request = |peer: [u8; 4]| {
            Request::get(tessera_shared::routes::SESSION)
                .header("x-forwarded-email", "Ann@Example.com")
                .header("x-forwarded-for", "10.0.0.9")
                .extension(ConnectInfo(SocketAddr::from((peer, 40000))))
                .body(Body::empty())
                .unwrap()
        };
        let res = app.clone().oneshot(request([10, 0, 0, 5])).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let body = http_body_util::BodyExt::collect(res.into_body())
            .await
            .unwrap();
        let user: tessera_shared::SessionUser = serde_json::from_slice(&body.to_bytes()).unwrap();
        assert_eq!(user.email, "ann@example.com");
        assert_eq!(user.auth_method, AuthMethod::TrustedHeader);
        assert!(!user.token.is_empty(), "a fresh session token for the SPA");
        let res = app.oneshot(request([192, 0, 2, 1])).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "an untrusted peer");
    }
}
