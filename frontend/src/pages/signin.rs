//! The sign-in page: one button per SSO provider, the e-mail and password
//! form (unless password sign-in is off and this is not `/login?backup=1`),
//! and the LDAP form when the server offers it.
use super::LeaveWhenSignedIn;
use crate::api;
use crate::auth::use_auth;
use crate::components::{
    action_error, AuthCard, ErrorMessage, Field, Loading, Notice, SubmitButton,
};
use crate::config::use_config;
use crate::router::{use_location, A};
use crate::routes::{Page, SIGN_IN_ALIAS};
use crate::tasks::Act;
use crate::url;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use tessera_shared::{routes, LdapForm, OidcProviderLink, PublicConfig, SessionUser, SigninForm};
use wasm_bindgen::JsValue;

/// SSO buttons, then e-mail and password; links to sign-up when it is offered.
#[component]
pub fn SignIn() -> impl IntoView {
    let auth = use_auth();
    let config = use_config();
    if let Some(reason) = take_error_from_url() {
        auth.sign_in_failed(reason);
    }
    let location = use_location();
    let backup = Memo::new(move |_| location.query("backup").as_deref() == Some("1"));
    let next = Memo::new(move |_| {
        location
            .query("next")
            .filter(|n| url::local_path(n).is_some())
    });
    let body = move || match config.get() {
        None => view! { <Loading /> }.into_any(),
        Some(loaded) => {
            // Without the configuration, offer the password form as before.
            let c = loaded.unwrap_or_else(|_| fallback_config());
            view! { <Methods config=c backup=backup.get() next=next.get() /> }.into_any()
        }
    };
    view! {
        <LeaveWhenSignedIn />
        <AuthCard title="Sign in">
            {move || {
                auth.sign_in_error()
                    .map(|message| view! { <ErrorMessage message id="signin-error" /> })
            }}
            {move || {
                auth.notice()
                    .map(|message| {
                        view! { <Notice message=message warning=auth.notice_is_refusal() /> }
                    })
            }}
            {body}
        </AuthCard>
    }
}

/// What the configuration offers: SSO buttons, "or", the password form, LDAP, sign-up.
#[component]
fn Methods(config: PublicConfig, backup: bool, next: Option<String>) -> impl IntoView {
    let password = config.password_signin || backup;
    let backup_note = (backup && !config.password_signin).then(|| {
        view! {
            <p class="alert alert-info" id="backup-note">
                "Backup sign-in: for the bootstrap administrator while single sign-on is not working."
            </p>
        }
    });
    let signup = config.password_signin.then(|| signup_hint(&config));
    let providers = config.oidc_providers;
    let has_sso = !providers.is_empty();
    let buttons = has_sso.then(|| {
        let buttons = providers
            .into_iter()
            .map(|p| view! { <ProviderButton provider=p next=next.clone() /> })
            .collect_view();
        view! { <div class="sso-buttons" id="oidc-providers">{buttons}</div> }
    });
    let others = password || config.ldap_enabled;
    let divider = (has_sso && others).then(|| {
        view! {
            <div class="divider" role="separator">
                <span>"or"</span>
            </div>
        }
    });
    let nothing = (!has_sso && !others).then(|| {
        view! {
            <p class="muted" id="no-signin-method">
                "Password sign-in is disabled and no single sign-on provider is configured. Ask an administrator."
            </p>
        }
    });
    view! {
        {backup_note}
        {buttons}
        {divider}
        {password.then(|| view! { <PasswordSignIn /> })}
        {config.ldap_enabled.then(|| view! { <LdapSignIn with_password=password /> })}
        {nothing}
        {signup}
    }
}

/// "Continue with …": a full page load of `/oauth/{name}/login`, with the
/// page to return to.
#[component]
fn ProviderButton(provider: OidcProviderLink, next: Option<String>) -> impl IntoView {
    let mut href = routes::oauth_login(&url::encode(&provider.name));
    if let Some(next) = next {
        href.push_str("?next=");
        href.push_str(&url::encode(&next));
    }
    view! {
        <a
            class="button button-quiet button-wide button-sso"
            id=format!("oidc-{}", provider.name)
            data-test="oidc-provider"
            data-provider=provider.name
            href=href
            rel="external"
        >
            {format!("Continue with {}", provider.display_name)}
        </a>
    }
}

/// A sign-in form's state: who (e-mail or user name) and password, and the
/// action that posts them and signs in with the answer.
struct SignInForm {
    who: RwSignal<String>,
    password: RwSignal<String>,
    submit: Act<(String, String), Result<(), api::Error>>,
}

