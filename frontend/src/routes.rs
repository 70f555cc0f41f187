//! Every client-side route, named once.
use crate::url;

/// A page of the SPA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// `/`: sends people to the dashboard or the sign-in page.
    Home,
    /// The sign-in form and the SSO buttons (also at [`SIGN_IN_ALIAS`]).
    SignIn,
    /// The sign-up form.
    SignUp,
    /// The signed-in person and their token.
    Dashboard,
    /// Admins only: every user and their role.
    Users,
    /// The person's API key: create, inspect, revoke.
    ApiKey,
    /// Admins only: why an IdP token is accepted or refused.
    Inspector,
    /// Where the SSO callback lands the browser (`#code=...&next=...`).
    OauthComplete,
    /// Admins only: Settings › Security, the SSO providers.
    SecuritySettings,
    /// The popup's landing page after a provider test round trip (`#code=...`).
    SecurityTest,
}

/// `/signin`: the same page as [`Page::SignIn`]; the SSO callback sends
/// failures here (`?error=<reason>`).
pub const SIGN_IN_ALIAS: &str = "signin";

impl Page {
    /// The absolute path of the page.
    pub const fn path(self) -> &'static str {
        match self {
            Page::Home => "/",
            Page::SignIn => "/login",
            Page::SignUp => "/signup",
            Page::Dashboard => "/dashboard",
            Page::Users => "/users",
            Page::ApiKey => "/api-key",
            Page::Inspector => "/inspector",
            Page::OauthComplete => "/oauth/complete",
            Page::SecuritySettings => "/settings/security",
            Page::SecurityTest => "/settings/security/test",
        }
    }

    /// The page at `path` (one trailing `/` allowed; `/signin` is the
    /// sign-in page), or `None`.
    pub fn at(path: &str) -> Option<Page> {
        let path = match path.strip_suffix('/') {
            Some(trimmed) if !trimmed.is_empty() => trimmed,
            _ => path,
        };
        if path.strip_prefix('/') == Some(SIGN_IN_ALIAS) {
            return Some(Page::SignIn);
        }
        ALL.into_iter().find(|page| page.path() == path)
    }
}

const ALL: [Page; 10] = [
    Page::Home,
    Page::SignIn,
    Page::SignUp,
    Page::Dashboard,
    Page::Users,
    Page::ApiKey,
    Page::Inspector,
    Page::OauthComplete,
    Page::SecuritySettings,
    Page::SecurityTest,
];

/// The sign-in page, remembering `next` (a local path) to return to
/// afterwards; the dashboard and `/` need no reminder.
pub fn sign_in_then(next: &str) -> String {
    match url::local_path(next) {
        Some(next) if next != Page::Dashboard.path() && next != Page::Home.path() => {
            format!("{}?next={}", Page::SignIn.path(), url::encode(next))
        }
        _ => Page::SignIn.path().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_is_at_its_path() {
        for page in ALL {
            assert_eq!(Page::at(page.path()), Some(page), "{page:?}");
            let slash = format!("{}/", page.path());
            assert_eq!(Page::at(&slash), Some(page), "{page:?}");
        }
        assert_eq!(Page::at("/signin"), Some(Page::SignIn));
        assert_eq!(Page::at("/signin/"), Some(Page::SignIn));
    }

    #[test]
    fn other_paths_are_no_page() {
        for path in [
            "/LOGIN",
            "//login",
            "/login//",
            "/%6Cogin",
            "/api-key/extra",
            "/settings//security",
            "/settings/security/x",
            "/settings",
        ] {
            assert_eq!(Page::at(path), None, "{path}");
        }
    }

    #[test]
    fn sign_in_remembers_local_pages_only() {
        assert_eq!(sign_in_then("/users"), "/login?next=%2Fusers");
        assert_eq!(
            sign_in_then("/settings/security"),
            "/login?next=%2Fsettings%2Fsecurity"
        );
        assert_eq!(sign_in_then("/dashboard"), "/login");
        assert_eq!(sign_in_then("/"), "/login");
        assert_eq!(sign_in_then("//evil.example"), "/login");
    }
}
