//! The one error type of the API client.
use std::fmt;

/// Why a call to the backend failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// No usable response: the server is unreachable or answered with a body
    /// the client could not read.
    Network(String),
    /// The server refused the request and said why.
    Api {
        /// HTTP status code.
        status: u16,
        /// The server's `detail`, meant for the person using the app.
        detail: String,
    },
}

impl Error {
    /// Whether the server rejected the credentials (HTTP 401).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Error::Api { status: 401, .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Network(reason) => write!(f, "Could not reach the server: {reason}"),
            Error::Api { detail, .. } => f.write_str(detail),
        }
    }
}

impl std::error::Error for Error {}
