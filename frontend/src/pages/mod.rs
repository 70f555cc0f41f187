//! One module per page of the SPA.
mod api_key;
mod dashboard;
mod home;
mod inspector;
mod not_found;
mod signin;
mod signup;
mod users;

pub use api_key::ApiKey;
pub use dashboard::Dashboard;
pub use home::Home;
pub use inspector::Inspector;
pub use not_found::NotFound;
pub use signin::SignIn;
pub use signup::SignUp;
pub use users::Users;

use crate::auth::use_auth;
use crate::routes::Page;
use leptos::prelude::*;
use leptos_router::components::Redirect;

/// Sends a signed-in person from an auth page to the dashboard.
#[component]
fn LeaveWhenSignedIn() -> impl IntoView {
    let auth = use_auth();
    move || {
        (auth.signed_in() == Some(true)).then(|| view! { <Redirect path=Page::Dashboard.path() /> })
    }
}
