//! URLs in the configuration: which issuer and provider URLs may be used.
use url::Url;

/// Whether a key URL may be used: `https://`, or `http://` on loopback or when allowed.
pub fn check_url(url: &str, allow_insecure_http: bool) -> Result<Url, String> {
    let u = Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    match u.scheme() {
        "https" => Ok(u),
        "http" if allow_insecure_http || is_loopback(&u) => Ok(u),
        "http" => Err(format!(
            "`{url}` must use https:// (http:// only for loopback hosts or with allow_insecure_http = true)"
        )),
        _ => Err(format!("`{url}` must be an https:// URL")),
    }
}

/// Whether the URL's host is a loopback address or `localhost`.
pub fn is_loopback(u: &Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(check_url("https://idp.example/jwks", false).is_ok());
        assert!(check_url("http://127.0.0.1:8080/jwks", false).is_ok());
        assert!(check_url("http://[::1]:8080/jwks", false).is_ok());
        assert!(check_url("http://localhost/jwks", false).is_ok());
        assert!(check_url("http://idp.example/jwks", false).is_err());
        assert!(check_url("http://idp.example/jwks", true).is_ok());
        assert!(check_url("file:///etc/passwd", true).is_err());
    }
}
