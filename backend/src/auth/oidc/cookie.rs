//! The `tessera_oauth` cookie: binds one sign-in's `state`, `nonce`, PKCE
//! verifier, provider, `next` path and test id to the browser that started
//! it. Signed with HMAC-SHA256 under a key derived from the session secret;
//! HttpOnly, SameSite=Lax, Path=/oauth, ten minutes.
//!
//! And the `tessera_handover` cookie: the secret that binds a hand-over code
//! to the browser whose callback issued it (only its SHA-256 is stored with
//! the code). HttpOnly, SameSite=Lax, sent only to the redemption endpoint,
//! as long as the code lives.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The cookie's name.
pub const COOKIE: &str = "tessera_oauth";
/// The hand-over binding cookie's name.
pub const BINDING_COOKIE: &str = "tessera_handover";
/// How long a sign-in may take, in seconds.
pub const LIFETIME_SECS: i64 = 600;

/// What the cookie carries.
#[derive(Clone, Serialize, Deserialize)]
pub struct FlowState {
    /// The provider's name.
    pub provider: String,
    /// The `state` sent to the provider.
    pub state: String,
    /// The `nonce` sent to the provider.
    pub nonce: String,
    /// The PKCE code verifier.
    pub verifier: String,
    /// Where to go after sign-in (a local path).
    pub next: Option<String>,
    /// The id of an admin's test round trip.
    pub test: Option<String>,
    /// Unix seconds after which the cookie is refused.
    pub exp: i64,
}

impl std::fmt::Debug for FlowState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowState")
            .field("provider", &self.provider)
            .field("next", &self.next)
            .field("test", &self.test.is_some())
            .field("exp", &self.exp)
            .finish_non_exhaustive()
    }
}

/// The cookie's signing key.
#[derive(Clone)]
pub struct CookieKey([u8; 32]);

type HmacSha256 = Hmac<Sha256>;

impl CookieKey {
    /// A key derived from the session secret, for this purpose only.
    pub fn derive(session_secret: &[u8]) -> Self {
        let mut mac =
            HmacSha256::new_from_slice(session_secret).unwrap_or_else(|_| unreachable_mac());
        mac.update(b"tessera oauth state cookie v1");
        Self(mac.finalize().into_bytes().into())
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.0).unwrap_or_else(|_| unreachable_mac())
    }

    /// The cookie value: `base64url(json) "." base64url(hmac)`.
    pub fn seal(&self, s: &FlowState) -> String {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(s).unwrap_or_default());
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{body}.{tag}")
    }

    /// Checks the signature, the expiry and the provider.
    pub fn open(&self, value: &str, provider: &str, now: i64) -> Result<FlowState, &'static str> {
        let (body, tag) = value.split_once('.').ok_or("malformed sign-in cookie")?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| "malformed sign-in cookie")?;
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        mac.verify_slice(&tag)
            .map_err(|_| "the sign-in cookie's signature is wrong")?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| "malformed sign-in cookie")?;
        let s: FlowState =
            serde_json::from_slice(&bytes).map_err(|_| "malformed sign-in cookie")?;
        if now >= s.exp {
            return Err("the sign-in took too long");
        }
        if s.provider != provider {
            return Err("the sign-in was started at another provider");
        }
        Ok(s)
    }
}

/// HMAC accepts keys of any length; this cannot happen.
fn unreachable_mac() -> HmacSha256 {
    // An HMAC key of any length is valid; a fixed key keeps this total.
    #[allow(clippy::expect_used)]
    HmacSha256::new_from_slice(b"k").expect("HMAC takes any key length")
}

