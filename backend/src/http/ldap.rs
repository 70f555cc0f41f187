//! `POST /api/v1/auths/ldap`: sign-in against the LDAP directory; answers a
//! `SessionUser` like password sign-in. 404 when `[ldap]` is not configured.
use super::auths::new_session;
use super::extract::{AppJson, ClientIp};
use crate::auth::ldap::LdapDirectory;
use crate::domain::ExternalUser;
use crate::error::{Error, Result};
use crate::state::AppState;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use tessera_shared::{routes, LdapForm, SessionUser};

/// `users.source` of directory accounts.
pub const SOURCE: &str = "ldap";

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
    let directory: &LdapDirectory = state
        .ldap
        .as_ref()
        .ok_or(Error::NotFound("LDAP sign-in is not configured"))?;
    state
        .limiter
        .check(ip, &format!("ldap:{}", form.user.trim().to_lowercase()))?;
    let account = directory
        .authenticate(&form.user, &form.password)
        .await?
        .ok_or(Error::InvalidCredentials)?;
    let role = directory
        .mapping()
        .role_for(&account.groups)
        .ok_or(Error::Forbidden(
            tessera_shared::error::detail::ACCESS_PROHIBITED,
        ))?;
    let user = state
        .users
        .upsert_external(
            &ExternalUser {
                source: SOURCE,
                subject: &account.username,
                email: &account.email,
                name: &account.name,
                role,
                groups: &account.groups,
                create_groups: directory.create_groups(),
            },
            state.clock.now(),
        )
        .await?;
    tracing::info!(user = %user.id, role = %user.role, "signed in with LDAP");
    Ok(Json(new_session(&state, &user)?))
}
