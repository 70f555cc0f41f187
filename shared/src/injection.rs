//! Tokens handed to the SPA by the page that loads it: the data block the
//! backend embeds in `index.html`, and the `postMessage` protocol of an
//! embedding page (tokens and embed tickets).
use serde::{Deserialize, Serialize};
use std::fmt;

/// The `id` of the `<script type="application/json">` element that carries an
/// [`Injected`] body inside the page.
pub const ELEMENT_ID: &str = "tessera-injected";

/// The URL parameter (fragment, or query when enabled) that carries a token.
pub const URL_PARAM: &str = "auth_token";

/// `postMessage` type: the parent hands the SPA a token (`{type, token}`).
pub const MESSAGE_TOKEN: &str = "tessera:token";

/// `postMessage` type: the SPA asks its parent for a (fresh) token or embed ticket.
pub const MESSAGE_TOKEN_REQUEST: &str = "tessera:token-request";

/// `postMessage` type: the parent hands the SPA an embed ticket (`{type, ticket}`).
pub const MESSAGE_TICKET: &str = "tessera:ticket";

/// The URL fragment parameter that carries an embed ticket (`#ticket=et_...`);
/// never read from the query.
pub const TICKET_PARAM: &str = "ticket";

/// What the backend embedded in the page: a validated token, or why the
/// token the page request carried was refused.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Injected {
    /// The token to keep (the request's own, or a Tessera session token when
    /// `[injection] exchange = true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Why the token was refused, in words for the person using the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl fmt::Debug for Injected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Injected")
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("error", &self.error)
            .finish()
    }
}
