//! Sign-in by headers that a reverse proxy sets after its own authentication
//! (an SSO gateway behind nginx's `auth_request`, oauth2-proxy, ...).
//!
//! The headers are honoured only when the TCP peer is one of
//! `trusted_proxies`; from anyone else they are removed by [`strip_untrusted_headers`]
//! before any handler runs. A request that carries no bearer credential but
//! the email header from a trusted proxy is that person: created on first
//! fingerprint (source `trusted_header`, subject the lower-cased e-mail) with the
//! mapped role, groups synced when the groups header is present.
//!
//! The browser sends a proxy's sign-in along with every request, so a request
//! that changes state (any method but `GET`, `HEAD`, `OPTIONS`, `TRACE`) is
//! honoured only when the browser does not say it comes from another site:
//! see [`TrustedHeaders::from_this_site`].
use super::Principal;
use crate::clock::Clock;
use crate::config::TrustedHeaderConfig;
use crate::domain::RoleMapping;
use crate::domain::{external_id, is_plausible_email, ExternalUser};
use crate::error::{Error, Result};
use crate::store::users::Users;
use axum::extract::{ConnectInfo, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tessera_shared::AuthMethod;

/// `users.source` of accounts created from trusted headers.
pub use crate::domain::TRUSTED_HEADER_SOURCE as SOURCE;
/// Longest header value read, in bytes.
const MAX_VALUE_BYTES: usize = 4096;
/// 403 detail: a request signed in by the proxy's headers that would change
/// something, sent from another site's page.
pub const CROSS_SITE: &str = "Cross-site request refused: a request signed in by the proxy may change something only from this site's own pages (check Origin and Sec-Fetch-Site, and server.public_url)";

/// The configured proxy trust.
pub struct TrustedHeaders {
    proxies: Vec<IpNet>,
    email: HeaderName,
    name: Option<HeaderName>,
    groups: Option<HeaderName>,
    separator: String,
    mapping: RoleMapping,
    create_groups: bool,
    /// The origin of `server.public_url`, when it is set.
    origin: Option<String>,
}

/// The proxy's headers as a way to authenticate: whom they vouch for is
/// found in, or provisioned to, the user directory.
pub struct TrustedHeaderAuthenticator {
    headers: Arc<TrustedHeaders>,
    users: Users,
    clock: Arc<dyn Clock>,
}

impl TrustedHeaderAuthenticator {
    /// Trusts `headers`; accounts live in `users`.
    pub fn new(headers: Arc<TrustedHeaders>, users: Users, clock: Arc<dyn Clock>) -> Self {
        Self {
            headers,
            users,
            clock,
        }
    }

    /// The proxy trust.
    pub fn headers(&self) -> &TrustedHeaders {
        &self.headers
    }

    /// The person a request vouched for by a trusted proxy is; `Ok(None)` when
    /// the peer is not trusted or the email header is absent.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn authenticate(&self, parts: &Parts) -> Result<Option<Principal>> {
        let trusted = peer(parts).is_some_and(|ip| self.headers.is_trusted(ip));
        if !trusted {
            return Ok(None);
        }
        let Some(email) = value(&parts.headers, &self.headers.email) else {
            return Ok(None);
        };
        if !self.headers.from_this_site(parts) {
            return Err(Error::Forbidden(CROSS_SITE));
        }
        let email = email.to_lowercase();
        if !is_plausible_email(&email) {
            return Err(Error::InvalidToken(
                "trusted email header holds no e-mail address",
            ));
        }
        let name = self
            .headers
            .name
            .as_ref()
            .and_then(|h| value(&parts.headers, h))
            .filter(|n| n.chars().count() <= 100 && !n.chars().any(char::is_control))
            .unwrap_or_else(|| email.split('@').next().unwrap_or(&email).to_owned());
        let groups = match self
            .headers
            .groups
            .as_ref()
            .filter(|h| parts.headers.contains_key(*h))
        {
            Some(h) => {
                let mut groups: Vec<String> = value(&parts.headers, h)
                    .unwrap_or_default()
                    .split(self.headers.separator.as_str())
                    .map(str::trim)
                    .filter(|g| !g.is_empty() && !g.chars().any(char::is_control))
                    .map(str::to_owned)
                    .collect();
                groups.sort();
                groups.dedup();
                groups
            }
            // no groups header: keep the groups the account has
            None => match self.users.get(&external_id(SOURCE, &email)).await? {
                Some(user) => user.groups.clone(),
                None => Vec::new(),
            },
        };
        let role = self.headers.mapping.admit(&groups)?;
        let user = self
            .users
            .upsert_external(
                &ExternalUser {
                    source: SOURCE,
                    subject: &email,
                    email: &email,
                    name: &name,
                    role,
                    groups: &groups,
                    create_groups: self.headers.create_groups,
                },
                self.clock.now(),
            )
            .await?;
        Ok(Some(Principal {
            user,
            kind: super::policy::CredentialKind::TrustedHeader,
            method: AuthMethod::TrustedHeader,
            token: "".into(),
            jti: None,
            expires_at: None,
            issuer: None,
            subject: None,
            metadata: None,
            memo: None,
            embed: None,
        }))
    }
}

