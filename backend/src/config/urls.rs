//! URLs in the configuration: which issuer and provider URLs may be used,
//! and URLs shown with their password masked.
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

/// `url` with its password (in the user-info part or a `password=` query
/// parameter) replaced by `***`, for messages and logs.
pub fn redacted_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        // not a URL at all: show only the scheme, if any
        return match url.split_once(':') {
            Some((scheme, _)) => format!("{scheme}:***"),
            None => "***".into(),
        };
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    if parsed
        .query_pairs()
        .any(|(k, _)| k.eq_ignore_ascii_case("password"))
    {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if k.eq_ignore_ascii_case("password") {
                    "***".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
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

    #[test]
    fn passwords_never_show_in_redacted_urls() {
        assert_eq!(
            redacted_url("postgres://tessera:s3cret@db.internal:5432/tessera"),
            "postgres://tessera:***@db.internal:5432/tessera"
        );
        let q = redacted_url("postgresql://db/tessera?user=t&password=s3cret&sslmode=require");
        assert!(!q.contains("s3cret"), "{q}");
        assert!(q.contains("sslmode=require"), "{q}");
        assert_eq!(
            redacted_url("sqlite:///var/lib/tessera/t.db?mode=rwc"),
            "sqlite:///var/lib/tessera/t.db?mode=rwc"
        );
        assert_eq!(redacted_url("postgres://u:p w@[bad"), "postgres:***");
    }
}
