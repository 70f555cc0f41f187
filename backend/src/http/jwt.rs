//! `POST /api/v1/auths/jwt/inspect` (admin): why an IdP token is accepted or refused.
use super::extract::AppJson;
use crate::auth::idp::inspect::Report;
use crate::auth::AdminUser;
use crate::error::Result;
use crate::state::AppState;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use tessera_shared::routes;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route(routes::JWT_INSPECT, post(inspect))
}

/// The body: the token to inspect.
#[derive(Deserialize)]
pub struct InspectForm {
    /// A JWT.
    pub token: String,
}

#[tracing::instrument(skip_all)]
async fn inspect(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    AppJson(form): AppJson<InspectForm>,
) -> Result<Json<Report>> {
    tracing::info!(by = %admin.user.id, "token inspected");
    Ok(Json(
        state.idp.inspect(form.token.trim(), state.clock.now()),
    ))
}
