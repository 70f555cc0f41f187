//! The backend's one error type. Each variant documents the status it
//! answers with; the body is always `{"detail": "..."}`. Internal details are
//! logged, never sent.
use crate::config::BODY_LIMIT;
use axum::extract::rejection::JsonRejection;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use tessera_shared::error::detail;
use tessera_shared::ErrorBody;

/// `Result` with the backend's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 401 `Invalid credentials`: wrong e-mail or password.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// 401 `Invalid token`; the reason is logged at debug level, never sent.
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    /// 401 with the given detail: a refused embed ticket (unknown, used,
    /// expired, or redeemed from another origin).
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// 401 `Not authenticated`: no credentials on a protected endpoint.
    #[error("not authenticated")]
    NotAuthenticated,
    /// 403 with the given detail (`Access prohibited` for role checks).
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// 429 `Rate limit exceeded`, with `Retry-After`.
    #[error("rate limited for {retry_after_secs}s")]
    RateLimited {
        /// Seconds until the next attempt may succeed.
        retry_after_secs: u64,
    },
    /// 400 with the given detail.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 404 with the given detail.
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// 405 `Method not allowed`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409 with the given detail.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// 415 with the given detail: a request that changes state is not JSON.
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(&'static str),
    /// The request body was refused by the JSON extractor (400, 413, 415 or 422).
    #[error("rejected body: {0}")]
    Body(#[from] JsonRejection),
    /// 422 with the given detail (settings that do not make sense).
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    /// 502 with the given detail (an upstream provider failed).
    #[error("bad gateway: {0}")]
    BadGateway(String),
    /// 503 with the given detail.
    #[error("unavailable: {0}")]
    Unavailable(&'static str),
    /// 500; the database error is logged.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// 500; the cause is logged.
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl Error {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::InvalidCredentials
            | Error::InvalidToken(_)
            | Error::NotAuthenticated
            | Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Body(r) => r.status(),
            Error::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Database(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn detail(&self) -> String {
        match self {
            Error::InvalidCredentials => detail::INVALID_CREDENTIALS.into(),
            Error::InvalidToken(_) => detail::INVALID_TOKEN.into(),
            Error::NotAuthenticated => detail::NOT_AUTHENTICATED.into(),
            Error::Forbidden(d)
            | Error::Unauthorized(d)
            | Error::NotFound(d)
            | Error::Conflict(d)
            | Error::UnsupportedMediaType(d)
            | Error::Unavailable(d) => (*d).into(),
            Error::RateLimited { .. } => detail::RATE_LIMITED.into(),
            Error::MethodNotAllowed => "Method not allowed".into(),
            Error::BadRequest(d) | Error::Unprocessable(d) | Error::BadGateway(d) => d.clone(),
            Error::Body(r) => body_detail(r),
            Error::Database(_) | Error::Internal(_) => "Internal server error".into(),
        }
    }
}

fn body_detail(r: &JsonRejection) -> String {
    match r {
        JsonRejection::MissingJsonContentType(_) => {
            "Expected a JSON body with Content-Type: application/json".into()
        }
        JsonRejection::BytesRejection(_) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            format!("Request body too large (limit {} KiB)", BODY_LIMIT / 1024)
        }
        JsonRejection::JsonSyntaxError(_) => format!(
            "Malformed JSON: {}",
            r.body_text().rsplit(": ").next().unwrap_or("syntax error")
        ),
        _ => r.body_text(),
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Error::Database(e) => tracing::error!(error = %e, "database error"),
            Error::Internal(e) => tracing::error!(error = format!("{e:#}"), "internal error"),
            Error::InvalidToken(reason) => tracing::debug!(reason, "token refused"),
            _ => tracing::debug!(status = status.as_u16(), error = %self, "request failed"),
        }
        let mut res = (
            status,
            Json(ErrorBody {
                detail: self.detail(),
            }),
        )
            .into_response();
        let headers = res.headers_mut();
        match &self {
            Error::InvalidToken(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer error="invalid_token""#),
                );
            }
            Error::NotAuthenticated | Error::InvalidCredentials | Error::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Error::RateLimited { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            _ => {}
        }
        res
    }
}
