//! Admins only: Settings › Security — the SSO providers (list, add, edit,
//! delete) and the "Test" round trip in a popup before saving; and the
//! popup's landing page, which reports back to the settings page.
mod choices;
mod draft;
mod fieldsets;
mod provider_form;
mod providers;
mod test_landing;
mod test_popup;

pub use test_landing::SecurityTest;

use crate::api;
use crate::components::AdminOnly;
use leptos::prelude::*;
use providers::Providers;

/// The `type` of the message the test popup posts to the settings page.
const TEST_MESSAGE: &str = "tessera-oidc-test";

/// The SSO provider settings, or a refusal for non-admins.
#[component]
pub fn SecuritySettings() -> impl IntoView {
    view! {
        <AdminOnly title="Security" refusal="Only admins can change the security settings.">
            <Providers />
        </AdminOnly>
    }
}

/// Readable words for the settings endpoints' failures: a server without
/// them answers 404.
fn explain(e: api::Error) -> api::Error {
    match e {
        api::Error::Api {
            status: status @ (404 | 405),
            detail,
        } => api::Error::Api {
            status,
            detail: format!(
                "This server does not offer single sign-on settings ({status} {detail}). Is it a version without SSO support?"
            ),
        },
        e => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_endpoints_are_explained() {
        let e = explain(api::Error::Api {
            status: 404,
            detail: "Not found".into(),
        });
        assert!(e
            .to_string()
            .contains("does not offer single sign-on settings"));
        let other = api::Error::Api {
            status: 422,
            detail: "discovery_url: required".into(),
        };
        assert_eq!(explain(other.clone()), other);
    }
}