impl TrustedHeaders {
    /// From the validated config; `public_url`: `server.public_url`, whose
    /// origin state-changing requests must come from.
    pub fn new(config: &TrustedHeaderConfig, public_url: Option<&str>) -> anyhow::Result<Self> {
        let origin = match public_url {
            Some(url) => Some(
                origin_of(url)
                    .ok_or_else(|| anyhow::anyhow!("server.public_url `{url}` has no origin"))?,
            ),
            None => None,
        };
        let header = |name: &str| {
            HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| anyhow::anyhow!("`{name}` is not a header name"))
        };
        Ok(Self {
            proxies: config.trusted_proxies.clone(),
            email: header(&config.email_header)?,
            name: config.name_header.as_deref().map(header).transpose()?,
            groups: config.groups_header.as_deref().map(header).transpose()?,
            separator: config.groups_separator.clone(),
            mapping: config.role_mapping(),
            create_groups: config.create_groups,
            origin,
        })
    }

    /// Whether `ip` is a trusted proxy.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.proxies.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: the TCP peer, or, when the peer is a trusted
    /// proxy, the right-most `X-Forwarded-For` hop that is not itself a
    /// trusted proxy (hops left of it are client-supplied and ignored).
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.is_trusted(client) {
            return client;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                break;
            };
            client = ip.to_canonical();
            if !self.is_trusted(client) {
                break;
            }
        }
        client
    }

    /// Whether the browser lets a request that the proxy signed in do what
    /// it asks. Safe methods always may. Any other needs: `Sec-Fetch-Site`,
    /// when sent, `same-origin` or `none` (the person typed it); `Origin`,
    /// when sent, the origin of `server.public_url`, or, without a public URL,
    /// `http://` or `https://` and the request's `Host`. A header sent twice
    /// fails. Clients that send neither (scripts, `curl`) are not browsers a
    /// page can steer.
    pub fn from_this_site(&self, parts: &Parts) -> bool {
        if parts.method.is_safe() {
            return true;
        }
        let fetch_site = match single(&parts.headers, "sec-fetch-site") {
            Ok(v) => v,
            Err(()) => return false,
        };
        if let Some(v) = fetch_site {
            if !(v == "same-origin" || v == "none") {
                return false;
            }
        }
        let origin = match single(&parts.headers, header::ORIGIN.as_str()) {
            Ok(Some(v)) => v,
            Ok(None) => return true,
            Err(()) => return false,
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let Some(seen) = origin_of(origin) else {
            return false; // `null` (a sandboxed frame, a redirect) and the like
        };
        match &self.origin {
            Some(own) => &seen == own,
            None => {
                let host = parts
                    .headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .or_else(|| parts.uri.authority().map(|a| a.as_str()));
                let scheme = origin.split_once("://").map_or("", |(scheme, _)| scheme);
                host.filter(|h| !h.is_empty() && !h.contains(['/', '\\', '@', '?', '#']))
                    .and_then(|h| origin_of(&format!("{scheme}://{h}")))
                    .is_some_and(|own| own == seen)
            }
        }
    }

    fn identity_headers(&self) -> impl Iterator<Item = &HeaderName> {
        std::iter::once(&self.email)
            .chain(self.name.as_ref())
            .chain(self.groups.as_ref())
    }
}

