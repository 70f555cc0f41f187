//! `POST /api/v1/auths/jwt/inspect` (admin): why an IdP token is accepted or refused.
use super::extract::AdminUser;
use super::extract::AppJson;
use crate::error::Result;
use crate::state::AppState;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use tessera_shared::{routes, InspectCheck, InspectForm, InspectReport};

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route(routes::JWT_INSPECT, post(inspect))
}

#[tracing::instrument(skip_all)]
async fn inspect(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    AppJson(form): AppJson<InspectForm>,
) -> Result<Json<InspectReport>> {
    tracing::info!(by = %admin.user.id, "token inspected");
    let report = state.idp.inspect(form.token.trim(), state.clock.now());
    Ok(Json(InspectReport {
        valid: report.valid,
        issuer: report.issuer,
        checks: report
            .checks
            .into_iter()
            .map(|c| InspectCheck {
                name: c.name.to_owned(),
                ok: c.ok,
                reason: c.reason.map(str::to_owned),
            })
            .collect(),
        header: report.header,
        claims: report.claims,
    }))
}
