//! Liveness, readiness and the public configuration.
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tessera_shared::{routes, PublicConfig};

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::HEALTHZ, get(healthz))
        .route(routes::READYZ, get(readyz))
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let issuers = state.idp.readiness();
    let unready: Vec<&str> = issuers
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(name, _)| name.as_str())
        .collect();
    let db_ok = state.db.ping().await;
    if db_ok && state.replica.readiness() == Some(false) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                json!({ "status": "unready", "database": "ok", "redis": "unreachable", "detail": crate::replica::OUT_OF_STEP }),
            ),
        );
    }
    if db_ok && !unready.is_empty() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                json!({ "status": "unready", "database": "ok", "unready_issuers": unready, "detail": "Issuer keys not loaded" }),
            ),
        )
    } else if db_ok {
        let mut body = json!({ "status": "ready", "database": "ok" });
        if state.replica.readiness().is_some() {
            body["redis"] = json!("ok");
        }
        (StatusCode::OK, Json(body))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                json!({ "status": "unready", "database": "unreachable", "detail": "Database unreachable" }),
            ),
        )
    }
}

/// `GET /api/config`.
pub async fn public_config(
    State(state): State<AppState>,
) -> crate::error::Result<Json<PublicConfig>> {
    let first_user = state.users.count().await? == 0;
    Ok(Json(PublicConfig {
        name: state.config.server.name.clone(),
        signup_enabled: state.config.signup.enabled || first_user,
        first_user,
        api_keys_enabled: state.config.api_keys.enabled,
        ldap_enabled: state.ldap.is_some(),
        injection_exchange: state.config.injection.exchange,
        injection_query_param: state.config.injection.query_param,
        injection_expired_redirect: state.config.injection.expired_redirect.clone(),
        embed_allowed_origins: state.config.embed.allowed_origins.clone(),
        embed_always: state.config.embed.always,
        oidc_providers: state.oidc.links(),
        password_signin: state.config.password.signin_enabled,
        ui_expiry_warning_secs: whole_secs(state.config.ui.expiry_warning),
        ui_session_check_secs: whole_secs(state.config.ui.session_check_interval),
    }))
}

/// A `[ui]` duration in seconds (validated at start-up to be at most a day).
fn whole_secs(d: std::time::Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}
