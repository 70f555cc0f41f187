//! One module per page of the SPA.
mod api_key;
mod dashboard;
mod home;
mod inspector;
mod not_found;
mod oauth_complete;
mod security;
mod signin;
mod signup;
mod users;

pub use api_key::ApiKey;
pub use dashboard::Dashboard;
pub use home::Home;
pub use inspector::Inspector;
pub use not_found::NotFound;
pub use oauth_complete::OauthComplete;
pub use security::{SecuritySettings, SecurityTest};
pub use signin::SignIn;
pub use signup::SignUp;
pub use users::Users;

use crate::auth::use_auth;
use crate::router::{redirect, use_location};
use crate::routes::Page;
use crate::url;
use leptos::prelude::*;

/// Sends a signed-in person from an auth page to `?next=` (when it is a
/// local path) or the dashboard.
#[component]
fn LeaveWhenSignedIn() -> impl IntoView {
    let auth = use_auth();
    let location = use_location();
    move || {
        if auth.signed_in() == Some(true) {
            let next = location
                .query_untracked("next")
                .filter(|n| url::local_path(n).is_some())
                .unwrap_or_else(|| Page::Dashboard.path().to_owned());
            redirect(&next);
        }
    }
}
