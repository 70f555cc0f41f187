//! `/api/v1/embed/*`: minting an embed ticket (admins and holders of the
//! `embed` permission) and redeeming one (by the framed page, from the
//! ticket's origin). The rules live in [`crate::auth::embed`].
use super::audit::by;
use super::extract::{AppJson, AuthUser, ClientIp};
use crate::domain::audit::AuditAction;
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
    let origin = form.origin.clone();
    let ticket = state.embed.issue(&principal, form, ip).await?;
    state.audit.record(
        by(AuditAction::EmbedTicketIssued, &principal)
            .account(principal.user.email.clone())
            .ip(ip)
            .detail(origin),
    );
    Ok(Json(ticket))
}

/// The ticket comes in the JSON body only (never a query string, which
/// servers and proxies log). The ticket's origin must be the redeeming
/// page's `Origin` — or, for a page of Tessera's own origin in a frame
/// (the dashboard), the `embedder` it names: the origin that posted it the
/// ticket. No other web page can send Tessera's `Origin`.
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
    let origin = match (origin, form.embedder.as_deref()) {
        (Some(o), Some(embedder)) if is_own_origin(&state, &headers, o) => Some(embedder),
        (o, _) => o,
    };
    Ok(Json(state.embed.redeem(&form.ticket, origin).await?))
}

/// Whether `origin` is Tessera's own: `[server] public_url`'s origin when
/// set, else the request's own `Host` (the usual same-origin test: a page of
/// another site sends its own `Origin`).
fn is_own_origin(state: &AppState, headers: &HeaderMap, origin: &str) -> bool {
    if let Some(public) = &state.config.server.public_url {
        return url::Url::parse(public).is_ok_and(|u| u.origin().ascii_serialization() == origin);
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    url::Url::parse(origin).is_ok_and(|o| {
        let authority = match o.port() {
            Some(p) => format!("{}:{p}", o.host_str().unwrap_or_default()),
            None => o.host_str().unwrap_or_default().to_owned(),
        };
        host.is_some_and(|h| h.eq_ignore_ascii_case(&authority))
    })
}
