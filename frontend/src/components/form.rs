//! The pieces every form repeats: a labelled input bound to a signal, the
//! submit button that shows it is busy, the failure of the last attempt, and
//! the card that keeps admin pages from everyone else.
use super::{ErrorMessage, Shell};
use crate::api;
use crate::auth::use_auth;
use crate::tasks::Act;
use leptos::prelude::*;

/// A required, labelled input; `id` is also its `name`.
#[component]
pub fn Field(
    id: &'static str,
    label: &'static str,
    /// The input's `type`.
    #[prop(default = "text")]
    kind: &'static str,
    autocomplete: &'static str,
    value: RwSignal<String>,
) -> impl IntoView {
    view! {
        <label for=id>{label}</label>
        <input id=id name=id type=kind autocomplete=autocomplete required bind:value=value />
    }
}

/// A form's full-width submit button, disabled and saying `busy` while the
/// request is pending.
#[component]
pub fn SubmitButton(
    id: &'static str,
    label: &'static str,
    busy: &'static str,
    #[prop(into)] pending: Signal<bool>,
    /// The page's main action.
    #[prop(optional)]
    primary: bool,
) -> impl IntoView {
    let class = if primary {
        "button button-primary button-wide"
    } else {
        "button button-wide"
    };
    view! {
        <button id=id type="submit" class=class disabled=move || pending.get()>
            {move || if pending.get() { busy } else { label }}
        </button>
    }
}

/// The error of an action's last run, shown where the form shows errors.
pub fn action_error<I: 'static, O: Send + Sync + 'static>(
    action: Act<I, Result<O, api::Error>>,
    id: &'static str,
) -> impl Fn() -> Option<AnyView> + Copy {
    move || {
        action
            .value()
            .with(|v| {
                v.as_ref()
                    .and_then(|r| r.as_ref().err())
                    .map(|e| e.to_string())
            })
            .map(|message| view! { <ErrorMessage message id /> }.into_any())
    }
}

/// The page for admins; everyone else sees `title` and `refusal`.
#[component]
pub fn AdminOnly(
    title: &'static str,
    refusal: &'static str,
    children: ChildrenFn,
) -> impl IntoView {
    let auth = use_auth();
    view! {
        <Shell>
            <Show
                when=move || auth.is_admin()
                fallback=move || {
                    view! {
                        <section class="card">
                            <h1>{title}</h1>
                            <ErrorMessage message=refusal />
                        </section>
                    }
                }
            >
                {children()}
            </Show>
        </Shell>
    }
}
