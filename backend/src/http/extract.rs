//! Extractors of the HTTP layer: JSON bodies with Tessera's error shape, and
//! the client's IP address.
use crate::error::Error;
use crate::state::AppState;
use axum::extract::{FromRef, FromRequest, FromRequestParts};
use axum::http::request::Parts;
use std::net::IpAddr;

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
            &state, parts,
        )))
    }
}
