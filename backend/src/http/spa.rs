//! Serving the SPA: static files from the built `dist/` folder, and
//! `index.html` for every other page path so client-side routes survive a
//! reload. The page gets a strict Content-Security-Policy that allows only the
//! inline script trunk generates, by its hash.
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::path::Path;
use tower_http::services::ServeDir;

/// `index.html`, read once at start-up, and its policy.
pub struct SpaShell {
    html: Option<String>,
    csp: HeaderValue,
}

impl SpaShell {
    /// Reads `<static_dir>/index.html`; a missing SPA is reported on the page, not fatal.
    pub fn load(static_dir: &Path) -> SpaShell {
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
        let csp = format!(
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        );
        SpaShell {
            html,
            csp: HeaderValue::from_str(&csp)
                .unwrap_or(HeaderValue::from_static("default-src 'self'")),
        }
    }

    fn page(&self) -> Response {
        let Some(html) = &self.html else {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Html("<!doctype html><title>Tessera</title><p>The web app is not built. Run <code>scripts/run.sh</code>, or <code>trunk build --release</code> and restart.</p>"),
            )
                .into_response();
        };
        let mut res = Html(html.clone()).into_response();
        let h = res.headers_mut();
        h.insert(header::CONTENT_SECURITY_POLICY, self.csp.clone());
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
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

/// Static files, with `index.html` for page paths.
pub fn router(state: &AppState) -> Router<AppState> {
    let files = ServeDir::new(&state.config.server.static_dir)
        .append_index_html_on_directories(false)
        .fallback(get(index).with_state(state.clone()));
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .fallback_service(files)
}

async fn index(State(state): State<AppState>) -> Response {
    state.spa.page()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_inline_scripts_only() {
        let html = r#"<head><script src="/a.js"></script><script type="module">init()</script></head><script>x</script>"#;
        assert_eq!(inline_scripts(html), vec!["init()", "x"]);
    }
}
