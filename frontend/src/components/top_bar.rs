//! The frame of the signed-in pages: a top bar with navigation and sign-out,
//! left out in embed mode.
use crate::auth::use_auth;
use crate::components::ExpiryBanner;
use crate::config::use_config;
use crate::injection::use_embed;
use crate::router::A;
use crate::routes::Page;
use crate::tasks::Act;
use leptos::prelude::*;
use tessera_shared::Role;

/// The top bar above a signed-in page's content; in embed mode, the content alone.
#[component]
pub fn Shell(children: Children) -> impl IntoView {
    let embed = use_embed();
    view! {
        <Show when=move || !embed.get()>
            <TopBar />
        </Show>
        <main class="page" class:page-embed=move || embed.get()>
            <ExpiryBanner />
            {children()}
        </main>
    }
}

#[component]
fn TopBar() -> impl IntoView {
    let auth = use_auth();
    let config = use_config();
    let name = config.name();
    let api_keys_enabled = config.api_keys_enabled();
    let sign_out = Act::new(move |_: &()| auth.sign_out());
    let signing_out = sign_out.pending();
    let person = move || auth.user().map(|u| u.name);
    view! {
        <header class="top-bar">
            <div class="top-bar-inner">
                <A href=Page::Dashboard.path() attr:class="brand">
                    <span class="brand-mark" aria-hidden="true"></span>
                    {name}
                </A>
                <nav class="nav" aria-label="Main">
                    <A href=Page::Dashboard.path()>"Dashboard"</A>
                    <Show when=move || {
                        api_keys_enabled.get()
                            && auth.user().is_some_and(|u| u.role != Role::Pending)
                    }>
                        <A href=Page::ApiKey.path() attr:id="nav-api-key">
                            "API key"
                        </A>
                    </Show>
                    <Show when=move || auth.is_admin()>
                        <A href=Page::Users.path() attr:id="nav-users">
                            "Users"
                        </A>
                        <A href=Page::Inspector.path() attr:id="nav-inspector">
                            "Token inspector"
                        </A>
                        <A href=Page::SecuritySettings.path() attr:id="nav-settings">
                            "Settings"
                        </A>
                    </Show>
                </nav>
                <div class="top-bar-user">
                    <span class="top-bar-name">{person}</span>
                    <button
                        id="signout"
                        class="button button-quiet"
                        disabled=move || signing_out.get()
                        on:click=move |_| {
                            sign_out.dispatch(());
                        }
                    >
                        {move || if signing_out.get() { "Signing out…" } else { "Sign out" }}
                    </button>
                </div>
            </div>
        </header>
    }
}

/// A role as a coloured label.
#[component]
pub fn RoleBadge(role: Role) -> impl IntoView {
    view! { <span class=format!("badge badge-{role}")>{role.as_str()}</span> }
}
