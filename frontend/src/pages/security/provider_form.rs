//! The form that adds or edits one SSO provider, with its "Test" button.
use super::draft::Draft;
use super::explain::explain;
use super::fieldsets::{
    AccountsFieldset, ClaimsFieldset, ClientFieldset, ProviderFieldset, RolesFieldset,
};
use super::test_popup::{listen_for_report, start_test, Test, TestOutcome};
use crate::api;
use crate::auth::use_auth;
use crate::components::ErrorMessage;
use crate::tasks::Act;
use leptos::ev;
use leptos::prelude::*;
use tessera_shared::OidcProviderSettings;

/// Adds a provider (`new`) or edits one; `on_saved` gets what the server stored.
#[component]
pub(super) fn ProviderForm(
    settings: OidcProviderSettings,
    new: bool,
    on_saved: Callback<OidcProviderSettings>,
    on_close: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let auth = use_auth();
    let draft = Draft::new(&settings);
    let loaded = StoredValue::new(settings.clone());
    let secret_set = settings.client_secret_set;
    let save = Act::new(move |s: &OidcProviderSettings| {
        let s = s.clone();
        async move {
            let saved = auth.api()?.save_oidc_provider(&s).await.map_err(explain)?;
            on_saved.run(saved);
            Ok::<_, api::Error>(())
        }
    });
    let saving = save.pending();
    let save_error = move || {
        save.value()
            .get()
            .and_then(Result::err)
            .map(|e| view! { <ErrorMessage message=e.to_string() id="oidc-form-error" /> })
    };
    let on_submit = move |e: ev::SubmitEvent| {
        e.prevent_default();
        save.dispatch(loaded.with_value(|l| draft.settings(l)));
    };

    let test = RwSignal::new(Test::Idle);
    listen_for_report(test);
    let on_test = move |_| start_test(auth, loaded.with_value(|l| draft.settings(l)), test);
    let testing = move || matches!(test.get(), Test::Starting);

    let title = if new {
        "Add a provider".to_owned()
    } else {
        format!("Edit “{}”", settings.name)
    };
    let from_file = (settings.source == "config").then(|| {
        view! {
            <p class="alert alert-info" id="oidc-from-file">
                "These settings come from the config file. Saving stores them in the database, where they take precedence over the file."
            </p>
        }
    });
    view! {
        <section class="card" id="oidc-editor">
            <h2>{title}</h2>
            {from_file}
            <form class="form settings-form" id="oidc-form" on:submit=on_submit>
                <ProviderFieldset draft new />
                <ClientFieldset draft secret_set />
                <ClaimsFieldset draft />
                <RolesFieldset draft />
                <AccountsFieldset draft />
                {save_error}
                <div class="actions">
                    <button id="oidc-save" type="submit" class="button button-primary" disabled=move || saving.get()>
                        {move || if saving.get() { "Saving…" } else { "Save" }}
                    </button>
                    <button id="oidc-test" type="button" class="button button-quiet" disabled=testing on:click=on_test>
                        {move || if testing() { "Testing…" } else { "Test" }}
                    </button>
                    <button id="oidc-cancel" type="button" class="button button-quiet" on:click=move |_| on_close()>
                        "Close"
                    </button>
                </div>
                <p class="field-note">
                    "Test runs discovery and a sign-in round trip in a popup with these settings, unsaved: nobody is signed in and nothing is stored."
                </p>
            </form>
            <TestOutcome test />
        </section>
    }
}
