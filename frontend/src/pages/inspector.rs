//! Admins only: the token inspector — paste an IdP token, see which issuer
//! matched, each check with its outcome and reason, and the header and
//! claims (never the signature).
use crate::auth::use_auth;
use crate::components::{ErrorMessage, Shell};
use crate::tasks::Act;
use leptos::prelude::*;
use serde_json::{Map, Value};
use tessera_shared::{InspectForm, InspectReport};

/// The token inspector page.
#[component]
pub fn Inspector() -> impl IntoView {
    let auth = use_auth();
    let token = RwSignal::new(String::new());
    let inspect = Act::new(move |form: &InspectForm| {
        let form = form.clone();
        async move { auth.api()?.inspect(&form).await }
    });
    let busy = inspect.pending();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let token = token.get_untracked().trim().to_owned();
        if !token.is_empty() {
            inspect.dispatch(InspectForm { token });
        }
    };
    let outcome = move || match inspect.value().get() {
        Some(Ok(report)) => view! { <ReportView report /> }.into_any(),
        Some(Err(e)) => view! { <ErrorMessage message=e.to_string() /> }.into_any(),
        None => ().into_any(),
    };
    view! {
        <Shell>
            <section class="card">
                <h1>"Token inspector"</h1>
                <Show
                    when=move || auth.is_admin()
                    fallback=|| view! { <ErrorMessage message="Only admins can inspect tokens." /> }
                >
                    <p class="muted">
                        "Paste a token from your identity provider to see which trusted issuer it matches and why it is accepted or refused. The token is checked, not stored."
                    </p>
                    <form class="form" on:submit=submit>
                        <label for="inspect-token">"Token"</label>
                        <textarea
                            id="inspect-token"
                            class="token-input"
                            rows="5"
                            spellcheck="false"
                            autocomplete="off"
                            placeholder="eyJhbGciOi…"
                            prop:value=move || token.get()
                            on:input=move |ev| token.set(event_target_value(&ev))
                        ></textarea>
                        <div class="actions">
                            <button
                                id="inspect-submit"
                                class="button button-primary"
                                type="submit"
                                disabled=move || busy.get() || token.with(|t| t.trim().is_empty())
                            >
                                {move || if busy.get() { "Inspecting…" } else { "Inspect" }}
                            </button>
                        </div>
                    </form>
                    {outcome}
                </Show>
            </section>
        </Shell>
    }
}

#[component]
fn ReportView(report: InspectReport) -> impl IntoView {
    let verdict = if report.valid {
        view! { <p id="inspect-verdict" class="alert alert-success" role="status">"Accepted: every check passed."</p> }
            .into_any()
    } else {
        let failed: Vec<&str> = report
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name.as_str())
            .collect();
        let failed = failed.join(", ");
        view! {
            <p id="inspect-verdict" class="alert alert-error" role="alert">
                {format!("Refused. Failed: {failed}.")}
            </p>
        }
        .into_any()
    };
    let issuer = report
        .issuer
        .clone()
        .unwrap_or_else(|| "none matched".to_owned());
    let rows = report
        .checks
        .into_iter()
        .map(|check| {
            let class = if check.ok { "check-ok" } else { "check-failed" };
            let name = check.name.clone();
            view! {
                <tr data-test="check" data-check=name data-ok=check.ok.to_string()>
                    <td>
                        <span class=class>{if check.ok { "✓ pass" } else { "✗ fail" }}</span>
                    </td>
                    <td>
                        <code>{check.name}</code>
                    </td>
                    <td>{check.reason.unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="report" id="inspect-report">
            {verdict}
            <dl class="facts">
                <dt>"Issuer"</dt>
                <dd id="inspect-issuer">{issuer}</dd>
            </dl>
            <div class="table-wrap">
                <table class="table" id="inspect-checks">
                    <thead>
                        <tr>
                            <th scope="col">"Result"</th>
                            <th scope="col">"Check"</th>
                            <th scope="col">"Reason"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            <h2>"Header"</h2>
            <pre class="json" id="inspect-header">{pretty(report.header)}</pre>
            <h2>"Claims"</h2>
            <pre class="json" id="inspect-claims">{pretty(report.claims)}</pre>
        </div>
    }
}

fn pretty(part: Option<Map<String, Value>>) -> String {
    part.map(|m| serde_json::to_string_pretty(&Value::Object(m)).unwrap_or_default())
        .unwrap_or_else(|| "(could not be decoded)".to_owned())
}
