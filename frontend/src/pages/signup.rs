//! The sign-up form.
use super::LeaveWhenSignedIn;
use crate::api;
use crate::auth::use_auth;
use crate::components::{action_error, AuthCard, ErrorMessage, Field, Loading, SubmitButton};
use crate::config::use_config;
use crate::router::A;
use crate::routes::Page;
use crate::tasks::Act;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use tessera_shared::{PublicConfig, SignupForm};

/// Name, email and password; explains when sign-up is closed.
#[component]
pub fn SignUp() -> impl IntoView {
    let config = use_config();
    let page = move || match config.get() {
        None => view! { <Loading /> }.into_any(),
        Some(Err(e)) => view! { <ErrorMessage message=e.to_string() id="load-error" /> }.into_any(),
        Some(Ok(c)) if c.first_user || c.signup_enabled => {
            view! { <SignupForm config=c /> }.into_any()
        }
        Some(Ok(_)) => view! {
            <p class="muted" id="signup-closed">
                "Sign-up is closed. Ask an administrator for an account."
            </p>
        }
        .into_any(),
    };
    view! {
        <LeaveWhenSignedIn />
        <AuthCard title="Create an account">
            {page}
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
    let submit = Act::new(move |form: &SignupForm| {
        let form = form.clone();
        async move {
            let user = api::signup(&form).await?;
            auth.sign_in(user);
            shared_config.refetch();
            Ok::<_, api::Error>(())
        }
    });
    let error = action_error(submit, "error");
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        submit.dispatch(SignupForm {
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
            <Field id="name" label="Name" autocomplete="name" value=name />
            <Field id="email" label="Email" kind="email" autocomplete="email" value=email />
            <Field
                id="password"
                label="Password"
                kind="password"
                autocomplete="new-password"
                value=password
            />
            {error}
            <SubmitButton
                id="signup-submit"
                label="Create account"
                busy="Creating account…"
                pending=submit.pending()
                primary=true
            />
        </form>
    }
}