/// The client's address, when the server knows it: the TCP peer, or, when
/// that peer is a trusted proxy (`[trusted_header] trusted_proxies`), the
/// right-most `X-Forwarded-For` hop that is not one.
pub fn client_ip(trusted: Option<&TrustedHeaders>, parts: &Parts) -> Option<IpAddr> {
    let peer = peer(parts)?;
    Some(match trusted {
        Some(th) => th.client_ip(peer, &parts.headers),
        None => peer,
    })
}

/// The TCP peer of a request, when the server knows it.
pub fn peer(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_canonical())
}

/// The origin (`scheme://host[:port]`, lower case, no default port) of an
/// `http` or `https` URL; `None` for anything else.
fn origin_of(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    let origin = url.origin();
    (matches!(url.scheme(), "http" | "https") && origin.is_tuple())
        .then(|| origin.ascii_serialization())
}

/// The one value of a header: `Ok(None)` when absent, `Err` when repeated.
fn single<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a HeaderValue>, ()> {
    let mut all = headers.get_all(name).iter();
    match (all.next(), all.next()) {
        (v, None) => Ok(v),
        _ => Err(()),
    }
}

/// A header's value, trimmed; `None` when absent, empty, repeated, too long or not UTF-8.
fn value(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let mut all = headers.get_all(name).iter();
    let (Some(v), None) = (all.next(), all.next()) else {
        return None;
    };
    decode(v)
}

