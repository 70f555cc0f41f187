//! `/api/v1/embed/*`: minting an embed ticket (admins and holders of the
//! `embed` permission) and redeeming one (by the framed page, from the
//! ticket's origin). The rules live in [`crate::auth::embed`].
use super::extract::{AppJson, AuthUser, ClientIp};
use crate::error::Result;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::routing::post;
use axum::{Json, Router};
use tessera_shared::{routes, EmbedRedeemForm, EmbedTicket, EmbedTicketForm, SessionUser};

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::EMBED_TICKETS, post(issue))
        .route(routes::EMBED_REDEEM, post(redeem))
}

#[tracing::instrument(skip_all)]
async fn issue(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AuthUser(principal): AuthUser,
    AppJson(form): AppJson<EmbedTicketForm>,
) -> Result<Json<EmbedTicket>> {
    Ok(Json(state.embed.issue(&principal, form, ip).await?))
}

/// The ticket comes in the JSON body only (never a query string, which
/// servers and proxies log); the page's `Origin` header must be the
/// ticket's origin.
#[tracing::instrument(skip_all)]
async fn redeem(
    State(state): State<AppState>,
    headers: HeaderMap,
    AppJson(form): AppJson<EmbedRedeemForm>,
) -> Result<Json<SessionUser>> {
    let mut origins = headers.get_all(header::ORIGIN).iter();
    let origin = match (origins.next(), origins.next()) {
        (Some(o), None) => o.to_str().ok(),
        _ => None,
    };
    Ok(Json(state.embed.redeem(&form.ticket, origin).await?))
}
