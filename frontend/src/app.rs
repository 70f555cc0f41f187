//! The root component: contexts and the routes.
use crate::auth::{provide_auth, use_auth};
use crate::components::{EmbedWaiting, SessionCheck};
use crate::config::provide_config;
use crate::injection::{check_at_start, listen_to_parent, provide_embed};
use crate::pages::{
    ApiKey, Dashboard, Home, Inspector, NotFound, OauthComplete, SecuritySettings, SecurityTest,
    SignIn, SignUp, Users,
};
use crate::router::{provide_location, redirect, use_location};
use crate::routes::{self, Page, SIGN_IN_ALIAS};
use leptos::prelude::*;

/// The whole app.
#[component]
pub fn App() -> impl IntoView {
    let config = provide_config();
    provide_embed(config);
    let auth = provide_auth();
    let parent = check_at_start(auth, config);
    listen_to_parent(auth, parent);
    provide_location();
    view! { <AppRoutes /> }
}

/// The page at the current path; a page is built anew only when another one
/// is shown (`/signin` counts as another page than `/login`), not when the
/// query changes.
#[component]
fn AppRoutes() -> impl IntoView {
    let location = use_location();
    let route = Memo::new(move |_| {
        location.path.with(|path| {
            let alias = path[1..].starts_with(SIGN_IN_ALIAS);
            Page::at(path).map(|page| (page, alias))
        })
    });
    move || {
        let Some((page, _)) = route.get() else {
            return view! { <NotFound /> }.into_any();
        };
        match page {
            Page::Home => view! { <Home /> }.into_any(),
            Page::SignIn => view! { <SignIn /> }.into_any(),
            Page::SignUp => view! { <SignUp /> }.into_any(),
            Page::OauthComplete => view! { <OauthComplete /> }.into_any(),
            Page::SecurityTest => view! { <SecurityTest /> }.into_any(),
            Page::Dashboard => protected(|| view! { <Dashboard /> }.into_any()),
            Page::ApiKey => protected(|| view! { <ApiKey /> }.into_any()),
            Page::Inspector => protected(|| view! { <Inspector /> }.into_any()),
            Page::Users => protected(|| view! { <Users /> }.into_any()),
            Page::SecuritySettings => protected(|| view! { <SecuritySettings /> }.into_any()),
        }
    }
}

/// A page for the signed-in: "Checking your session…" until that is known,
/// then the page, or the sign-in page remembering this one (in a frame
/// whose embed session ended, only that it waits for the embedding page). Built anew when
/// someone else signs in or the role changes, not when the same person's
/// token is renewed (what they typed stays).
fn protected(page: fn() -> AnyView) -> AnyView {
    let auth = use_auth();
    let location = use_location();
    let session = Memo::new(move |_| (auth.signed_in(), auth.user().map(|u| (u.id, u.role))));
    (move || match session.get().0 {
        Some(true) => page(),
        Some(false) if auth.waiting_for_parent() => view! { <EmbedWaiting /> }.into_any(),
        Some(false) => {
            let here = location.path.get_untracked();
            let query = location.search.get_untracked();
            redirect(&if query.is_empty() {
                routes::sign_in_then(&here)
            } else {
                routes::sign_in_then(&format!("{here}?{query}"))
            });
            ().into_any()
        }
        None => view! { <SessionCheck /> }.into_any(),
    })
    .into_any()
}
