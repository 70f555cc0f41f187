//! What protected pages show while a stored session is being checked.
use crate::auth::{use_auth, Check};
use crate::components::{ErrorMessage, Loading};
use leptos::prelude::*;

/// "Checking your session…", or why the check failed with a way to retry.
#[component]
pub fn SessionCheck() -> impl IntoView {
    let auth = use_auth();
    move || match auth.check() {
        Check::Failed(reason) => view! {
            <main class="auth-screen">
                <div class="auth-card">
                    <h1>"Can't check your session"</h1>
                    <ErrorMessage message=reason />
                    <button class="button button-primary" on:click=move |_| auth.retry()>
                        "Try again"
                    </button>
                </div>
            </main>
        }
        .into_any(),
        Check::Pending | Check::Done => view! {
            <main class="auth-screen">
                <Loading label="Checking your session…" />
            </main>
        }
        .into_any(),
    }
}
