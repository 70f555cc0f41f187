//! Every client-side route, named once.

/// A page of the SPA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// `/`: sends people to the dashboard or the sign-in page.
    Home,
    /// The sign-in form.
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
}

impl Page {
    /// The absolute path of the page. Each page but `Home` is one segment, so
    /// the router matches it with `StaticSegment(page.path())`.
    pub const fn path(self) -> &'static str {
        match self {
            Page::Home => "/",
            Page::SignIn => "/login",
            Page::SignUp => "/signup",
            Page::Dashboard => "/dashboard",
            Page::Users => "/users",
            Page::ApiKey => "/api-key",
            Page::Inspector => "/inspector",
        }
    }
}