/// Compares two secrets in constant time.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The `Set-Cookie` value that stores `value`.
pub fn set_cookie(value: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={value}; Path=/oauth; Max-Age={LIFETIME_SECS}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that clears the cookie.
pub fn clear_cookie(secure: bool) -> String {
    format!(
        "{COOKIE}=; Path=/oauth; Max-Age=0; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The cookie's value in a request's `Cookie` headers.
pub fn from_headers(headers: &axum::http::HeaderMap) -> Option<String> {
    named(headers, COOKIE)
}

/// The value of the cookie `name` in a request's `Cookie` headers.
pub fn named(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty())
}

/// The `Set-Cookie` value that gives the browser the hand-over binding
/// `secret` for `max_age` seconds, sent only with `POST {path}`.
pub fn set_binding_cookie(secret: &str, path: &str, max_age: i64, secure: bool) -> String {
    format!(
        "{BINDING_COOKIE}={secret}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that clears the hand-over binding.
pub fn clear_binding_cookie(path: &str, secure: bool) -> String {
    format!(
        "{BINDING_COOKIE}=; Path={path}; Max-Age=0; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

/// What is stored of a hand-over binding secret: its SHA-256, base64url.
pub fn binding_hash(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

/// A random URL-safe value of `bytes` random bytes.
pub fn random(bytes: usize) -> String {
    let v: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    URL_SAFE_NO_PAD.encode(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> FlowState {
        FlowState {
            provider: "kc".into(),
            state: "st".into(),
            nonce: "n".into(),
            verifier: "v".into(),
            next: Some("/users".into()),
            test: None,
            exp: 1600,
        }
    }

    #[test]
    fn round_trip() {
        let k = CookieKey::derive(b"0123456789abcdef0123456789abcdef");
        let v = k.seal(&state());
        let s = k.open(&v, "kc", 1000).unwrap();
        assert_eq!(s.state, "st");
        assert_eq!(s.next.as_deref(), Some("/users"));
    }

    #[test]
    fn tampered_expired_foreign_and_wrong_provider_are_refused() {
        let k = CookieKey::derive(b"0123456789abcdef0123456789abcdef");
        let v = k.seal(&state());
        // another payload under the old tag
        let mut other = state();
        other.next = Some("/evil".into());
        let forged_body = k.seal(&other);
        let tag = v.split_once('.').unwrap().1;
        let forged = format!("{}.{tag}", forged_body.split_once('.').unwrap().0);
        assert_eq!(
            k.open(&forged, "kc", 1000).unwrap_err(),
            "the sign-in cookie's signature is wrong"
        );
        // a flipped tag character
        let mut bad = v.clone();
        let last = bad.pop().unwrap();
        bad.push(if last == 'A' { 'B' } else { 'A' });
        assert!(k.open(&bad, "kc", 1000).is_err());
        // another key (another server's secret)
        let other_key = CookieKey::derive(b"another-secret-another-secret-xx");
        assert!(other_key.open(&v, "kc", 1000).is_err());
        assert_eq!(
            k.open(&v, "kc", 1600).unwrap_err(),
            "the sign-in took too long"
        );
        assert_eq!(
            k.open(&v, "google", 1000).unwrap_err(),
            "the sign-in was started at another provider"
        );
        assert!(k.open("garbage", "kc", 1000).is_err());
    }

    #[test]
    fn cookie_attributes_and_parsing() {
        let c = set_cookie("abc", true);
        for attr in [
            "HttpOnly",
            "SameSite=Lax",
            "Path=/oauth",
            "Secure",
            "Max-Age=600",
        ] {
            assert!(c.contains(attr), "{c}");
        }
        assert!(clear_cookie(false).contains("Max-Age=0"));
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            axum::http::header::COOKIE,
            "a=b; tessera_oauth=xyz.tag; c=d".parse().unwrap(),
        );
        assert_eq!(from_headers(&h).as_deref(), Some("xyz.tag"));
    }

    #[test]
    fn binding_cookie_is_scoped_and_hashed() {
        let c = set_binding_cookie("sec", "/api/v1/auths/oauth/complete", 60, true);
        for attr in [
            "tessera_handover=sec;",
            "HttpOnly",
            "SameSite=Lax",
            "Path=/api/v1/auths/oauth/complete;",
            "Secure",
            "Max-Age=60",
        ] {
            assert!(c.contains(attr), "{c}");
        }
        assert!(!set_binding_cookie("s", "/p", 60, false).contains("Secure"));
        assert!(clear_binding_cookie("/p", false).contains("Max-Age=0"));
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            axum::http::header::COOKIE,
            "tessera_oauth=x; tessera_handover=sec".parse().unwrap(),
        );
        assert_eq!(named(&h, BINDING_COOKIE).as_deref(), Some("sec"));
        assert_eq!(binding_hash("sec").len(), 43);
        assert_ne!(binding_hash("sec"), binding_hash("sed"));
    }

    #[test]
    fn same_is_exact() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
    }
}
