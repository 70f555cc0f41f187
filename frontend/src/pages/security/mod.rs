//! Admins only: Settings › Security — the SSO providers (list, add, edit,
//! delete) and the "Test" round trip in a popup before saving; and the
//! popup's landing page, which reports back to the settings page.
mod choices;
mod draft;
mod explain;
mod fieldsets;
mod provider_form;
mod providers;
mod test_landing;
mod test_popup;

pub use providers::SecuritySettings;
pub use test_landing::SecurityTest;
