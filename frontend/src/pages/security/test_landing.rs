//! The test popup's landing page: fetches the round trip's report and hands
//! it to the settings page that opened the popup.
use super::test_popup::{TestReport, TEST_MESSAGE};
use crate::api;
use crate::auth::{use_auth, Auth};
use crate::components::{ErrorMessage, Loading};
use crate::url;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::json;
use tessera_shared::OidcTestReport;
use wasm_bindgen::{JsCast, JsValue};

/// `/settings/security/test`: the popup's landing page. Takes the code out
/// of the address bar, fetches the report with the admin's session (shared
/// with the settings page through `localStorage`), shows it and posts it to
/// the settings page that opened the popup.
#[component]
pub fn SecurityTest() -> impl IntoView {
    let auth = use_auth();
    let code = take_code();
    let result = RwSignal::new(None::<api::Result<OidcTestReport>>);
    spawn_local(async move {
        let report = fetch_report(auth, code).await;
        if let Ok(report) = &report {
            tell_opener(report);
        }
        result.set(Some(report));
    });
    let body = move || match result.get() {
        None => view! { <Loading label="Fetching the test result…" /> }.into_any(),
        Some(Ok(report)) => view! { <TestReport report /> }.into_any(),
        Some(Err(e)) => {
            view! { <ErrorMessage message=e.to_string() id="oidc-test-error" /> }.into_any()
        }
    };
    view! {
        <main class="page">
            <section class="card">
                <h1>"Provider test"</h1>
                {body}
                <div class="actions">
                    <button class="button button-quiet" id="close-window" on:click=|_| {
                        let _ = window().close();
                    }>"Close this window"</button>
                </div>
            </section>
        </main>
    }
}

/// The report of the round trip that ended with `code`, with the admin's session.
async fn fetch_report(auth: Auth, code: Option<String>) -> api::Result<OidcTestReport> {
    let code = code.ok_or_else(|| api::Error::Api {
        status: 400,
        detail: "There is no test result in this address (it may have been used already). Run the test again from Settings › Security.".into(),
    })?;
    let api = auth.api().map_err(|_| api::Error::Api {
        status: 401,
        detail: "Sign in as an admin in this browser, then run the test again.".into(),
    })?;
    api.oidc_test_result(code).await
}

/// Reads `#code=...` and replaces the history entry with the bare path.
fn take_code() -> Option<String> {
    let location = window().location();
    let hash = location.hash().unwrap_or_default();
    if hash.is_empty() {
        return None;
    }
    let code = url::param(&hash, "code").filter(|c| !c.is_empty());
    let path = location.pathname().unwrap_or_default();
    let replaced = window()
        .history()
        .and_then(|h| h.replace_state_with_url(&JsValue::NULL, "", Some(&path)));
    if replaced.is_err() {
        leptos::logging::warn!("could not remove the code from the address bar");
    }
    code
}

/// Posts the report to the window that opened this one, addressed to this
/// origin only.
fn tell_opener(report: &OidcTestReport) {
    let Ok(opener) = window().opener() else {
        return;
    };
    if opener.is_null() || opener.is_undefined() {
        return;
    }
    let opener: web_sys::Window = opener.unchecked_into();
    let Ok(origin) = window().location().origin() else {
        return;
    };
    let message = json!({ "type": TEST_MESSAGE, "report": report }).to_string();
    let Ok(message) = js_sys::JSON::parse(&message) else {
        return;
    };
    if opener.post_message(&message, &origin).is_err() {
        leptos::logging::warn!("could not hand the test result to the settings page");
    }
}
