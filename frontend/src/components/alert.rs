//! Loading, notice and error messages.
use leptos::prelude::*;

/// A failed request: the server's `detail` or the network error.
#[component]
pub fn ErrorMessage(
    /// What went wrong, in words for the person using the app.
    #[prop(into)]
    message: String,
    /// The element id; `error` unless a page shows several kinds of error.
    #[prop(default = "error")]
    id: &'static str,
) -> impl IntoView {
    view! {
        <p id=id class="alert alert-error" role="alert">
            {message}
        </p>
    }
}

/// Information that is not an error; a warning when `warning` is set.
#[component]
pub fn Notice(
    #[prop(into)] message: String,
    #[prop(default = "notice")] id: &'static str,
    #[prop(optional)] warning: bool,
) -> impl IntoView {
    let class = if warning {
        "alert alert-warning"
    } else {
        "alert alert-info"
    };
    view! {
        <p id=id class=class role="status">
            {message}
        </p>
    }
}

/// Something is on its way.
#[component]
pub fn Loading(#[prop(default = "Loading…")] label: &'static str) -> impl IntoView {
    view! {
        <p class="loading" role="status" aria-live="polite">
            <span class="spinner" aria-hidden="true"></span>
            {label}
        </p>
    }
}
