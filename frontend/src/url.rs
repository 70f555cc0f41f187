//! Pure helpers for the parts of a URL the SPA reads and writes itself: the
//! `a=b&c=d` lists of a query or fragment, percent-encoding, and the check
//! that a `next` location stays on Tessera. No browser APIs, so they are
//! unit-tested natively.

/// The decoded `key=value` pairs of `a=b&c=d` (a leading `?` or `#` is
/// skipped). `+` is a space, as in form encoding; a pair without `=` has an
/// empty value.
pub fn params(list: &str) -> Vec<(String, String)> {
    let list = list
        .strip_prefix('?')
        .or_else(|| list.strip_prefix('#'))
        .unwrap_or(list);
    list.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

/// The first value of `key` in `a=b&c=d`, decoded.
pub fn param(list: &str, key: &str) -> Option<String> {
    params(list)
        .into_iter()
        .find_map(|(k, v)| (k == key).then_some(v))
}

/// `a=b&c=d` without the pairs named in `keys`, the others kept as they were
/// (still encoded). No leading `?` or `#`.
pub fn without(list: &str, keys: &[&str]) -> String {
    let list = list
        .strip_prefix('?')
        .or_else(|| list.strip_prefix('#'))
        .unwrap_or(list);
    list.split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            let key = pair.split_once('=').map_or(*pair, |(k, _)| k);
            !keys.contains(&decode(key).as_str())
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-decodes `text`, with `+` as a space. Malformed escapes stay as
/// they are; bytes that are not UTF-8 become U+FFFD.
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| {
                    let h = std::str::from_utf8(h).ok()?;
                    u8::from_str_radix(h, 16).ok()
                });
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes `text` for a query value or a path segment: everything
/// but ASCII letters, digits and `-._~` is escaped.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `next` when it is a path on this site — it starts with a single `/` and
/// holds no `\` or control character (browsers drop tabs and newlines, so
/// `/\t/evil.example` would become `//evil.example`) and no `//` — else `None`.
/// A `next` from a URL must pass here before the SPA navigates to it.
pub fn local_path(next: &str) -> Option<&str> {
    let local = next.starts_with('/')
        && !next.contains("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    local.then_some(next)
}

/// What `/oauth/complete#code=...&next=...` carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The one-time code for `POST /api/v1/auths/oauth/complete`.
    pub code: Option<String>,
    /// Where to go once signed in, when it is a local path.
    pub next: Option<String>,
}

/// Reads the fragment the OAuth callback appends; a `next` that is not a
/// local path is dropped.
pub fn completion(fragment: &str) -> Completion {
    let params = params(fragment);
    let find = |key: &str| {
        params
            .iter()
            .find_map(|(k, v)| (k == key && !v.is_empty()).then(|| v.clone()))
    };
    Completion {
        code: find("code"),
        next: find("next").filter(|n| local_path(n).is_some()),
    }
}

/// `items` as a list: split at commas when there is one (so entries may
/// hold spaces, like `Domain Admins`), else at whitespace; entries trimmed,
/// empty ones dropped.
pub fn split_list(items: &str) -> Vec<String> {
    let entries: Vec<&str> = if items.contains(',') {
        items.split(',').collect()
    } else {
        items.split_whitespace().collect()
    };
    entries
        .into_iter()
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_pass() {
        for next in ["/", "/dashboard", "/users?x=1", "/a/b#c", "/a%2F%2Fb"] {
            assert_eq!(local_path(next), Some(next), "{next}");
        }
    }

    #[test]
    fn other_locations_are_refused() {
        for next in [
            "",
            "dashboard",
            "//evil.example",
            "//evil.example/path",
            "/\\evil.example",
            "\\\\evil.example",
            "/a//b",
            "https://evil.example/",
            "javascript:alert(1)",
            "/\t/evil.example",
            "/\n/evil.example",
            " /dashboard",
        ] {
            assert_eq!(local_path(next), None, "{next:?}");
        }
    }

    #[test]
    fn completion_reads_code_and_next() {
        let c = completion("#code=abc%2B1&next=%2Fusers%3Fpage%3D2");
        assert_eq!(c.code.as_deref(), Some("abc+1"));
        assert_eq!(c.next.as_deref(), Some("/users?page=2"));
        let c = completion("code=xyz");
        assert_eq!(c.code.as_deref(), Some("xyz"));
        assert_eq!(c.next, None);
    }

    #[test]
    fn completion_drops_a_foreign_next() {
        for fragment in [
            "code=c&next=%2F%2Fevil.example",
            "code=c&next=https%3A%2F%2Fevil.example",
            "code=c&next=%2F%5Cevil.example",
            "code=c&next=%2F%09%2Fevil.example",
        ] {
            let c = completion(fragment);
            assert_eq!(c.code.as_deref(), Some("c"));
            assert_eq!(c.next, None, "{fragment}");
        }
    }

    #[test]
    fn completion_without_code() {
        assert_eq!(completion("").code, None);
        assert_eq!(completion("#code=").code, None);
        assert_eq!(completion("#next=%2Fx").code, None);
    }

    #[test]
    fn decoding() {
        assert_eq!(decode("a+b%20c"), "a b c");
        assert_eq!(decode("Access%20prohibited"), "Access prohibited");
        assert_eq!(decode("%E2%9C%93"), "✓");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
        assert_eq!(decode("%FF"), "\u{FFFD}");
    }

    #[test]
    fn encoding_round_trips() {
        let text = "/users?next=/a b&c=✓";
        assert_eq!(encode(text), "%2Fusers%3Fnext%3D%2Fa%20b%26c%3D%E2%9C%93");
        assert_eq!(decode(&encode(text)), text);
    }

    #[test]
    fn params_and_without() {
        let list = "?error=Access+prohibited&next=%2Fusers&backup=1";
        assert_eq!(param(list, "error").as_deref(), Some("Access prohibited"));
        assert_eq!(param(list, "backup").as_deref(), Some("1"));
        assert_eq!(param(list, "none"), None);
        assert_eq!(without(list, &["error"]), "next=%2Fusers&backup=1");
        assert_eq!(without(list, &["error", "next", "backup"]), "");
        assert_eq!(without("#code=x&next=%2F", &["code", "next"]), "");
    }

    #[test]
    fn lists() {
        assert_eq!(
            split_list(" openid  email\tprofile "),
            vec!["openid", "email", "profile"]
        );
        assert_eq!(
            split_list("admins, Domain Admins,,trusted "),
            vec!["admins", "Domain Admins", "trusted"]
        );
        assert!(split_list("  , ").is_empty());
        assert!(split_list("").is_empty());
    }
}
