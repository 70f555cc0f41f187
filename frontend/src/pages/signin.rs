//! The sign-in form, and the LDAP one when the server offers it.
use super::LeaveWhenSignedIn;
use crate::api;
use crate::auth::use_auth;
use crate::components::{AuthCard, ErrorMessage, Notice};
use crate::config::use_config;
use crate::routes::Page;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_router::components::A;
use tessera_shared::{LdapForm, SigninForm};

/// Email and password; links to sign-up when it is offered.
#[component]
pub fn SignIn() -> impl IntoView {
    let auth = use_auth();
    let config = use_config();
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let submit = Action::new_local(move |form: &SigninForm| {
        let form = form.clone();
        async move {
            let user = api::signin(&form).await?;
            auth.sign_in(user);
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
        submit.dispatch_local(SigninForm {
            email: email.get_untracked(),
            password: password.get_untracked(),
        });
    };
    let signup_hint = move || {
        config.get().and_then(Result::ok).map(|c| {
            if c.first_user {
                view! {
                    <p class="hint" id="first-user-hint">
                        "No account exists yet. "
                        <A href=Page::SignUp.path() attr:id="signup-link">"Create the first account"</A>
                        " — it becomes the administrator."
                    </p>
                }
                .into_any()
            } else if c.signup_enabled {
                view! {
                    <p class="hint">
                        "New here? "
                        <A href=Page::SignUp.path() attr:id="signup-link">"Create an account"</A>
                    </p>
                }
                .into_any()
            } else {
                ().into_any()
            }
        })
    };
    view! {
        <LeaveWhenSignedIn />
        <AuthCard title="Sign in">
            {move || {
                auth.notice()
                    .filter(|_| submit.value().with(Option::is_none))
                    .map(|message| {
                        view! { <Notice message=message warning=auth.notice_is_refusal() /> }
                    })
            }}
            <form class="form" on:submit=on_submit>
                <label for="email">"Email"</label>
                <input
                    id="email"
                    name="email"
                    type="email"
                    autocomplete="username"
                    required
                    bind:value=email
                />
                <label for="password">"Password"</label>
                <input
                    id="password"
                    name="password"
                    type="password"
                    autocomplete="current-password"
                    required
                    bind:value=password
                />
                {error}
                <button
                    id="signin-submit"
                    type="submit"
                    class="button button-primary button-wide"
                    disabled=move || pending.get()
                >
                    {move || if pending.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
            <Show when=move || config.ldap_enabled().get()>
                <LdapSignIn />
            </Show>
            {signup_hint}
        </AuthCard>
    }
}

/// Directory user name and password (`POST /api/v1/auths/ldap`).
#[component]
fn LdapSignIn() -> impl IntoView {
    let auth = use_auth();
    let user = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let submit = Action::new_local(move |form: &LdapForm| {
        let form = form.clone();
        async move {
            let user = api::ldap_signin(&form).await?;
            auth.sign_in(user);
            Ok::<_, api::Error>(())
        }
    });
    let pending = submit.pending();
    let error = move || {
        submit
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| view! { <ErrorMessage message=e.to_string() id="ldap-error" /> })
    };
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        submit.dispatch_local(LdapForm {
            user: user.get_untracked(),
            password: password.get_untracked(),
        });
    };
    view! {
        <form class="form" id="ldap-form" on:submit=on_submit>
            <p class="hint">"Or with your directory (LDAP) account:"</p>
            <label for="ldap-user">"User name"</label>
            <input
                id="ldap-user"
                name="ldap-user"
                type="text"
                autocomplete="username"
                required
                bind:value=user
            />
            <label for="ldap-password">"Password"</label>
            <input
                id="ldap-password"
                name="ldap-password"
                type="password"
                autocomplete="current-password"
                required
                bind:value=password
            />
            {error}
            <button
                id="ldap-submit"
                type="submit"
                class="button button-wide"
                disabled=move || pending.get()
            >
                {move || if pending.get() { "Signing in…" } else { "Sign in with LDAP" }}
            </button>
        </form>
    }
}
