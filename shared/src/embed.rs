//! Embed tickets: a parent site's back end mints a short, single-use ticket
//! for one origin and a few paths; the framed app redeems it for a session
//! that reaches only those paths.
use serde::{Deserialize, Serialize};

/// The scope that allows only `GET` and `HEAD`.
pub const SCOPE_READ: &str = "read";
/// The scope that also allows `POST`, `PUT`, `PATCH` and `DELETE`.
pub const SCOPE_WRITE: &str = "write";

/// `POST /api/v1/embed/tickets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedTicketForm {
    /// The origin (`scheme://host[:port]`) of the page that will redeem the
    /// ticket: one of `[embed] allowed_origins`.
    pub origin: String,
    /// Path patterns the session may call: an exact path (`/api/v1/groups/`)
    /// or a prefix ending in `/*` (`/api/v1/things/*`: that path and
    /// everything below it).
    pub paths: Vec<String>,
    /// `read` (`GET`/`HEAD`, the default) or `write` (every method).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Locked parameters the framed app reads from the session answer.
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// How long the session lives (default 600, at most 3600).
    #[serde(default)]
    pub session_seconds: Option<u64>,
}

/// The answer to `POST /api/v1/embed/tickets`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedTicket {
    /// The single-use ticket: hand it to the frame by `postMessage` or a URL
    /// fragment, never a query string.
    pub ticket: String,
    /// Seconds left to redeem it.
    pub expires_in: u64,
}

impl std::fmt::Debug for EmbedTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbedTicket")
            .field("ticket", &"***")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// `POST /api/v1/embed/redeem`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedRedeemForm {
    /// The ticket.
    pub ticket: String,
    /// Only from a page of Tessera's own origin in a frame: the origin of
    /// the page that embeds it (the sender of the ticket's `postMessage`,
    /// which the browser vouches for); the ticket must name it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedder: Option<String>,
}

impl std::fmt::Debug for EmbedRedeemForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmbedRedeemForm { ticket: *** }")
    }
}

/// What an embed session may reach: in its token's claims and in its
/// `SessionUser` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedGrant {
    /// The origin it was redeemed from.
    pub origin: String,
    /// The path patterns it may call.
    pub paths: Vec<String>,
    /// Its scopes (`read`, `write`).
    pub scopes: Vec<String>,
    /// The locked parameters.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub params: serde_json::Map<String, serde_json::Value>,
}
