//! `/api/v1/auths/*`: sign-up, sign-in, the current session, sign-out.
use super::audit::{self, by};
use super::extract::AuthUser;
use super::extract::{AppJson, ClientIp};
use crate::auth::mint::exchanged_session;
use crate::auth::password::normalise_local_email;
use crate::auth::policy::{self, Action, CredentialKind};
use crate::auth::session_user;
use crate::domain::audit::{AuditAction, Record};
use crate::domain::{is_plausible_email, User};
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::store::users::NewLocalUser;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tessera_shared::{routes, AuthMethod, SessionUser, SigninForm, SignoutAnswer, SignupForm};

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::SIGNUP, post(signup))
        .route(routes::SIGNIN, post(signin))
        .route(routes::SESSION, get(current))
        .route(routes::SIGNOUT, get(signout))
        .route(routes::TOKEN_EXCHANGE, post(exchange))
}

/// A new session token for `user` after a sign-in, as a `SessionUser` body.
pub(crate) fn new_session(state: &AppState, user: &User) -> Result<SessionUser> {
    let (token, claims) = state.sessions.issue(user, state.clock.now())?;
    Ok(session_user(user, token, claims.exp, AuthMethod::Session))
}

#[tracing::instrument(skip_all)]
async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(form): AppJson<SignupForm>,
) -> Result<Json<SessionUser>> {
    let email = normalise_local_email(&form.email);
    state.limiter.check(ip, &email).await?;
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::BadRequest("Name must be 1 to 100 characters".into()));
    }
    if !is_plausible_email(&email) {
        return Err(Error::BadRequest("Invalid email address".into()));
    }
    state.passwords.check_policy(&form.password)?;
    if !state.config.signup.enabled && state.users.count().await? > 0 {
        return Err(Error::Forbidden("Sign-up is disabled"));
    }
    let hash = state.passwords.hash(&form.password).await?;
    let user = state
        .users
        .create_local(
            NewLocalUser {
                name,
                email: &email,
                password_hash: &hash,
                role: state.config.signup.default_role,
            },
            state.clock.now(),
        )
        .await?;
    tracing::info!(user = %user.id, role = %user.role, "account created");
    state.audit.record(
        Record::new(AuditAction::SignUp)
            .method("password")
            .account(user.email.clone())
            .ip(ip)
            .detail(user.role.to_string()),
    );
    Ok(Json(new_session(&state, &user)?))
}

#[tracing::instrument(skip_all)]
async fn signin(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(form): AppJson<SigninForm>,
) -> Result<Json<SessionUser>> {
    let email = normalise_local_email(&form.email);
    let outcome = match state.limiter.check(ip, &email).await {
        Ok(()) => state.password_signin.sign_in(&email, &form.password).await,
        Err(e) => Err(e),
    };
    audit::sign_in(&state, "password", ip, &email, &outcome);
    let user = outcome?;
    tracing::info!(user = %user.id, "signed in");
    Ok(Json(new_session(&state, &user)?))
}

/// The caller's `SessionUser`. A caller signed in by a trusted proxy's
/// headers has no token of its own: it gets a session minted from them
/// (capped, rate-limited: [`exchanged_session`]), which the SPA stores like
/// any sign-in's. For a verified credential the answer is rendered once per
/// version of the account and then shared by its requests (see
/// [`crate::auth::memo`]).
async fn current(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AuthUser(principal): AuthUser,
) -> Result<Response> {
    if principal.kind == CredentialKind::TrustedHeader {
        let mut body = mint_from(&state, &principal, ip).await?;
        body.auth_method = AuthMethod::TrustedHeader;
        return Ok(Json(body).into_response());
    }
    let body = principal
        .session_answer()
        .map_err(|e| anyhow::anyhow!("encoding the session answer: {e}"))?;
    // the same content type as `Json`; room for the headers every answer
    // gets on its way out (`super::security_headers`), so the map never grows
    let mut res = Response::new(Body::from(body));
    *res.headers_mut() = HeaderMap::with_capacity(8);
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(res)
}

/// Exchanges an IdP token (or a trusted proxy's headers) for a Tessera
/// session token that never outlives it and dies with it
/// ([`exchanged_session`]). The body names the issuer that vouched for the
/// caller.
#[tracing::instrument(skip_all)]
async fn exchange(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AuthUser(principal): AuthUser,
) -> Result<Json<SessionUser>> {
    let body = mint_from(&state, &principal, ip).await?;
    tracing::info!(user = %principal.user.id, kind = %principal.kind, "token exchanged for a session");
    state.audit.record(
        by(AuditAction::TokenExchanged, &principal)
            .account(principal.user.email.clone())
            .ip(ip),
    );
    Ok(Json(body))
}

/// Ends the credential of the request: its id is revoked (an IdP token
/// without `jti` by a hash of the whole token). Credentials that cannot be
/// ended here get a 400 that says what to do instead. A session signed in
/// through a provider that offers RP-initiated logout also gets the
/// provider's logout URL to send the browser to.
async fn signout(
    State(state): State<AppState>,
    AuthUser(principal): AuthUser,
) -> Result<Json<SignoutAnswer>> {
    policy::require(principal.kind, Action::SignOut)?;
    let jti = principal.jti.as_deref().ok_or_else(|| {
        Error::Internal(anyhow::anyhow!(
            "a {} allowed to sign out has no revocation id",
            principal.kind
        ))
    })?;
    state.revocations.revoke(jti, principal.expires_at).await?;
    // only Tessera's own sign-in sessions can have come from a provider
    let logout_url = match principal.kind {
        CredentialKind::Session => state.oidc.end_session_url(jti, &principal.user.id).await?,
        _ => None,
    };
    tracing::info!(user = %principal.user.id, kind = %principal.kind, provider_logout = logout_url.is_some(), "signed out");
    state
        .audit
        .record(by(AuditAction::SignOut, &principal).account(principal.user.email.clone()));
    Ok(Json(SignoutAnswer {
        status: true,
        logout_url,
    }))
}

/// A session minted from the caller's credential ([`exchanged_session`]):
/// this server's keys, minting limits and clock.
pub(super) async fn mint_from(
    state: &AppState,
    principal: &crate::auth::Principal,
    client: Option<std::net::IpAddr>,
) -> Result<SessionUser> {
    exchanged_session(
        &state.sessions,
        &*state.minting,
        state.clock.now(),
        principal,
        client,
    )
    .await
}
