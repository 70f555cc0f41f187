//! `/api/v1/auths/api_key`: create (shown once), inspect, revoke the caller's key.
use super::audit::by;
use super::extract::ActiveUser;
use crate::auth::api_key::NOT_ALLOWED;
use crate::auth::policy::{self, Action};
use crate::domain::audit::AuditAction;
use crate::domain::Event;
use crate::domain::PERMISSION_API_KEYS;
use crate::error::{Error, Result};
use crate::state::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tessera_shared::{routes, ApiKeyCreated, ApiKeyInfo};

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route(routes::API_KEY, get(info).post(create).delete(revoke))
}

/// Keys are managed by a person, never with a key ([`policy`]).
fn by_person(p: &crate::auth::Principal) -> Result<()> {
    policy::require(p.kind, Action::ManageApiKeys)
}

async fn create(
    State(state): State<AppState>,
    ActiveUser(p): ActiveUser,
) -> Result<Json<ApiKeyCreated>> {
    by_person(&p)?;
    if !state.config.api_keys.enabled || !p.user.has_permission(PERMISSION_API_KEYS) {
        return Err(Error::Forbidden(NOT_ALLOWED));
    }
    let api_key = state
        .api_keys
        .create(&state.db, &p.user.id, p.user.epoch, state.clock.now())
        .await?;
    state
        .replica
        .announce(&Event::ApiKey {
            user_id: p.user.id.clone(),
        })
        .await?;
    tracing::info!(user = %p.user.id, "API key created");
    state
        .audit
        .record(by(AuditAction::ApiKeyCreated, &p).account(p.user.email.clone()));
    Ok(Json(ApiKeyCreated { api_key }))
}

async fn info(
    State(state): State<AppState>,
    ActiveUser(p): ActiveUser,
) -> Result<Json<ApiKeyInfo>> {
    let key = state
        .db
        .api_key_of(&p.user.id)
        .await?
        .ok_or(Error::NotFound("No API key"))?;
    Ok(Json(ApiKeyInfo {
        prefix: key.prefix,
        created_at: key.created_at,
        last_used_at: key.last_used_at,
    }))
}

async fn revoke(State(state): State<AppState>, ActiveUser(p): ActiveUser) -> Result<Json<Value>> {
    by_person(&p)?;
    if !state.api_keys.revoke(&state.db, &p.user.id).await? {
        return Err(Error::NotFound("No API key"));
    }
    state
        .replica
        .announce(&Event::ApiKey {
            user_id: p.user.id.clone(),
        })
        .await?;
    tracing::info!(user = %p.user.id, "API key revoked");
    state
        .audit
        .record(by(AuditAction::ApiKeyRevoked, &p).account(p.user.email.clone()));
    Ok(Json(json!({ "status": true })))
}
