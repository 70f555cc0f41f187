//! Serving the SPA: static files from the built `dist/` folder, and
//! `index.html` for every other page path so client-side routes survive a
//! reload. The page gets a strict Content-Security-Policy that allows only the
//! inline script trunk generates, by its hash, and may be framed only by
//! `[embed] allowed_origins`.
//!
//! A page request that carries `Authorization: Bearer <token>` (added by an
//! SSO proxy) has that token validated and handed to the SPA inside the page,
//! as a JSON data block; a refused token is replaced by the reason.
use crate::auth::policy::{self, Action};
use crate::config::EmbedConfig;
use crate::domain::audit::AuditAction;
use crate::error::Error;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;
use tessera_shared::injection::{self, Injected};
use tower_http::services::ServeDir;

/// `index.html`, read once at start-up, and its policy.
pub struct SpaShell {
    html: Option<String>,
    csp: HeaderValue,
    frameable: bool,
}

/// A response extension: this page may be framed by `[embed] allowed_origins`
/// (its CSP says so), so the security headers leave out `X-Frame-Options: DENY`.
#[derive(Debug, Clone, Copy)]
pub struct AllowFraming;

impl SpaShell {
    /// Reads `<static_dir>/index.html`; a missing SPA is reported on the page, not fatal.
    /// `embed.allowed_origins` (validated origins) become `frame-ancestors`.
    pub fn load(static_dir: &Path, embed: &EmbedConfig) -> SpaShell {
        let path = static_dir.join("index.html");
        let html = match std::fs::read_to_string(&path) {
            Ok(html) => Some(html),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "the SPA is not built; pages will say so");
                None
            }
        };
        let hashes: String = html
            .as_deref()
            .map(inline_scripts)
            .unwrap_or_default()
            .iter()
            .map(|s| {
                let digest = Sha256::digest(s.as_bytes());
                format!(
                    " 'sha256-{}'",
                    base64::engine::general_purpose::STANDARD.encode(digest)
                )
            })
            .collect();
        let frame_ancestors = if embed.allowed_origins.is_empty() {
            "'none'".to_owned()
        } else {
            embed.allowed_origins.join(" ")
        };
        let csp = format!(
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {frame_ancestors}"
        );
        let fallback = "default-src 'self'; frame-ancestors 'none'";
        let (csp, frameable) = match HeaderValue::from_str(&csp) {
            Ok(csp) => (csp, !embed.allowed_origins.is_empty()),
            Err(_) => (HeaderValue::from_static(fallback), false),
        };
        SpaShell {
            html,
            csp,
            frameable,
        }
    }

    /// The page, with `injected` embedded as a data block when given.
    fn page(&self, injected: Option<&Injected>) -> Response {
        let Some(html) = &self.html else {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Html("<!doctype html><title>Tessera</title><p>The web app is not built. Run <code>scripts/run.sh</code>, or <code>trunk build --release</code> and restart.</p>"),
            )
                .into_response();
        };
        let html = match injected {
            Some(injected) => with_data_block(html, injected),
            None => html.clone(),
        };
        let mut res = Html(html).into_response();
        let h = res.headers_mut();
        h.insert(header::CONTENT_SECURITY_POLICY, self.csp.clone());
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.frameable {
            res.extensions_mut().insert(AllowFraming);
        }
        res
    }
}

/// `html` with `<script type="application/json" id="tessera-injected">` before
/// `</head>`. The JSON escapes `<`, `>` and `&`, so no value can close the
/// element; a data block is never executed, so the CSP needs no hash for it.
fn with_data_block(html: &str, injected: &Injected) -> String {
    let json = serde_json::to_string(injected)
        .unwrap_or_else(|_| "{}".to_owned())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    let block = format!(
        "<script type=\"application/json\" id=\"{}\">{json}</script>",
        injection::ELEMENT_ID
    );
    match html.find("</head>") {
        Some(at) => format!("{}{block}{}", &html[..at], &html[at..]),
        None => format!("{block}{html}"),
    }
}

