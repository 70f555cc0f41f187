//! SSO sign-in over HTTP: `/oauth/{provider}/login` and `/callback` for the
//! browser, the hand-over, token exchange and CLI endpoints under
//! `/api/v1/auths/oauth/`, and the admin settings of providers. Thin: the
//! logic lives in `auth::oidc`.
use super::audit::by;
use super::extract::AdminUser;
use super::extract::{AppJson, ClientIp};
use crate::auth::oidc::{cookie, failed, CallbackParams};
use crate::domain::audit::AuditAction;
use crate::error::{Error, Result};
use crate::state::AppState;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::Engine;
use std::collections::HashMap;
use tessera_shared::oidc::{
    CliFinishForm, CliStartForm, CliStarted, OauthCompleteForm, OauthTokenExchangeForm,
    OidcProviderSettings, OidcTestReport, OidcTestResultForm, OidcTestStarted,
};
use tessera_shared::{routes, SessionUser};

/// The browser routes (outside `/api`).
pub fn browser_router() -> Router<AppState> {
    Router::new()
        .route(routes::OAUTH_LOGIN, get(login))
        .route(
            routes::OAUTH_CALLBACK,
            get(callback_get).post(callback_post),
        )
        .route(routes::OAUTH_BACKCHANNEL_LOGOUT, post(backchannel_logout))
}

#[derive(serde::Deserialize)]
struct LogoutForm {
    logout_token: String,
}

