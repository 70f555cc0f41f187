//! Any path the SPA does not know.
use crate::components::AuthCard;
use crate::router::A;
use crate::routes::Page;
use leptos::prelude::*;

/// "Page not found" with a way back.
#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <AuthCard title="Page not found">
            <p class="muted">"There is nothing at this address."</p>
            <p>
                <A href=Page::Home.path()>"Go to the start page"</A>
            </p>
        </AuthCard>
    }
}