impl SignInForm {
    /// Posts with `post(who, password)`.
    fn new<Fut>(post: fn(String, String) -> Fut) -> Self
    where
        Fut: std::future::Future<Output = Result<SessionUser, api::Error>> + 'static,
    {
        let auth = use_auth();
        let submit = Act::new(move |(who, password): &(String, String)| {
            let answer = post(who.clone(), password.clone());
            async move {
                auth.sign_in(answer.await?);
                Ok::<_, api::Error>(())
            }
        });
        Self {
            who: RwSignal::new(String::new()),
            password: RwSignal::new(String::new()),
            submit,
        }
    }

    /// The form's submit handler: posts what was typed.
    fn on_submit(&self) -> impl Fn(SubmitEvent) + 'static {
        let (who, password, submit) = (self.who, self.password, self.submit);
        let auth = use_auth();
        move |ev: SubmitEvent| {
            ev.prevent_default();
            auth.attempt_started();
            submit.dispatch((who.get_untracked(), password.get_untracked()));
        }
    }
}

/// E-mail and password (`POST /api/v1/auths/signin`).
#[component]
fn PasswordSignIn() -> impl IntoView {
    let form = SignInForm::new(|email, password| async move {
        api::signin(&SigninForm { email, password }).await
    });
    let (email, password, submit) = (form.who, form.password, form.submit);
    let error = action_error(submit, "error");
    let on_submit = form.on_submit();
    view! {
        <form class="form" id="signin-form" on:submit=on_submit>
            <Field id="email" label="Email" kind="email" autocomplete="username" value=email />
            <Field
                id="password"
                label="Password"
                kind="password"
                autocomplete="current-password"
                value=password
            />
            {error}
            <SubmitButton
                id="signin-submit"
                label="Sign in"
                busy="Signing in…"
                pending=submit.pending()
                primary=true
            />
        </form>
    }
}

fn signup_hint(config: &PublicConfig) -> AnyView {
    if config.first_user {
        view! {
            <p class="hint" id="first-user-hint">
                "No account exists yet. "
                <A href=Page::SignUp.path() attr:id="signup-link">"Create the first account"</A>
                " — it becomes the administrator."
            </p>
        }
        .into_any()
    } else if config.signup_enabled {
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
}

/// The configuration assumed when `/api/config` cannot be read: the password
/// form alone, as before single sign-on existed.
fn fallback_config() -> PublicConfig {
    PublicConfig {
        name: String::new(),
        signup_enabled: false,
        first_user: false,
        api_keys_enabled: false,
        ldap_enabled: false,
        injection_exchange: false,
        injection_query_param: false,
        injection_expired_redirect: None,
        embed_allowed_origins: Vec::new(),
        embed_always: false,
        oidc_providers: Vec::new(),
        password_signin: true,
        ui_expiry_warning_secs: 0,
        ui_session_check_secs: 0,
    }
}

/// Reads `?error=<reason>` (the SSO callback's failure) and removes it from
/// the address bar and the history entry at once; other parameters stay.
fn take_error_from_url() -> Option<String> {
    let location = window().location();
    let path = location.pathname().ok()?;
    let here = path == Page::SignIn.path() || path.strip_prefix('/') == Some(SIGN_IN_ALIAS);
    if !here {
        return None;
    }
    let search = location.search().unwrap_or_default();
    let reason = url::param(&search, "error")?;
    let rest = url::without(&search, &["error"]);
    let mut clean = path;
    if !rest.is_empty() {
        clean.push('?');
        clean.push_str(&rest);
    }
    let replaced = window()
        .history()
        .and_then(|h| h.replace_state_with_url(&JsValue::NULL, "", Some(&clean)));
    if replaced.is_err() {
        leptos::logging::warn!("could not remove the error from the address bar");
    }
    let reason = reason.trim().to_owned();
    Some(if reason.is_empty() {
        "Single sign-on failed.".to_owned()
    } else {
        reason
    })
}

/// Directory user name and password (`POST /api/v1/auths/ldap`).
#[component]
fn LdapSignIn(with_password: bool) -> impl IntoView {
    let form = SignInForm::new(|user, password| async move {
        api::ldap_signin(&LdapForm { user, password }).await
    });
    let (user, password, submit) = (form.who, form.password, form.submit);
    let error = action_error(submit, "ldap-error");
    let on_submit = form.on_submit();
    let lead = if with_password {
        "or with your directory (LDAP) account"
    } else {
        "with your directory (LDAP) account"
    };
    view! {
        <form class="form" id="ldap-form" on:submit=on_submit>
            <div class="divider" role="separator">
                <span>{lead}</span>
            </div>
            <Field id="ldap-user" label="User name" autocomplete="username" value=user />
            <Field
                id="ldap-password"
                label="Password"
                kind="password"
                autocomplete="current-password"
                value=password
            />
            {error}
            <SubmitButton
                id="ldap-submit"
                label="Sign in with LDAP"
                busy="Signing in…"
                pending=submit.pending()
            />
        </form>
    }
}
