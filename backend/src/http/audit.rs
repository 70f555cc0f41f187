//! `GET /api/v1/admin/audit` (admins): the audit log, filtered and paged;
//! and the few helpers handlers use to record what they did.
use super::extract::AdminUser;
use crate::auth::Principal;
use crate::domain::audit::{refusal_class, AuditAction, Record};
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::store::audit::AuditFilter;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use std::net::IpAddr;
use tessera_shared::{routes, AuditPage, AuditQuery};

/// Events per page unless asked otherwise, and the most a page holds.
const PAGE: u32 = 50;
const MAX_PAGE: u32 = 500;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route(routes::ADMIN_AUDIT, get(list))
}

async fn list(
    State(state): State<AppState>,
    _: AdminUser,
    query: std::result::Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<AuditPage>> {
    let Query(q) = query.map_err(|_| {
        Error::BadRequest(
            "Expected account, action, since and until (Unix seconds), page and limit (numbers)"
                .into(),
        )
    })?;
    let action = match q.action.as_deref().filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => Some(AuditAction::parse(a).ok_or_else(|| {
            Error::BadRequest(format!("Unknown action; one of: {}", action_names()))
        })?),
    };
    let limit = q.limit.unwrap_or(PAGE).clamp(1, MAX_PAGE);
    let page = q.page.unwrap_or(1).max(1);
    let filter = AuditFilter {
        account: q.account.filter(|a| !a.trim().is_empty()),
        action,
        since: q.since,
        until: q.until,
    };
    let offset = u64::from(page - 1) * u64::from(limit);
    let (events, total) = state.db.audit_page(&filter, offset, limit).await?;
    Ok(Json(AuditPage { events, total }))
}

fn action_names() -> String {
    AuditAction::ALL.map(AuditAction::as_str).join(", ")
}

/// An event done by the signed-in `p` to their own account or another's.
pub(super) fn by(action: AuditAction, p: &Principal) -> Record {
    Record::new(action)
        .method(p.kind.to_string())
        .actor(p.user.email.clone())
}

/// A sign-in's outcome: `sign_in` for the account, or `sign_in_failed`
/// with the name tried and the refusal's class.
pub(super) fn sign_in<T>(
    state: &AppState,
    method: &str,
    ip: Option<IpAddr>,
    account: &str,
    outcome: &Result<T>,
) {
    let record = match outcome {
        Ok(_) => Record::new(AuditAction::SignIn),
        Err(e) => Record::new(AuditAction::SignInFailed).detail(refusal_class(e)),
    };
    state
        .audit
        .record(record.method(method).account(account).ip(ip));
}
