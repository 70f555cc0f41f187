//! The root component: contexts and the router.
use crate::auth::{provide_auth, use_auth};
use crate::components::SessionCheck;
use crate::config::provide_config;
use crate::injection::{check_at_start, listen_to_parent, provide_embed};
use crate::pages::{
    ApiKey, Dashboard, Home, Inspector, NotFound, OauthComplete, SecuritySettings, SecurityTest,
    SignIn, SignUp, Users,
};
use crate::routes::{self, Page, SIGN_IN_ALIAS};
use leptos::prelude::*;
use leptos_router::components::{ProtectedRoute, Route, Router, Routes};
use leptos_router::hooks::use_location;
use leptos_router::StaticSegment;

/// The whole app.
#[component]
pub fn App() -> impl IntoView {
    let config = provide_config();
    provide_embed(config);
    let auth = provide_auth();
    check_at_start(auth, config);
    listen_to_parent(auth, config);
    view! {
        <Router>
            <AppRoutes />
        </Router>
    }
}

#[component]
fn AppRoutes() -> impl IntoView {
    let auth = use_auth();
    let location = use_location();
    let signed_in = move || auth.signed_in();
    // The sign-in page, remembering the protected page to come back to.
    let to_sign_in = move || {
        let here = location.pathname.get_untracked();
        let query = location.search.get_untracked();
        if query.is_empty() {
            routes::sign_in_then(&here)
        } else {
            routes::sign_in_then(&format!("{here}?{}", query.trim_start_matches('?')))
        }
    };
    view! {
        <Routes fallback=NotFound>
            <Route path=StaticSegment("") view=Home />
            <Route path=one(Page::SignIn) view=SignIn />
            <Route path=StaticSegment(SIGN_IN_ALIAS) view=SignIn />
            <Route path=one(Page::SignUp) view=SignUp />
            <Route path=two(Page::OauthComplete) view=OauthComplete />
            <Route path=three(Page::SecurityTest) view=SecurityTest />
            <ProtectedRoute
                path=one(Page::Dashboard)
                view=Dashboard
                condition=signed_in
                redirect_path=to_sign_in
                fallback=SessionCheck
            />
            <ProtectedRoute
                path=one(Page::ApiKey)
                view=ApiKey
                condition=signed_in
                redirect_path=to_sign_in
                fallback=SessionCheck
            />
            <ProtectedRoute
                path=one(Page::Inspector)
                view=Inspector
                condition=signed_in
                redirect_path=to_sign_in
                fallback=SessionCheck
            />
            <ProtectedRoute
                path=one(Page::Users)
                view=Users
                condition=signed_in
                redirect_path=to_sign_in
                fallback=SessionCheck
            />
            <ProtectedRoute
                path=two(Page::SecuritySettings)
                view=SecuritySettings
                condition=signed_in
                redirect_path=to_sign_in
                fallback=SessionCheck
            />
        </Routes>
    }
}

type Segment = StaticSegment<&'static str>;

fn segment(page: Page, i: usize) -> Segment {
    StaticSegment(page.segments().get(i).copied().unwrap_or_default())
}

fn one(page: Page) -> Segment {
    segment(page, 0)
}

fn two(page: Page) -> (Segment, Segment) {
    (segment(page, 0), segment(page, 1))
}

fn three(page: Page) -> (Segment, Segment, Segment) {
    (segment(page, 0), segment(page, 1), segment(page, 2))
}
