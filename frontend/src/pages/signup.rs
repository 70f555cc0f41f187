//! The sign-up form.
use super::LeaveWhenSignedIn;
use crate::api;
use crate::auth::use_auth;
use crate::components::{AuthCard, ErrorList, ErrorMessage, Loading};
use crate::config::use_config;
use crate::routes::Page;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_router::components::A;
use tessera_shared::{PublicConfig, SignupForm};

/// Name, email and password; explains when sign-up is closed.
#[component]
pub fn SignUp() -> impl IntoView {
    let config = use_config();
    let page = move || {
        Suspend::new(async move {
            config.load().await.map(|c| {
                if c.first_user || c.signup_enabled {
                    view! { <SignupForm config=c /> }.into_any()
                } else {
                    view! {
                        <p class="muted" id="signup-closed">
                            "Sign-up is closed. Ask an administrator for an account."
                        </p>
                    }
                    .into_any()
                }
            })
        })
    };
    view! {
        <LeaveWhenSignedIn />
        <AuthCard title="Create an account">
            <Transition fallback=|| view! { <Loading /> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>{page}</ErrorBoundary>
            </Transition>
            <p class="hint">
                "Already have an account? "
                <A href=Page::SignIn.path() attr:id="signin-link">"Sign in"</A>
            </p>
        </AuthCard>
    }
}

#[component]
fn SignupForm(config: PublicConfig) -> impl IntoView {
    let auth = use_auth();
    let shared_config = use_config();
    let name = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let submit = Action::new_local(move |form: &SignupForm| {
        let form = form.clone();
        async move {
            let user = api::signup(&form).await?;
            auth.sign_in(user);
            shared_config.refetch();
            Ok::<_, api::Error>(())
        }
    });
    let pending = submit.pending();
    let error = move || {
        submit
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| view! { <ErrorMessage message=e.to_string() /> })
    };
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        submit.dispatch_local(SignupForm {
            name: name.get_untracked(),
            email: email.get_untracked(),
            password: password.get_untracked(),
        });
    };
    view! {
        {config
            .first_user
            .then(|| {
                view! {
                    <p class="alert alert-info" id="first-user-hint">
                        "You are creating the first account: it becomes the administrator."
                    </p>
                }
            })}
        <form class="form" on:submit=on_submit>
            <label for="name">"Name"</label>
            <input id="name" name="name" type="text" autocomplete="name" required bind:value=name />
            <label for="email">"Email"</label>
            <input
                id="email"
                name="email"
                type="email"
                autocomplete="email"
                required
                bind:value=email
            />
            <label for="password">"Password"</label>
            <input
                id="password"
                name="password"
                type="password"
                autocomplete="new-password"
                required
                bind:value=password
            />
            {error}
            <button
                id="signup-submit"
                type="submit"
                class="button button-primary button-wide"
                disabled=move || pending.get()
            >
                {move || if pending.get() { "Creating account…" } else { "Create account" }}
            </button>
        </form>
    }
}