/// What to hand the SPA for a page request: nothing without an
/// `Authorization` header; else the validated token, or why it was refused.
/// With `[injection] exchange = true` a credential that may mint a session
/// (an IdP token) is exchanged for one, capped by it; a session is handed
/// back as it is (never renewed), and an API key never reaches a page
/// ([`policy`]).
async fn injected_token(parts: &Parts, state: &AppState) -> Option<Injected> {
    if !parts.headers.contains_key(header::AUTHORIZATION) {
        return None;
    }
    let refused = |e: &Error| Injected {
        token: None,
        error: Some(refusal(e).to_owned()),
    };
    let principal = match state.authenticators.authenticate(parts).await {
        Ok(Some(principal)) => principal,
        Ok(None) => return None,
        Err(e) => {
            tracing::info!(error = %e, "the token on a page request was refused");
            return Some(refused(&e));
        }
    };
    if let Err(e) = policy::require(principal.kind, Action::OpenWebApp) {
        tracing::info!(kind = %principal.kind, "a credential that may not open the web app was refused on a page request");
        return Some(refused(&e));
    }
    let exchange = state.config.injection.exchange
        && policy::require(principal.kind, Action::MintSession).is_ok();
    let token = if exchange {
        let client = crate::auth::trusted_header::client_ip(state.authenticators.proxy(), parts);
        match super::auths::mint_from(state, &principal, client).await {
            Ok(session) => {
                state.audit.record(
                    super::audit::by(AuditAction::TokenExchanged, &principal)
                        .account(principal.user.email.clone())
                        .ip(client)
                        .detail("injected into the page"),
                );
                session.token
            }
            Err(e) => {
                tracing::info!(error = %e, "minting a session for an injected token was refused");
                return Some(refused(&e));
            }
        }
    } else {
        principal.token.to_string()
    };
    tracing::info!(user = %principal.user.id, kind = %principal.kind, exchanged = exchange, "token handed to the page");
    Some(Injected {
        token: Some(token),
        error: None,
    })
}

/// Why an injected token was refused, for the sign-in page: the kind of
/// problem, never the verifier's internals.
fn refusal(e: &Error) -> &'static str {
    match e {
        Error::InvalidToken(reason) if reason.contains("expired") => {
            "Your sign-in token has expired. Please sign in again."
        }
        Error::InvalidToken(reason) if reason.contains("aud") => {
            "Your sign-in token was issued for another application."
        }
        Error::InvalidToken(reason) if reason.contains("keys") => {
            "Your sign-in token could not be checked right now (the identity provider's keys are unavailable)."
        }
        Error::InvalidToken(_) => "Your sign-in token was refused: it is not valid here.",
        Error::Forbidden(policy::KEY_IN_BROWSER) => {
            "An API key cannot sign in to the web app: sign in as a person."
        }
        Error::Forbidden(_) => "Your account may not use this app (access prohibited).",
        Error::RateLimited { .. } | Error::Unavailable(_) | Error::Database(_) | Error::Internal(_) => {
            "Your sign-in token could not be checked right now. Please try again later."
        }
        _ => "Your sign-in token was refused.",
    }
}

/// The contents of every `<script>` element without a `src` attribute.
fn inline_scripts(html: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        rest = &rest[start..];
        let Some(tag_end) = rest.find('>') else { break };
        let tag = &rest[..tag_end];
        let body = &rest[tag_end + 1..];
        let Some(close) = body.find("</script>") else {
            break;
        };
        if !tag.contains(" src=") {
            found.push(&body[..close]);
        }
        rest = &body[close..];
    }
    found
}

/// Longest path segment looked up on disk: Linux's `NAME_MAX`. A longer one
/// can name no file, so it is a page path without asking the file system.
const MAX_SEGMENT_BYTES: usize = 255;
/// Longest request path looked up on disk.
const MAX_PATH_BYTES: usize = 1024;

/// Static files, with `index.html` for page paths.
pub fn router(state: &AppState) -> Router<AppState> {
    let files =
        ServeDir::new(&state.config.server.static_dir).append_index_html_on_directories(false);
    let shell = Arc::new(SpaShell::load(
        &state.config.server.static_dir,
        &state.config.embed,
    ));
    let index = {
        let shell = shell.clone();
        move |State(state): State<AppState>, req: Request| {
            let shell = shell.clone();
            async move {
                let (parts, _body) = req.into_parts();
                page(&state, &shell, &parts).await
            }
        }
    };
    Router::new()
        .route("/", get(index.clone()))
        .route("/index.html", get(index))
        .fallback(move |State(state): State<AppState>, req: Request| {
            static_file(files.clone(), shell.clone(), state, req)
        })
}

/// The page for a request, with its injected token.
async fn page(state: &AppState, shell: &SpaShell, parts: &Parts) -> Response {
    let injected = injected_token(parts, state).await;
    shell.page(injected.as_ref())
}

