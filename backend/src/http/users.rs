//! `/api/v1/users/*` (admin): the user list, role changes and deletion; `/api/v1/groups/` (active users).
use super::audit::by;
use super::extract::AppJson;
use super::extract::{ActiveUser, AdminUser};
use crate::auth::Principal;
use crate::domain::audit::AuditAction;
use crate::domain::user::PERMISSION_EMBED;
use crate::domain::PERMISSION_API_KEYS;
use crate::error::{Error, Result};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};
use tessera_shared::{routes, GroupInfo, PermissionsForm, Role, UpdateRoleForm, UserInfo};

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::USERS, get(list))
        .route(routes::UPDATE_ROLE, post(update_role))
        .route("/api/v1/users/{id}", delete(remove))
        .route(routes::USER_SIGNOUT, post(sign_out_everywhere))
        .route(routes::GROUPS, get(groups))
        .route("/api/v1/users/{id}/permissions", put(user_permissions))
        .route("/api/v1/groups/{id}/permissions", put(group_permissions))
}

async fn list(State(state): State<AppState>, _: AdminUser) -> Result<Json<Vec<UserInfo>>> {
    Ok(Json(
        state
            .users
            .list()
            .await?
            .iter()
            .map(UserInfo::from)
            .collect(),
    ))
}

async fn groups(State(state): State<AppState>, _: ActiveUser) -> Result<Json<Vec<GroupInfo>>> {
    Ok(Json(state.users.groups().await?))
}

async fn update_role(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    AppJson(form): AppJson<UpdateRoleForm>,
) -> Result<Json<UserInfo>> {
    if form.id == admin.user.id && form.role != Role::Admin && state.users.admin_count().await? <= 1
    {
        return Err(Error::Conflict(
            "The last admin cannot give up the admin role",
        ));
    }
    let user = state
        .users
        .set_role(&form.id, form.role, state.clock.now())
        .await?
        .ok_or(Error::NotFound("User not found"))?;
    tracing::info!(by = %admin.user.id, user = %user.id, role = %user.role, "role changed");
    state.audit.record(
        by(AuditAction::RoleChanged, &admin)
            .account(user.email.clone())
            .detail(user.role.to_string()),
    );
    Ok(Json(UserInfo::from(user.as_ref())))
}

async fn remove(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    if id == admin.user.id {
        return Err(Error::Conflict("You cannot delete your own account"));
    }
    let account = state.users.get(&id).await?.map(|u| u.email.clone());
    let deleted = state.users.delete(&id).await;
    // this replica's key index, whatever the announcement did
    state.api_keys.forget_user(&id);
    if !deleted? {
        return Err(Error::NotFound("User not found"));
    }
    tracing::info!(by = %admin.user.id, user = %id, "user deleted");
    state
        .audit
        .record(by(AuditAction::UserDeleted, &admin).account(account.unwrap_or(id)));
    Ok(Json(json!({ "status": true })))
}

/// Ends every credential of a user, cached or not: a new token epoch, the
/// API key deleted, IdP tokens issued until now refused.
async fn sign_out_everywhere(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let done = state
        .users
        .sign_out_everywhere(&id, state.clock.now())
        .await;
    state.api_keys.forget_user(&id);
    let user = done?.ok_or(Error::NotFound("User not found"))?;
    tracing::info!(by = %admin.user.id, user = %id, "user signed out everywhere");
    state
        .audit
        .record(by(AuditAction::SignedOutEverywhere, &admin).account(user.email.clone()));
    Ok(Json(json!({ "status": true })))
}

async fn set_permissions(
    state: &AppState,
    admin: &Principal,
    kind: &str,
    id: &str,
    form: &PermissionsForm,
) -> Result<Json<Value>> {
    let mut found = state
        .users
        .set_permission(kind, id, PERMISSION_API_KEYS, form.api_keys)
        .await?;
    if let (true, Some(embed)) = (found, form.embed) {
        found = state
            .users
            .set_permission(kind, id, PERMISSION_EMBED, embed)
            .await?;
    }
    if !found {
        return Err(Error::NotFound(if kind == "group" {
            "Group not found"
        } else {
            "User not found"
        }));
    }
    tracing::info!(by = %admin.user.id, kind, id, api_keys = form.api_keys, embed = ?form.embed, "permissions changed");
    let detail = match form.embed {
        Some(embed) => format!("{kind}: api_keys={} embed={embed}", form.api_keys),
        None => format!("{kind}: api_keys={}", form.api_keys),
    };
    let account = match kind {
        "user" => state.users.get(id).await?.map(|u| u.email.clone()),
        _ => None,
    };
    state.audit.record(
        by(AuditAction::PermissionsChanged, admin)
            .account(account.unwrap_or_else(|| id.to_owned()))
            .detail(detail),
    );
    Ok(Json(json!({ "status": true })))
}

async fn user_permissions(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
    AppJson(form): AppJson<PermissionsForm>,
) -> Result<Json<Value>> {
    set_permissions(&state, &admin, "user", &id, &form).await
}

async fn group_permissions(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
    AppJson(form): AppJson<PermissionsForm>,
) -> Result<Json<Value>> {
    set_permissions(&state, &admin, "group", &id, &form).await
}
