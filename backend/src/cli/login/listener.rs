//! The loopback listener (`127.0.0.1:{port}`) that takes the provider's redirect.
use super::callback::{parse_callback, Callback, Received};
use anyhow::anyhow;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

/// The path of the loopback redirect URI.
pub const CALLBACK_PATH: &str = "/oidc/callback";

/// `http://localhost:{port}/oidc/callback`.
pub fn redirect_uri(port: u16) -> String {
    format!("http://localhost:{port}{CALLBACK_PATH}")
}

/// The loopback listener for the provider's redirect.
pub(super) struct Callbacks {
    pub(super) port: u16,
    listeners: Vec<TcpListener>,
}

/// What the callback handler shares with the wait.
struct Shared {
    expected_state: Option<String>,
    done: AtomicBool,
    outcome: mpsc::Sender<Result<Received, String>>,
}

impl Callbacks {
    /// Binds `127.0.0.1:{port}` (and `[::1]` on the same port when it can,
    /// as `localhost` may resolve to either).
    pub(super) async fn bind(port: u16) -> anyhow::Result<Self> {
        let v4 = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| bind_error(port, &e))?;
        let port = v4.local_addr()?.port();
        let mut listeners = vec![v4];
        if let Ok(v6) = TcpListener::bind(("::1", port)).await {
            listeners.push(v6);
        }
        Ok(Self { port, listeners })
    }

    /// Serves the callback path until the provider's answer arrives (or
    /// `wait` passes), then stops listening.
    pub(super) async fn wait(
        self,
        expected_state: Option<String>,
        wait: Duration,
    ) -> anyhow::Result<Received> {
        let (tx, mut rx) = mpsc::channel(1);
        let shared = Arc::new(Shared {
            expected_state,
            done: AtomicBool::new(false),
            outcome: tx,
        });
        let app = callback_router(shared);
        let mut stops = Vec::new();
        let mut servers = Vec::new();
        for listener in self.listeners {
            let (stop, stopped) = oneshot::channel::<()>();
            stops.push(stop);
            let server = axum::serve(listener, app.clone()).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            servers.push(tokio::spawn(async move { server.await }));
        }
        let outcome = tokio::time::timeout(wait, rx.recv()).await;
        for stop in stops {
            let _ = stop.send(());
        }
        // let the answer page reach the browser before the process ends
        for server in servers {
            let _ = tokio::time::timeout(Duration::from_secs(3), server).await;
        }
        match outcome {
            Ok(Some(Ok(received))) => Ok(received),
            Ok(Some(Err(message))) => Err(anyhow!("the provider refused the login: {message}")),
            Ok(None) => Err(anyhow!("the callback listener stopped unexpectedly")),
            Err(_) => Err(anyhow!(
                "no answer from the provider within {}; run `tessera login` again",
                humantime::format_duration(wait)
            )),
        }
    }
}

fn bind_error(port: u16, e: &std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::AddrInUse {
        anyhow!(
            "port {port} on 127.0.0.1 is already in use (another `tessera login`?); \
             stop that program or choose another port with --port (the provider must allow \
             http://localhost:PORT{CALLBACK_PATH} for it)"
        )
    } else {
        anyhow!("cannot listen on 127.0.0.1:{port}: {e}")
    }
}

/// The listener's routes: the callback path (GET, and POST for
/// `form_post`); everything else is 404.
fn callback_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(CALLBACK_PATH, get(callback_get).post(callback_post))
        .fallback(|| async { (StatusCode::NOT_FOUND, "Not found") })
        .with_state(shared)
}

async fn callback_get(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    on_callback(&shared, query.as_deref())
}

async fn callback_post(State(shared): State<Arc<Shared>>, body: String) -> Response {
    on_callback(&shared, Some(&body))
}

fn on_callback(shared: &Shared, query: Option<&str>) -> Response {
    if shared.done.load(Ordering::SeqCst) {
        return page(StatusCode::OK, PAGE_ALREADY_DONE);
    }
    let outcome = match parse_callback(query, shared.expected_state.as_deref()) {
        Callback::Stray(_) => return page(StatusCode::BAD_REQUEST, PAGE_STRAY),
        Callback::Code(received) => Ok(received),
        Callback::Refused(message) => Err(message),
    };
    if shared.done.swap(true, Ordering::SeqCst) {
        return page(StatusCode::OK, PAGE_ALREADY_DONE);
    }
    let failed = outcome.is_err();
    if shared.outcome.try_send(outcome).is_err() {
        return page(StatusCode::INTERNAL_SERVER_ERROR, PAGE_FAILED);
    }
    if failed {
        page(StatusCode::OK, PAGE_FAILED)
    } else {
        page(StatusCode::OK, PAGE_DONE)
    }
}

const PAGE_DONE: &str = "Signed in. You can close this window and return to the terminal.";
const PAGE_FAILED: &str = "The login failed. The terminal says why; you can close this window.";
const PAGE_ALREADY_DONE: &str = "This login is already complete. You can close this window.";
const PAGE_STRAY: &str = "This page does not belong to the login in progress.";

/// A small fixed HTML page (nothing from the request is echoed).
fn page(status: StatusCode, message: &'static str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Tessera login</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>Tessera</h1><p>{message}</p></body></html>"
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        html,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn listening(
        expected_state: &str,
    ) -> (u16, tokio::task::JoinHandle<anyhow::Result<Received>>) {
        let callbacks = Callbacks::bind(0).await.unwrap();
        let port = callbacks.port;
        let state = expected_state.to_owned();
        let wait = tokio::spawn(callbacks.wait(Some(state), Duration::from_secs(20)));
        (port, wait)
    }

    fn http() -> reqwest::Client {
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    #[tokio::test]
    async fn the_listener_takes_the_first_callback_of_this_login() {
        let (port, wait) = listening("s1").await;
        let base = format!("http://127.0.0.1:{port}");
        let res = http()
            .get(format!("{base}/favicon.ico"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
        let res = http()
            .get(format!("{base}/oidc/callback?code=c&state=forged"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "a foreign state does not end the wait");
        let res = http()
            .get(format!("{base}/oidc/callback?code=c1&state=s1"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
        let html = res.text().await.unwrap();
        assert!(html.contains("Signed in") && !html.contains("c1"), "{html}");
        let received = wait.await.unwrap().unwrap();
        assert_eq!(
            received,
            Received {
                state: "s1".into(),
                code: "c1".into()
            }
        );
        assert!(
            http()
                .get(format!("{base}/oidc/callback"))
                .send()
                .await
                .is_err(),
            "the listener is closed once the answer arrived"
        );
    }

    #[tokio::test]
    async fn the_listener_reports_the_providers_refusal() {
        let (port, wait) = listening("s1").await;
        let res = http()
            .get(format!(
                "http://127.0.0.1:{port}/oidc/callback?error=access_denied&error_description=Not+in+group&state=s1"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.text().await.unwrap().contains("failed"));
        let err = wait.await.unwrap().unwrap_err().to_string();
        assert!(err.contains("access_denied: Not in group"), "{err}");
    }

    #[tokio::test]
    async fn the_wait_ends_after_the_timeout() {
        let callbacks = Callbacks::bind(0).await.unwrap();
        let err = callbacks
            .wait(Some("s".into()), Duration::from_millis(50))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("no answer from the provider"), "{err}");
    }

    #[tokio::test]
    async fn a_taken_port_is_reported_clearly() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = Callbacks::bind(port).await.err().unwrap().to_string();
        assert!(
            err.contains(&format!("port {port}")) && err.contains("--port"),
            "{err}"
        );
    }
}