/// OpenID Connect Back-Channel Logout: the provider posts a logout token;
/// 200 when what it names has ended on every replica, 400 (`{"detail"}`)
/// when the token is refused. Never cached.
#[tracing::instrument(skip_all, fields(provider = %provider))]
async fn backchannel_logout(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    form: std::result::Result<Form<LogoutForm>, FormRejection>,
) -> Response {
    let done = match form {
        Ok(Form(f)) => {
            state
                .oidc
                .backchannel_logout(&provider, &f.logout_token)
                .await
        }
        Err(_) => Err(Error::BadRequest(
            "Expected a form (application/x-www-form-urlencoded) with a logout_token field".into(),
        )),
    };
    let mut res = match done {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The REST routes.
pub fn api_router() -> Router<AppState> {
    Router::new()
        .route(routes::OAUTH_COMPLETE, post(complete))
        .route(routes::OAUTH_TOKEN_EXCHANGE, post(token_exchange))
        .route(routes::OAUTH_CLI_START, post(cli_start))
        .route(routes::OAUTH_CLI_FINISH, post(cli_finish))
        .route(routes::ADMIN_OIDC_PROVIDERS, get(list))
        .route(routes::ADMIN_OIDC_TEST, post(test_start).put(save_test))
        .route(routes::ADMIN_OIDC_TEST_RESULT, post(test_result))
        .route(routes::ADMIN_OIDC_PROVIDER, put(save).delete(delete))
}

/// A 303 to `location`, with `Set-Cookie` headers.
fn see_other(location: &str, set_cookies: impl IntoIterator<Item = String>) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    for c in set_cookies {
        if let Ok(c) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, c);
        }
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[derive(serde::Deserialize)]
struct LoginQuery {
    next: Option<String>,
    test: Option<String>,
}

#[tracing::instrument(skip_all, fields(provider = %provider))]
async fn login(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Query(q): Query<LoginQuery>,
) -> Response {
    match state
        .oidc
        .login(&provider, q.next.as_deref(), q.test.as_deref())
        .await
    {
        Ok((url, set_cookie)) => see_other(&url, Some(set_cookie)),
        Err(f) => see_other(&failed(f), None::<String>),
    }
}

#[tracing::instrument(skip_all, fields(provider = %provider))]
async fn callback_get(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Query(params): Query<CallbackParams>,
) -> Response {
    finish(&state, &provider, &headers, &params, ip).await
}

async fn finish(
    state: &AppState,
    provider: &str,
    headers: &HeaderMap,
    params: &CallbackParams,
    ip: Option<std::net::IpAddr>,
) -> Response {
    let cookie_value = cookie::from_headers(headers);
    let (location, binding) = state
        .oidc
        .callback(provider, params, cookie_value.as_deref(), ip)
        .await;
    let clear = cookie::clear_cookie(state.oidc.secure());
    see_other(&location, std::iter::once(clear).chain(binding))
}

/// The marker of the same-origin re-submission of a `form_post` response.
const RESUBMITTED: &str = "tessera_resubmitted";

/// `response_mode=form_post`: the provider's page POSTs the response to us
/// cross-site, and browsers do not send a `SameSite=Lax` cookie with a
/// cross-site POST. So a POST without the cookie is answered with a page of
/// ours that re-posts the same fields to the same URL: that POST is
/// same-site, so the cookie comes along and `state` is checked against it
/// as in query mode. The code stays out of URLs and logs, and the cookie
/// keeps `SameSite=Lax` (`None` would hand it to any cross-site POST). The
/// page's one inline script is allowed by its CSP hash; without scripts, a
/// button does the same.
#[tracing::instrument(skip_all, fields(provider = %provider))]
async fn callback_post(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(fields): Form<HashMap<String, String>>,
) -> Response {
    let params = CallbackParams {
        code: fields.get("code").cloned(),
        state: fields.get("state").cloned(),
        error: fields.get("error").cloned(),
        error_description: fields.get("error_description").cloned(),
        iss: fields.get("iss").cloned(),
    };
    if cookie::from_headers(&headers).is_some() || fields.contains_key(RESUBMITTED) {
        return finish(&state, &provider, &headers, &params, ip).await;
    }
    resubmit_page(&provider, &fields)
}

const RESUBMIT_SCRIPT: &str = "document.getElementById('f').submit();";

fn resubmit_page(provider: &str, fields: &HashMap<String, String>) -> Response {
    let mut inputs = String::new();
    for key in ["code", "state", "error", "error_description", "iss"] {
        if let Some(v) = fields.get(key) {
            inputs.push_str(&format!(
                r#"<input type="hidden" name="{key}" value="{}">"#,
                html_escape(v)
            ));
        }
    }
    let action = format!("/oauth/{}/callback", html_escape(provider));
    let body = format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>Signing in…</title></head><body><form id="f" method="post" action="{action}">{inputs}<input type="hidden" name="{RESUBMITTED}" value="1"><noscript><button type="submit">Continue signing in</button></noscript></form><script>{RESUBMIT_SCRIPT}</script></body></html>"#
    );
    use sha2::Digest;
    let hash = base64::engine::general_purpose::STANDARD
        .encode(sha2::Sha256::digest(RESUBMIT_SCRIPT.as_bytes()));
    let csp = format!(
        "default-src 'none'; script-src 'sha256-{hash}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    );
    let mut res = (StatusCode::OK, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

fn html_escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".into(),
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '"' => "&quot;".into(),
            '\'' => "&#39;".into(),
            c => c.to_string(),
        })
        .collect()
}

/// Redeems a hand-over code in the browser whose callback issued it (its
/// `tessera_handover` cookie); the cookie is cleared once it has served.
#[tracing::instrument(skip_all)]
async fn complete(
    State(state): State<AppState>,
    headers: HeaderMap,
    AppJson(form): AppJson<OauthCompleteForm>,
) -> Result<Response> {
    let binding = cookie::named(&headers, cookie::BINDING_COOKIE);
    let session = state.oidc.complete(&form.code, binding.as_deref()).await?;
    let mut res = Json(session).into_response();
    if let Ok(clear) = HeaderValue::from_str(&state.oidc.clear_binding()) {
        res.headers_mut().append(header::SET_COOKIE, clear);
    }
    Ok(res)
}

