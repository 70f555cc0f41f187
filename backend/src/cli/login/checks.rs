//! Checks of `--url`, `--provider` and the server's auth URL; text made safe for a terminal.

/// What `--url` defaults to.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// Longest text taken from a server or provider into a message.
const MAX_MESSAGE_CHARS: usize = 300;

/// `--url` as a base without a trailing slash: http(s), with a host, no
/// query or fragment (a path prefix is kept).
pub fn base_url(url: &str) -> Result<String, String> {
    let parsed = url::Url::parse(url.trim())
        .map_err(|e| format!("--url `{url}` is not a URL ({e}); e.g. {DEFAULT_URL}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(format!(
            "--url `{url}` must be an http:// or https:// URL of the Tessera server"
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() || !parsed.username().is_empty() {
        return Err(format!(
            "--url `{url}` must not carry a query, fragment or user name"
        ));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

pub(super) fn is_loopback_url(url: &str) -> bool {
    match url::Url::parse(url)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
    {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A provider name as the server accepts it: `[a-z0-9_-]`, 1–40 characters.
pub fn check_provider_name(name: &str) -> Result<(), String> {
    let ok = (1..=40).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "--provider `{}` is not a provider name: 1 to 40 of a-z, 0-9, _ and -",
            clean(name)
        ))
    }
}

/// The provider to use when `--provider` is not given: the server's only one.
pub fn choose_provider(available: &[&str]) -> Result<String, String> {
    match available {
        [only] => Ok((*only).to_owned()),
        [] => Err("the server offers no OIDC provider".into()),
        several => Err(format!(
            "the server offers several OIDC providers; choose one with --provider: {}",
            several
                .iter()
                .map(|n| clean(n))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The server's authorization URL, refused unless it is an http(s) URL (it
/// is handed to a browser opener, so nothing that could read as an option).
pub fn checked_auth_url(url: &str) -> Result<String, String> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Ok(u.as_str().to_owned())
        }
        _ => Err("the server answered with an unusable authorization URL".into()),
    }
}

/// The `state` the server put in the authorization URL, when there is one:
/// callbacks carrying another state are not ours.
pub fn state_of(auth_url: &str) -> Option<String> {
    let url = url::Url::parse(auth_url).ok()?;
    let mut states = url.query_pairs().filter(|(k, _)| k == "state");
    let state = states.next()?.1.into_owned();
    (states.next().is_none() && !state.is_empty()).then_some(state)
}

/// Text from elsewhere made safe for a terminal: control characters
/// (escape sequences) replaced, length bounded.
pub fn clean(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_MESSAGE_CHARS)
        .collect();
    if s.chars().count() > MAX_MESSAGE_CHARS {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_provider_names() {
        assert_eq!(
            base_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            base_url("https://example.com/tessera/").unwrap(),
            "https://example.com/tessera"
        );
        for bad in [
            "127.0.0.1:8080",
            "ftp://example.com",
            "https://example.com/?x=1",
            "https://u:p@example.com",
            "",
        ] {
            assert!(base_url(bad).is_err(), "{bad}");
        }
        assert!(is_loopback_url("http://localhost:8080"));
        assert!(is_loopback_url("http://127.0.0.1:8080"));
        assert!(is_loopback_url("http://[::1]:8080"));
        assert!(!is_loopback_url("http://auth.example.com"));

        for good in ["kc", "my-idp_2", &"a".repeat(40)] {
            assert!(check_provider_name(good).is_ok(), "{good}");
        }
        for bad in ["", "KC", "a/b", "a b", "../x", "é", &"a".repeat(41)] {
            assert!(check_provider_name(bad).is_err(), "{bad}");
        }
        assert_eq!(choose_provider(&["kc"]).unwrap(), "kc");
        assert!(choose_provider(&[]).is_err());
        let several = choose_provider(&["kc", "gh"]).unwrap_err();
        assert!(
            several.contains("kc, gh") && several.contains("--provider"),
            "{several}"
        );
    }

    #[test]
    fn auth_url_and_its_state() {
        let url = "https://idp.example/auth?client_id=c&state=s%2B1&code_challenge=x";
        assert_eq!(checked_auth_url(url).unwrap(), url);
        assert_eq!(state_of(url).as_deref(), Some("s+1"));
        assert_eq!(state_of("https://idp.example/auth?client_id=c"), None);
        assert_eq!(state_of("https://idp.example/auth?state=a&state=b"), None);
        for bad in [
            "--help",
            "javascript:alert(1)",
            "file:///etc/passwd",
            "/relative",
        ] {
            assert!(checked_auth_url(bad).is_err(), "{bad}");
        }
    }
}