/// A file of the built SPA, or the page for any path that names none: a
/// path no file can have (too long, a NUL byte, a loop) is a page path like
/// any other unknown one, never a server error. Only a failure of the file
/// system itself is a 500.
async fn static_file(
    mut files: ServeDir,
    shell: Arc<SpaShell>,
    state: AppState,
    req: Request,
) -> Response {
    if !may_name_a_file(req.uri().path()) {
        let (parts, _body) = req.into_parts();
        return page(&state, &shell, &parts).await;
    }
    let (parts, body) = req.into_parts();
    let head = parts.clone();
    match files.try_call(Request::from_parts(parts, body)).await {
        // no such file (or a path ServeDir refuses): a client-side route
        Ok(res) if res.status() == StatusCode::NOT_FOUND => page(&state, &shell, &head).await,
        Ok(res) => res.map(axum::body::Body::new),
        Err(e) if names_no_file(&e) => page(&state, &shell, &head).await,
        Err(e) => {
            tracing::error!(error = %e, kind = ?e.kind(), "reading a file of the SPA failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Whether `path` (as requested, percent-encoded) is short enough to be
/// looked up on disk: decoding only shortens it.
fn may_name_a_file(path: &str) -> bool {
    path.len() <= MAX_PATH_BYTES && path.split('/').all(|s| s.len() <= MAX_SEGMENT_BYTES)
}

/// Whether opening a file failed because of the name asked for (no such
/// file, a name too long, a NUL byte, a symlink loop...) rather than the
/// file system: the request names no file.
fn names_no_file(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    /// `ENAMETOOLONG` and `ELOOP`, which have no stable `ErrorKind` yet.
    #[cfg(target_os = "linux")]
    const BAD_NAME: &[i32] = &[36, 40];
    #[cfg(any(target_os = "macos", target_os = "freebsd", target_os = "openbsd"))]
    const BAD_NAME: &[i32] = &[63, 62];
    #[cfg(not(any(
        target_os = "linux",
        target_os = "macos",
        target_os = "freebsd",
        target_os = "openbsd"
    )))]
    const BAD_NAME: &[i32] = &[];
    matches!(
        e.kind(),
        ErrorKind::NotFound
            | ErrorKind::PermissionDenied
            | ErrorKind::NotADirectory
            | ErrorKind::IsADirectory
            | ErrorKind::InvalidInput
    ) || e
        .raw_os_error()
        .is_some_and(|code| BAD_NAME.contains(&code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlong_paths_are_never_looked_up() {
        assert!(may_name_a_file("/assets/tessera-0123abcd_bg.wasm"));
        assert!(may_name_a_file(&format!("/{}", "a".repeat(255))));
        assert!(!may_name_a_file(&format!("/{}", "a".repeat(256))));
        assert!(!may_name_a_file(&format!("/x/{}/y", "a".repeat(300))));
        assert!(!may_name_a_file(&"/a".repeat(600)));
    }

    #[test]
    fn a_name_no_file_can_have_is_not_a_server_error() {
        let dir = tempfile::tempdir().unwrap();
        let open = |name: &str| std::fs::File::open(dir.path().join(name)).unwrap_err();
        assert!(names_no_file(&open("missing")));
        assert!(names_no_file(&open(&"a".repeat(300))), "ENAMETOOLONG");
        assert!(names_no_file(&open("nul\0byte")), "NUL byte");
        std::fs::write(dir.path().join("file"), "x").unwrap();
        assert!(names_no_file(&open("file/below")), "ENOTDIR");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("loop", dir.path().join("loop")).unwrap();
            assert!(names_no_file(&open("loop")), "ELOOP");
        }
        assert!(!names_no_file(&std::io::Error::other("disk on fire")));
    }

    #[test]
    fn finds_inline_scripts_only() {
        let html = r#"<head><script src="/a.js"></script><script type="module">init()</script></head><script>x</script>"#;
        assert_eq!(inline_scripts(html), vec!["init()", "x"]);
    }

    #[test]
    fn data_block_cannot_be_broken_out_of() {
        let injected = Injected {
            token: Some("a</script><script>alert(1)</script>&".into()),
            error: None,
        };
        let page = with_data_block("<head><title>x</title></head><body></body>", &injected);
        assert!(page.starts_with(
            r#"<head><title>x</title><script type="application/json" id="tessera-injected">{"#
        ));
        assert_eq!(page.matches("</script>").count(), 1, "{page}");
        assert!(!page.contains("<script>alert"));
        let start = page.find('{').unwrap();
        let end = page.find("</script>").unwrap();
        let back: Injected = serde_json::from_str(&page[start..end]).unwrap();
        assert_eq!(back, injected);
    }

    #[test]
    fn frame_ancestors_follow_the_allowed_origins() {
        let dir = tempfile::tempdir().unwrap();
        let none = SpaShell::load(dir.path(), &EmbedConfig::default());
        assert!(none
            .csp
            .to_str()
            .unwrap()
            .ends_with("frame-ancestors 'none'"));
        assert!(!none.frameable);
        let embed = EmbedConfig {
            allowed_origins: vec!["https://a.example".into(), "http://127.0.0.2:81".into()],
            always: false,
            ..EmbedConfig::default()
        };
        let some = SpaShell::load(dir.path(), &embed);
        assert!(some
            .csp
            .to_str()
            .unwrap()
            .ends_with("frame-ancestors https://a.example http://127.0.0.2:81"));
        assert!(some.frameable);
    }
}
