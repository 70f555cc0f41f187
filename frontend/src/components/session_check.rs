//! What protected pages show while a stored session is being checked, and
//! in a frame whose embed session is over.
use crate::auth::{use_auth, Check};
use crate::components::{AuthCard, ErrorMessage, Loading, Notice};
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

/// In a frame whose embed session ended or whose ticket was refused: why,
/// and nothing of the data, until the embedding page sends a new ticket.
#[component]
pub fn EmbedWaiting() -> impl IntoView {
    let auth = use_auth();
    view! {
        <AuthCard title="Waiting for the embedding page">
            {move || {
                let message = auth.notice().unwrap_or_default();
                view! { <Notice message id="embed-waiting" warning=auth.notice_is_refusal() /> }
            }}
        </AuthCard>
    }
}
