//! The centred card that frames the sign-in and sign-up pages.
use crate::config::use_config;
use leptos::prelude::*;

/// A centred card under the product name.
#[component]
pub fn AuthCard(
    /// The card's heading.
    title: &'static str,
    children: Children,
) -> impl IntoView {
    let name = use_config().name();
    view! {
        <main class="auth-screen">
            <div class="auth-card">
                <p class="brand brand-large">
                    <span class="brand-mark" aria-hidden="true"></span>
                    {name}
                </p>
                <h1>{title}</h1>
                {children()}
            </div>
        </main>
    }
}
