//! The "Test" round trip as the settings page sees it: where it stands, the
//! popup's report arriving by `postMessage`, and the outcome below the form.
use super::explain::explain;
use crate::auth::Auth;
use crate::components::Loading;
use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use tessera_shared::{OidcProviderSettings, OidcTestReport};

/// The `type` of the message the test popup posts to the settings page.
pub(super) const TEST_MESSAGE: &str = "tessera-oidc-test";

/// The popup's window name: a second test reuses the window.
const POPUP_NAME: &str = "tessera-oidc-test";

/// Where the "Test" round trip stands.
#[derive(Clone, PartialEq)]
pub(super) enum Test {
    Idle,
    /// Discovery is running.
    Starting,
    /// The popup is at the provider.
    Waiting {
        issuer: String,
    },
    Failed(String),
    Done(OidcTestReport),
}

/// Listens for the popup's `{type: "tessera-oidc-test", report}` from this origin.
pub(super) fn listen_for_report(test: RwSignal<Test>) {
    let origin = window().location().origin().unwrap_or_default();
    let handle = window_event_listener(ev::message, move |e: web_sys::MessageEvent| {
        if e.origin() != origin {
            return;
        }
        let data = e.data();
        if !data.is_object() {
            return;
        }
        let field = |name: &str| js_sys::Reflect::get(&data, &name.into()).ok();
        if field("type").and_then(|t| t.as_string()).as_deref() != Some(TEST_MESSAGE) {
            return;
        }
        let report = field("report")
            .and_then(|r| js_sys::JSON::stringify(&r).ok())
            .and_then(|s| s.as_string())
            .and_then(|s| serde_json::from_str::<OidcTestReport>(&s).ok());
        match report {
            Some(report) => test.set(Test::Done(report)),
            None => test.set(Test::Failed(
                "The test window sent an unreadable report.".into(),
            )),
        }
        // The report renders below the long form: bring it into view.
        request_animation_frame(|| {
            if let Some(outcome) = document().get_element_by_id("oidc-test-outcome") {
                outcome.scroll_into_view();
            }
        });
    });
    on_cleanup(move || handle.remove());
}

/// Runs the "Test" round trip with `settings`, unsaved: opens the popup,
/// has the server run discovery, then sends the popup to the provider;
/// `test` follows where it stands.
pub(super) fn start_test(auth: Auth, settings: OidcProviderSettings, test: RwSignal<Test>) {
    // Opened now, while the click still counts as a user gesture (else
    // the browser blocks it); it goes to the provider once discovery works.
    let popup = window()
        .open_with_url_and_target_and_features("", POPUP_NAME, "popup,width=560,height=720")
        .ok()
        .flatten();
    test.set(Test::Starting);
    spawn_local(async move {
        let started = match auth.api() {
            Ok(api) => api.test_oidc_provider(&settings).await.map_err(explain),
            Err(e) => Err(e),
        };
        match (started, popup) {
            (Ok(started), Some(popup)) => {
                if popup.location().set_href(&started.login_url).is_err() {
                    test.set(Test::Failed(
                        "Could not open the provider in the popup.".into(),
                    ));
                } else {
                    test.set(Test::Waiting {
                        issuer: started.issuer,
                    });
                }
            }
            (Ok(_), None) => test.set(Test::Failed(
                "The browser blocked the popup: allow popups for this site and test again.".into(),
            )),
            (Err(e), popup) => {
                if let Some(popup) = popup {
                    let _ = popup.close();
                }
                test.set(Test::Failed(e.to_string()));
            }
        }
    });
}

#[component]
pub(super) fn TestOutcome(test: RwSignal<Test>) -> impl IntoView {
    let outcome = move || {
        match test.get() {
        Test::Idle => ().into_any(),
        Test::Starting => view! { <Loading label="Running discovery…" /> }.into_any(),
        Test::Waiting { issuer } => view! {
            <p class="alert alert-info" id="oidc-test-waiting" role="status">
                {format!("Discovery found the issuer {issuer}. Sign in at the provider in the popup window; the result appears here.")}
            </p>
        }
        .into_any(),
        Test::Failed(reason) => view! {
            <p class="alert alert-error" id="oidc-test-error" role="alert">
                {format!("Test failed: {reason}")}
            </p>
        }
        .into_any(),
        Test::Done(report) => view! { <TestReport report /> }.into_any(),
    }
    };
    view! { <div id="oidc-test-outcome">{outcome}</div> }
}

/// The outcome of a test round trip.
#[component]
pub(super) fn TestReport(report: OidcTestReport) -> impl IntoView {
    let verdict = if report.ok {
        view! {
            <p class="alert alert-success" id="oidc-test-verdict" data-ok="true" role="status">
                {format!("Sign-in would succeed: {}", report.detail)}
            </p>
        }
        .into_any()
    } else {
        view! {
            <p class="alert alert-error" id="oidc-test-verdict" data-ok="false" role="alert">
                {format!("Sign-in would fail: {}", report.detail)}
            </p>
        }
        .into_any()
    };
    let role = report
        .role
        .map(|r| r.as_str().to_owned())
        .unwrap_or_else(|| "—".to_owned());
    let groups = if report.groups.is_empty() {
        "none".to_owned()
    } else {
        report.groups.join(", ")
    };
    let claims = serde_json::to_string_pretty(&report.claims).unwrap_or_default();
    view! {
        <div class="report" id="oidc-test-report">
            <h2>"Test result"</h2>
            {verdict}
            <dl class="facts">
                <dt>"Role"</dt>
                <dd id="oidc-test-role">{role}</dd>
                <dt>"Groups"</dt>
                <dd id="oidc-test-groups">{groups}</dd>
            </dl>
            <h3>"Claims"</h3>
            <pre class="json" id="oidc-test-claims">{claims}</pre>
        </div>
    }
}
