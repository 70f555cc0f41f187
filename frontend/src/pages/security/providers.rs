//! The Security settings page: the list of SSO providers, with their edit
//! and delete buttons; the form of the one being edited opens below it.
use super::choices::kind_label;
use super::explain::explain;
use super::provider_form::ProviderForm;
use crate::api;
use crate::auth::use_auth;
use crate::components::{AdminOnly, ErrorMessage, Loading, Notice};
use crate::tasks::{Act, Load};
use leptos::prelude::*;
use tessera_shared::OidcProviderSettings;

/// The SSO provider settings, or a refusal for non-admins.
#[component]
pub fn SecuritySettings() -> impl IntoView {
    view! {
        <AdminOnly title="Security" refusal="Only admins can change the security settings.">
            <Providers />
        </AdminOnly>
    }
}

/// The provider being edited: its settings as loaded, and whether it is new.
type Editing = Option<(OidcProviderSettings, bool)>;

#[component]
fn Providers() -> impl IntoView {
    let auth = use_auth();
    let list =
        Load::new(move || async move { auth.api()?.oidc_providers().await.map_err(explain) });
    let editing = RwSignal::new(None::<(OidcProviderSettings, bool)>);
    let status = RwSignal::new(None::<String>);
    let confirming = RwSignal::new(None::<String>);
    let delete = Act::new(move |name: &String| {
        let name = name.clone();
        async move {
            let result = match auth.api() {
                Ok(api) => api.delete_oidc_provider(&name).await.map_err(explain),
                Err(e) => Err(e),
            };
            confirming.set(None);
            if result.is_ok() {
                status.set(Some(format!("Deleted the settings of “{name}”.")));
                if editing.with_untracked(|e| e.as_ref().is_some_and(|(s, _)| s.name == name)) {
                    editing.set(None);
                }
                list.refetch();
            }
            result
        }
    });
    let deleting = delete.pending();
    let delete_error = move || {
        delete
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| view! { <ErrorMessage message=e.to_string() id="oidc-delete-error" /> })
    };
    let on_saved = Callback::new(move |saved: OidcProviderSettings| {
        status.set(Some(format!(
            "Saved “{}”. It applies to the next sign-in.",
            saved.name
        )));
        editing.set(Some((saved, false)));
        list.refetch();
    });
    let form = move || {
        editing.get().map(|(settings, new)| {
            view! { <ProviderForm settings new on_saved on_close=move || editing.set(None) /> }
        })
    };
    view! {
        <section class="card">
            <div class="card-head">
                <h1>"Single sign-on providers"</h1>
                <button
                    id="oidc-add"
                    class="button button-primary"
                    on:click=move |_| {
                        status.set(None);
                        editing.set(Some((OidcProviderSettings::default(), true)));
                    }
                >
                    "Add provider"
                </button>
            </div>
            <p class="muted">
                "Each provider is a “Continue with …” button on the sign-in page. Changes apply to the next sign-in; nobody is signed out."
            </p>
            {move || status.get().map(|message| view! { <Notice message id="oidc-status" /> })}
            {delete_error}
            <ProviderTable list editing confirming deleting delete />
            <p class="hint hint-left">
                "Deleting a provider that is also in the config file restores the file’s settings. If a provider is misconfigured anyway, the bootstrap admin can sign in at "
                <a href="/login?backup=1" rel="external">
                    <code>"/login?backup=1"</code>
                </a> "."
            </p>
        </section>
        {form}
    }
}

/// The providers as a table, or why there is none to show.
#[component]
fn ProviderTable(
    list: Load<api::Result<Vec<OidcProviderSettings>>>,
    editing: RwSignal<Editing>,
    confirming: RwSignal<Option<String>>,
    deleting: Memo<bool>,
    delete: Act<String, api::Result<()>>,
) -> impl IntoView {
    move || {
        let providers = match list.get() {
            None => return view! { <Loading label="Loading providers…" /> }.into_any(),
            Some(Err(e)) => {
                return view! { <ErrorMessage message=e.to_string() id="load-error" /> }.into_any()
            }
            Some(Ok(providers)) => providers,
        };
        if providers.is_empty() {
            return view! {
                <p class="muted" id="oidc-none">
                    "No single sign-on provider yet: people sign in with a password only."
                </p>
            }
            .into_any();
        }
        let rows = providers
            .into_iter()
            .map(|p| view! { <ProviderRow provider=p editing confirming deleting delete /> })
            .collect_view();
        view! {
            <div class="table-wrap">
                <table class="table" id="oidc-provider-list">
                    <thead>
                        <tr>
                            <th scope="col">"Name"</th>
                            <th scope="col">"Button"</th>
                            <th scope="col">"Kind"</th>
                            <th scope="col">"Source"</th>
                            <th scope="col">"Client secret"</th>
                            <th scope="col">
                                <span class="visually-hidden">"Actions"</span>
                            </th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    }
}

#[component]
fn ProviderRow(
    provider: OidcProviderSettings,
    editing: RwSignal<Editing>,
    confirming: RwSignal<Option<String>>,
    deleting: Memo<bool>,
    delete: Act<String, api::Result<()>>,
) -> impl IntoView {
    let name = provider.name.clone();
    let is_confirming = {
        let name = name.clone();
        move || confirming.with(|c| c.as_deref() == Some(name.as_str()))
    };
    let from_file = provider.source == "config";
    let edit = {
        let provider = provider.clone();
        move |_| editing.set(Some((provider.clone(), false)))
    };
    let actions = {
        let name = name.clone();
        move || {
            let name = name.clone();
            if is_confirming() {
                let target = name.clone();
                view! {
                    <span class="row-actions">
                        <span class="small">{format!("Delete “{name}”?")}</span>
                        <button
                            class="button button-danger"
                            data-test="confirm-delete"
                            disabled=move || deleting.get()
                            on:click=move |_| {
                                delete.dispatch(target.clone());
                            }
                        >
                            "Delete"
                        </button>
                        <button class="button button-quiet" on:click=move |_| confirming.set(None)>
                            "Cancel"
                        </button>
                    </span>
                }
                .into_any()
            } else {
                let remove = (!from_file).then(|| {
                    view! {
                        <button
                            class="button button-quiet"
                            data-test="delete-provider"
                            on:click=move |_| confirming.set(Some(name.clone()))
                        >
                            "Delete"
                        </button>
                    }
                });
                view! {
                    <span class="row-actions">
                        <button class="button button-quiet" data-test="edit-provider" on:click=edit.clone()>
                            "Edit"
                        </button>
                        {remove}
                    </span>
                }
                .into_any()
            }
        }
    };
    let source = if from_file { "config file" } else { "settings" };
    let secret = if provider.client_secret_set {
        "stored"
    } else {
        "none"
    };
    view! {
        <tr data-test="oidc-provider-row" data-provider=name>
            <td>
                <code>{provider.name.clone()}</code>
            </td>
            <td>{provider.display_name.clone()}</td>
            <td>{kind_label(provider.kind)}</td>
            <td>
                <span class="source">{source}</span>
            </td>
            <td data-test="secret">{secret}</td>
            <td class="cell-actions">{actions}</td>
        </tr>
    }
}