fn decode(v: &HeaderValue) -> Option<String> {
    if v.len() > MAX_VALUE_BYTES {
        return None;
    }
    let s = std::str::from_utf8(v.as_bytes()).ok()?.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// Removes the identity headers and `X-Forwarded-For` from a request whose
/// TCP peer is not a trusted proxy, so nothing downstream can read a spoofed
/// one. Called by the edge middleware (`http::edge`).
pub fn strip_untrusted_headers(trusted: Option<&TrustedHeaders>, req: &mut Request) {
    if let Some(th) = trusted {
        let trusted = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .is_some_and(|ConnectInfo(addr)| th.is_trusted(addr.ip()));
        if !trusted {
            let headers = req.headers_mut();
            for name in th.identity_headers() {
                headers.remove(name);
            }
            headers.remove("x-forwarded-for");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn th() -> TrustedHeaders {
        TrustedHeaders::new(
            &TrustedHeaderConfig {
                email_header: "X-Forwarded-Email".into(),
                trusted_proxies: vec!["10.0.0.0/24".parse().unwrap(), "::1/128".parse().unwrap()],
                ..TrustedHeaderConfig::default()
            },
            None,
        )
        .unwrap()
    }

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_read_only_through_trusted_hops() {
        let t = th();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // an untrusted peer's header is ignored
        assert_eq!(
            t.client_ip(ip("192.0.2.9"), &xff("10.0.0.1")),
            ip("192.0.2.9")
        );
        // a trusted proxy: the right-most untrusted hop is the client
        assert_eq!(
            t.client_ip(ip("10.0.0.5"), &xff("1.2.3.4, 198.51.100.7")),
            ip("198.51.100.7"),
            "the spoofable left-most hop is not believed"
        );
        assert_eq!(
            t.client_ip(ip("10.0.0.5"), &xff("198.51.100.7, 10.0.0.6")),
            ip("198.51.100.7"),
            "chained trusted proxies are walked through"
        );
        assert_eq!(
            t.client_ip(ip("10.0.0.5"), &HeaderMap::new()),
            ip("10.0.0.5")
        );
        assert_eq!(
            t.client_ip(ip("10.0.0.5"), &xff("junk, 10.0.0.7")),
            ip("10.0.0.7"),
            "an unparsable hop stops the walk"
        );
        // IPv4-mapped IPv6 peers count as their IPv4 address
        assert!(t.is_trusted(ip("::ffff:10.0.0.3")));
        assert!(t.is_trusted(ip("::1")));
        assert!(!t.is_trusted(ip("10.0.1.1")));
    }

    fn parts(method: &str, headers: &[(&str, &str)]) -> Parts {
        let mut req = axum::http::Request::builder()
            .method(method)
            .uri("/api/v1/auths/api_key");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.body(()).unwrap().into_parts().0
    }

    #[test]
    fn state_changes_must_come_from_this_site() {
        let config = TrustedHeaderConfig {
            email_header: "X-Forwarded-Email".into(),
            ..TrustedHeaderConfig::default()
        };
        let public =
            TrustedHeaders::new(&config, Some("https://Auth.Example.com:443/tessera")).unwrap();
        let by_host = TrustedHeaders::new(&config, None).unwrap();
        let host = ("host", "auth.example.com");
        for t in [&public, &by_host] {
            // safe methods, and clients that are no browser, always may
            assert!(t.from_this_site(&parts(
                "GET",
                &[
                    ("origin", "https://evil.example"),
                    ("sec-fetch-site", "cross-site")
                ]
            )));
            assert!(t.from_this_site(&parts("POST", &[host])));
            // this site's own pages
            assert!(t.from_this_site(&parts(
                "POST",
                &[
                    host,
                    ("origin", "https://auth.example.com"),
                    ("sec-fetch-site", "same-origin")
                ]
            )));
            assert!(t.from_this_site(&parts("DELETE", &[host, ("sec-fetch-site", "none")])));
            // another site, or a sibling, or no origin at all
            for refused in [
                vec![host, ("origin", "https://evil.example")],
                vec![host, ("origin", "https://auth.example.com.evil.example")],
                vec![host, ("origin", "null")],
                vec![
                    host,
                    ("origin", "https://auth.example.com"),
                    ("sec-fetch-site", "cross-site"),
                ],
                vec![host, ("sec-fetch-site", "same-site")],
                vec![
                    host,
                    ("origin", "https://auth.example.com"),
                    ("origin", "https://auth.example.com"),
                ],
            ] {
                assert!(!t.from_this_site(&parts("POST", &refused)), "{refused:?}");
                assert!(!t.from_this_site(&parts("PUT", &refused)), "{refused:?}");
            }
        }
        // the public URL decides, not the Host header
        assert!(!public.from_this_site(&parts(
            "POST",
            &[("host", "evil.example"), ("origin", "https://evil.example")]
        )));
        assert!(!public.from_this_site(&parts(
            "POST",
            &[host, ("origin", "http://auth.example.com")]
        )));
        // without one, the Host header, default ports ignored
        assert!(by_host.from_this_site(&parts(
            "POST",
            &[
                ("host", "auth.example.com:443"),
                ("origin", "https://auth.example.com")
            ]
        )));
        assert!(by_host.from_this_site(&parts(
            "POST",
            &[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8080")
            ]
        )));
        assert!(!by_host.from_this_site(&parts(
            "POST",
            &[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8081")
            ]
        )));
        assert!(
            !by_host.from_this_site(&parts("POST", &[("origin", "http://127.0.0.1:8080")])),
            "no Host"
        );
        assert!(!by_host.from_this_site(&parts(
            "POST",
            &[("host", "a.example/x"), ("origin", "http://a.example")]
        )));
    }

    #[test]
    fn repeated_or_empty_values_are_ignored() {
        let name = HeaderName::from_static("x-forwarded-email");
        let mut h = HeaderMap::new();
        h.insert(&name, " a@b.c ".parse().unwrap());
        assert_eq!(value(&h, &name).as_deref(), Some("a@b.c"));
        h.append(&name, "x@y.z".parse().unwrap());
        assert_eq!(value(&h, &name), None);
        h.insert(&name, "  ".parse().unwrap());
        assert_eq!(value(&h, &name), None);
    }
}
