//! The calls `tessera login` makes to the Tessera server, and the nonce binding them to it.
use super::checks::clean;
use anyhow::{anyhow, Context};
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

/// `template` (a route with `{provider}`) for `provider`.
pub(super) fn provider_path(template: &str, provider: &str) -> String {
    template.replace("{provider}", provider)
}

/// 256 random bits, base64url: binds the server's flow to this process.
pub fn new_client_nonce() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A readable message for a failed call: the server's `detail` when the
/// body is `{"detail": "..."}`, and the status.
pub fn error_message(status: reqwest::StatusCode, body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Detail {
        detail: serde_json::Value,
    }
    let detail = serde_json::from_slice::<Detail>(body)
        .ok()
        .map(|d| match d.detail {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        })
        .filter(|d| !d.trim().is_empty());
    match detail {
        Some(d) => format!("{} (HTTP {})", clean(&d), status.as_u16()),
        None => format!("the server answered HTTP {status}"),
    }
}

/// The calls to the Tessera server.
pub(super) struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    pub(super) fn new(base: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("tessera-login/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(Self {
            base: base.to_owned(),
            http,
        })
    }

    pub(super) async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.answer(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    pub(super) async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        self.answer(self.http.post(format!("{}{path}", self.base)).json(body))
            .await
    }

    async fn answer<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> anyhow::Result<T> {
        let res = req
            .send()
            .await
            .map_err(|e| anyhow!("cannot reach Tessera at {}: {}", self.base, causes(&e)))?;
        let status = res.status();
        let body = res
            .bytes()
            .await
            .map_err(|e| anyhow!("reading Tessera's answer: {}", causes(&e)))?;
        if !status.is_success() {
            return Err(anyhow!(error_message(status, &body)));
        }
        serde_json::from_slice(&body).map_err(|_| {
            anyhow!(
                "unexpected answer from {} (HTTP {status}): is --url a Tessera server?",
                self.base
            )
        })
    }
}

/// A reqwest error with its causes ("connection refused"), without the URL.
fn causes(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut next: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(cause) = next {
        let text = cause.to_string();
        if !parts.iter().any(|p: &String| p.contains(&text)) {
            parts.push(text);
        }
        next = cause.source();
    }
    let head = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    match parts.last() {
        Some(last) => format!("{head} ({})", clean(last)),
        None => head.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_nonces_are_long_and_fresh() {
        let a = new_client_nonce();
        let b = new_client_nonce();
        assert_ne!(a, b);
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&a)
            .unwrap();
        assert!(bytes.len() * 8 >= 128);
    }

    #[test]
    fn server_errors_read_well() {
        let forbidden = reqwest::StatusCode::FORBIDDEN;
        assert_eq!(
            error_message(forbidden, br#"{"detail":"Access prohibited"}"#),
            "Access prohibited (HTTP 403)"
        );
        assert_eq!(
            error_message(
                reqwest::StatusCode::UNPROCESSABLE_ENTITY,
                br#"{"detail":[{"msg":"x"}]}"#
            ),
            r#"[{"msg":"x"}] (HTTP 422)"#
        );
        assert_eq!(
            error_message(reqwest::StatusCode::BAD_GATEWAY, b"<html>oops</html>"),
            "the server answered HTTP 502 Bad Gateway"
        );
        let long = format!(r#"{{"detail":"{}"}}"#, "x".repeat(1000));
        assert!(error_message(forbidden, long.as_bytes()).chars().count() < 400);
    }
}
