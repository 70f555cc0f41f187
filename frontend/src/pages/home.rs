//! `/`: forwards to the dashboard or to the sign-in page.
use crate::auth::use_auth;
use crate::components::SessionCheck;
use crate::router::redirect;
use crate::routes::Page;
use leptos::prelude::*;

/// Redirects according to whether someone is signed in.
#[component]
pub fn Home() -> impl IntoView {
    let auth = use_auth();
    move || match auth.signed_in() {
        Some(true) => {
            redirect(Page::Dashboard.path());
            ().into_any()
        }
        Some(false) => {
            redirect(Page::SignIn.path());
            ().into_any()
        }
        None => view! { <SessionCheck /> }.into_any(),
    }
}
