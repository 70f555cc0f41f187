//! `POST /api/v1/auths/ldap`: sign-in against the LDAP directory; answers a
//! `SessionUser` like password sign-in. 404 when `[ldap]` is not configured.
use super::audit;
use super::auths::new_session;
use super::extract::{AppJson, ClientIp};
use crate::error::{Error, Result};
use crate::state::AppState;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use tessera_shared::{routes, LdapForm, SessionUser};

/// `users.source` of directory accounts.
pub use crate::auth::ldap::SOURCE;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route(routes::LDAP_SIGNIN, post(signin))
}

#[tracing::instrument(skip_all)]
async fn signin(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(form): AppJson<LdapForm>,
) -> Result<Json<SessionUser>> {
    let ldap = state
        .ldap
        .as_ref()
        .ok_or(Error::NotFound("LDAP sign-in is not configured"))?;
    let name = form.user.trim().to_lowercase();
    let outcome = match state.limiter.check(ip, &format!("ldap:{name}")).await {
        Ok(()) => ldap.sign_in(&form.user, &form.password).await,
        Err(e) => Err(e),
    };
    audit::sign_in(&state, "ldap", ip, &name, &outcome);
    let user = outcome?;
    tracing::info!(user = %user.id, role = %user.role, "signed in with LDAP");
    Ok(Json(new_session(&state, &user)?))
}
