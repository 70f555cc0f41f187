//! `/oauth/complete`: where the SSO callback lands the browser with a
//! one-time code in the fragment. The code is taken out of the address bar
//! at once and exchanged for a session, stored like a password sign-in's.
use crate::api;
use crate::auth::use_auth;
use crate::components::{AuthCard, Loading};
use crate::router::use_location;
use crate::routes::Page;
use crate::url;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsValue;

/// Shown on the sign-in page when `/oauth/complete` carries no code (a
/// reload, or the back button).
pub const NO_CODE: &str =
    "The single sign-on hand-over was incomplete or already used. Please sign in again.";

/// Shown when the server has no hand-over endpoint.
const NOT_OFFERED: &str = "This server does not offer single sign-on (404 Not found).";

/// Exchanges the fragment's code, then goes to `next` or the dashboard; on
/// failure, to the sign-in page with the reason.
#[component]
pub fn OauthComplete() -> impl IntoView {
    let auth = use_auth();
    let location = use_location();
    let completion = take_fragment();
    spawn_local(async move {
        let navigate = |to: &str| location.navigate(to, true);
        let Some(code) = completion.code else {
            auth.sign_in_failed(NO_CODE);
            return navigate(Page::SignIn.path());
        };
        match api::oauth_complete(code).await {
            Ok(user) => {
                auth.sign_in(user);
                let next = completion
                    .next
                    .unwrap_or_else(|| Page::Dashboard.path().to_owned());
                navigate(&next);
            }
            Err(api::Error::Api { status: 404, .. }) => {
                auth.sign_in_failed(NOT_OFFERED);
                navigate(Page::SignIn.path());
            }
            Err(e) => {
                auth.sign_in_failed(e.to_string());
                navigate(Page::SignIn.path());
            }
        }
    });
    view! {
        <AuthCard title="Signing you in">
            <Loading label="Completing single sign-on…" />
        </AuthCard>
    }
}

/// Reads `#code=...&next=...` and replaces the history entry with the bare path.
fn take_fragment() -> url::Completion {
    let location = window().location();
    let hash = location.hash().unwrap_or_default();
    let completion = url::completion(&hash);
    if !hash.is_empty() {
        let path = location
            .pathname()
            .unwrap_or_else(|_| Page::OauthComplete.path().to_owned());
        let replaced = window()
            .history()
            .and_then(|h| h.replace_state_with_url(&JsValue::NULL, "", Some(&path)));
        if replaced.is_err() {
            leptos::logging::warn!("could not remove the code from the address bar");
        }
    }
    completion
}
