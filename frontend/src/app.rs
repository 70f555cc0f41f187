//! The root component: contexts and the router.
use crate::auth::{provide_auth, use_auth};
use crate::components::SessionCheck;
use crate::config::provide_config;
use crate::injection::{listen_to_parent, provide_embed};
use crate::pages::{ApiKey, Dashboard, Home, Inspector, NotFound, SignIn, SignUp, Users};
use crate::routes::Page;
use leptos::prelude::*;
use leptos_router::components::{ProtectedRoute, Route, Router, Routes};
use leptos_router::StaticSegment;

/// The whole app.
#[component]
pub fn App() -> impl IntoView {
    let config = provide_config();
    provide_embed(config);
    let auth = provide_auth();
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
    let signed_in = move || auth.signed_in();
    let to_sign_in = || Page::SignIn.path();
    view! {
        <Routes fallback=NotFound>
            <Route path=StaticSegment("") view=Home />
            <Route path=StaticSegment(Page::SignIn.path()) view=SignIn />
            <Route path=StaticSegment(Page::SignUp.path()) view=SignUp />
            <ProtectedRoute
                path=StaticSegment(Page::Dashboard.path())
                view=Dashboard
                condition=signed_in
                redirect_path=to_sign_in
                fallback=SessionCheck
            />
            <ProtectedRoute
                path=StaticSegment(Page::ApiKey.path())
                view=ApiKey
                condition=signed_in
                redirect_path=to_sign_in
                fallback=SessionCheck
            />
            <ProtectedRoute
                path=StaticSegment(Page::Inspector.path())
                view=Inspector
                condition=signed_in
                redirect_path=to_sign_in
                fallback=SessionCheck
            />
            <ProtectedRoute
                path=StaticSegment(Page::Users.path())
                view=Users
                condition=signed_in
                redirect_path=to_sign_in
                fallback=SessionCheck
            />
        </Routes>
    }
}
