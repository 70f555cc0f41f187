//! `/`: forwards to the dashboard or to the sign-in page.
use crate::auth::use_auth;
use crate::components::SessionCheck;
use crate::routes::Page;
use leptos::prelude::*;
use leptos_router::components::Redirect;

/// Redirects according to whether someone is signed in.
#[component]
pub fn Home() -> impl IntoView {
    let auth = use_auth();
    move || match auth.signed_in() {
        Some(true) => view! { <Redirect path=Page::Dashboard.path() /> }.into_any(),
        Some(false) => view! { <Redirect path=Page::SignIn.path() /> }.into_any(),
        None => view! { <SessionCheck /> }.into_any(),
    }
}