#[tracing::instrument(skip_all, fields(provider = %provider))]
async fn token_exchange(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(provider): Path<String>,
    AppJson(form): AppJson<OauthTokenExchangeForm>,
) -> Result<Json<SessionUser>> {
    state
        .limiter
        .check(ip, &format!("oauth-exchange:{ip:?}"))
        .await?;
    Ok(Json(
        state.oidc.token_exchange(&provider, &form.token).await?,
    ))
}

#[tracing::instrument(skip_all, fields(provider = %provider))]
async fn cli_start(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(provider): Path<String>,
    AppJson(form): AppJson<CliStartForm>,
) -> Result<Json<CliStarted>> {
    state
        .limiter
        .check(ip, &format!("oauth-cli:{ip:?}"))
        .await?;
    Ok(Json(state.oidc.cli_start(&provider, &form).await?))
}

#[tracing::instrument(skip_all, fields(provider = %provider))]
async fn cli_finish(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    AppJson(form): AppJson<CliFinishForm>,
) -> Result<Json<SessionUser>> {
    Ok(Json(state.oidc.cli_finish(&provider, &form).await?))
}

async fn list(
    State(state): State<AppState>,
    _: AdminUser,
) -> Result<Json<Vec<OidcProviderSettings>>> {
    Ok(Json(state.oidc.settings()))
}

#[tracing::instrument(skip_all, fields(provider = %name))]
async fn save(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(name): Path<String>,
    AppJson(settings): AppJson<OidcProviderSettings>,
) -> Result<Json<OidcProviderSettings>> {
    let saved = state.oidc.save(&name, &settings).await?;
    state
        .audit
        .record(by(AuditAction::SsoSettingsChanged, &admin).detail(format!("{name}: saved")));
    Ok(Json(saved))
}

#[tracing::instrument(skip_all, fields(provider = %name))]
async fn delete(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(name): Path<String>,
) -> Result<StatusCode> {
    state.oidc.delete(&name).await?;
    state
        .audit
        .record(by(AuditAction::SsoSettingsChanged, &admin).detail(format!("{name}: deleted")));
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/admin/oidc_providers/test`: the path of the test round trip,
/// which no provider may be called (400, as for every reserved name).
async fn save_test(_: AdminUser) -> Error {
    let problem = crate::config::reserved_name_problem("name", "test");
    Error::BadRequest(problem.unwrap_or_else(|| "name: `test` is reserved".into()))
}

#[tracing::instrument(skip_all)]
async fn test_start(
    State(state): State<AppState>,
    _: AdminUser,
    AppJson(settings): AppJson<OidcProviderSettings>,
) -> Result<Json<OidcTestStarted>> {
    if settings.name.is_empty() {
        return Err(Error::Unprocessable("name: set the provider's name".into()));
    }
    Ok(Json(state.oidc.test_start(&settings).await?))
}

async fn test_result(
    State(state): State<AppState>,
    _: AdminUser,
    AppJson(form): AppJson<OidcTestResultForm>,
) -> Result<Json<OidcTestReport>> {
    Ok(Json(state.oidc.test_result(&form.code).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resubmit_page_escapes_and_pins_its_script() {
        let mut f = HashMap::new();
        f.insert("code".to_string(), r#""><script>x</script>"#.to_string());
        f.insert("state".to_string(), "s".to_string());
        let res = resubmit_page("kc", &f);
        let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("script-src 'sha256-"), "{csp}");
        assert!(!csp.contains("unsafe-inline"));
        let body = futures_body(res);
        assert!(!body.contains("<script>x"), "{body}");
        assert!(body.contains("&quot;&gt;&lt;script&gt;"));
        assert!(body.contains(RESUBMITTED));
    }

    fn futures_body(res: Response) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            use http_body_util::BodyExt;
            let bytes = res.into_body().collect().await.unwrap().to_bytes();
            String::from_utf8(bytes.to_vec()).unwrap()
        })
    }
}
