//! The form that adds or edits one SSO provider, with its "Test" button.
use super::choices::{kind_from, kind_label, kind_value, response_mode_from, KINDS, ROLES};
use super::draft::Draft;
use super::explain;
use super::test_popup::{listen_for_report, Test, TestOutcome, POPUP_NAME};
use crate::api;
use crate::auth::use_auth;
use crate::components::ErrorMessage;
use crate::url;
use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use tessera_shared::{OidcProviderSettings, ProviderKind, ResponseMode, Role};

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
    let save = Action::new_local(move |s: &OidcProviderSettings| {
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
        save.dispatch_local(loaded.with_value(|l| draft.settings(l)));
    };

    let test = RwSignal::new(Test::Idle);
    listen_for_report(test);
    let on_test = move |_| {
        let settings = loaded.with_value(|l| draft.settings(l));
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
                    "The browser blocked the popup: allow popups for this site and test again."
                        .into(),
                )),
                (Err(e), popup) => {
                    if let Some(popup) = popup {
                        let _ = popup.close();
                    }
                    test.set(Test::Failed(e.to_string()));
                }
            }
        });
    };
    let testing = move || matches!(test.get(), Test::Starting);

    let origin = window().location().origin().unwrap_or_default();
    let redirect_uri = move || {
        let name = draft.name.get();
        let name = name.trim();
        if name.is_empty() {
            format!("{origin}/oauth/{{name}}/callback")
        } else {
            format!("{origin}/oauth/{}/callback", url::encode(name))
        }
    };
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
    let discovery_placeholder = Signal::derive(move || {
        match draft.kind.get() {
            ProviderKind::Oidc => {
                "https://idp.example.com/realms/main/.well-known/openid-configuration"
            }
            ProviderKind::Google => {
                "derived: https://accounts.google.com/.well-known/openid-configuration"
            }
            ProviderKind::Entra => "derived from the tenant",
            ProviderKind::Github => "not used for GitHub",
        }
        .to_owned()
    });
    let secret_placeholder = if secret_set {
        "stored — leave empty to keep"
    } else {
        ""
    };
    view! {
        <section class="card" id="oidc-editor">
            <h2>{title}</h2>
            {from_file}
            <form class="form settings-form" id="oidc-form" on:submit=on_submit>
                <fieldset>
                    <legend>"Provider"</legend>
                    <div class="field-grid">
                        <TextField
                            id="oidc-name"
                            label="Name"
                            value=draft.name
                            placeholder="keycloak"
                            hint="In the paths: lower-case letters, digits, - and _."
                            readonly=!new
                            required=true
                            pattern="[a-z0-9_\\-]{1,40}"
                        />
                        <TextField
                            id="oidc-display-name"
                            label="Button label"
                            value=draft.display_name
                            placeholder="Keycloak"
                            hint="Shown as “Continue with …”."
                            required=true
                        />
                        <div class="field">
                            <label for="oidc-kind">"Kind"</label>
                            <select
                                id="oidc-kind"
                                on:change=move |e| draft.kind.set(kind_from(&event_target_value(&e)))
                            >
                                {KINDS
                                    .map(|k| {
                                        view! {
                                            <option value=kind_value(k) selected=move || draft.kind.get() == k>
                                                {kind_label(k)}
                                            </option>
                                        }
                                    })}
                            </select>
                        </div>
                        {move || {
                            (draft.kind.get() == ProviderKind::Entra)
                                .then(|| {
                                    view! {
                                        <TextField
                                            id="oidc-tenant"
                                            label="Tenant (directory) id"
                                            value=draft.tenant
                                            placeholder="00000000-0000-0000-0000-000000000000"
                                        />
                                    }
                                })
                        }}
                        <TextField
                            id="oidc-discovery-url"
                            label="Discovery URL"
                            value=draft.discovery_url
                            placeholder=discovery_placeholder
                            wide=true
                            input_type="url"
                        />
                    </div>
                    <p class="field-note">
                        "Register this redirect URI at the provider: "
                        <code id="oidc-redirect-uri">{redirect_uri}</code>
                    </p>
                </fieldset>
                <fieldset>
                    <legend>"Client"</legend>
                    <div class="field-grid">
                        <TextField
                            id="oidc-client-id"
                            label="Client id"
                            value=draft.client_id
                            required=true
                        />
                        <TextField
                            id="oidc-client-secret"
                            label="Client secret"
                            value=draft.client_secret
                            placeholder=secret_placeholder
                            hint=if secret_set { "Never shown. Type a new one to replace it." } else { "Never shown once saved." }
                            input_type="password"
                            autocomplete="new-password"
                        />
                        <TextField
                            id="oidc-scopes"
                            label="Scopes"
                            value=draft.scopes
                            placeholder="openid email profile"
                            hint="Space- or comma-separated."
                        />
                        <div class="field">
                            <label for="oidc-response-mode">"Response mode"</label>
                            <select
                                id="oidc-response-mode"
                                on:change=move |e| {
                                    draft.response_mode.set(response_mode_from(&event_target_value(&e)))
                                }
                            >
                                <option value="query" selected=move || draft.response_mode.get() == ResponseMode::Query>
                                    "query (redirect)"
                                </option>
                                <option
                                    value="form_post"
                                    selected=move || draft.response_mode.get() == ResponseMode::FormPost
                                >
                                    "form_post"
                                </option>
                            </select>
                        </div>
                    </div>
                </fieldset>
                <fieldset>
                    <legend>"Claims"</legend>
                    <p class="field-note">"A claim name, or a JSON Pointer such as /realm_access/roles."</p>
                    <div class="field-grid">
                        <TextField id="oidc-username-claim" label="User name" value=draft.username_claim placeholder="preferred_username" />
                        <TextField id="oidc-email-claim" label="E-mail" value=draft.email_claim placeholder="email" />
                        <TextField id="oidc-name-claim" label="Display name" value=draft.name_claim placeholder="name" />
                        <TextField id="oidc-picture-claim" label="Picture" value=draft.picture_claim placeholder="picture" />
                        <TextField
                            id="oidc-groups-claim"
                            label="Groups"
                            value=draft.groups_claim
                            placeholder="e.g. groups"
                            hint="Empty: no groups are read."
                        />
                    </div>
                </fieldset>
                <fieldset>
                    <legend>"Roles"</legend>
                    <div class="field-grid">
                        <TextField
                            id="oidc-admin-groups"
                            label="Admin groups"
                            value=draft.admin_groups
                            placeholder="e.g. admins"
                            hint="Members become admins. Comma- or space-separated; case-insensitive."
                        />
                        <TextField
                            id="oidc-user-groups"
                            label="Allowed groups"
                            value=draft.user_groups
                            placeholder="e.g. trusted, staff"
                            hint="When set, only members of these or the admin groups may sign in."
                        />
                        <div class="field">
                            <label for="oidc-default-role">"Default role"</label>
                            <select
                                id="oidc-default-role"
                                on:change=move |e| {
                                    if let Some(role) = Role::parse(&event_target_value(&e)) {
                                        draft.default_role.set(role);
                                    }
                                }
                            >
                                {ROLES
                                    .map(|r| {
                                        view! {
                                            <option value=r.as_str() selected=move || draft.default_role.get() == r>
                                                {r.as_str()}
                                            </option>
                                        }
                                    })}
                            </select>
                            <p class="field-hint">"For people in no listed group (when no allowed groups are set)."</p>
                        </div>
                    </div>
                </fieldset>
                <fieldset>
                    <legend>"Accounts and logging"</legend>
                    <label class="check">
                        <input id="oidc-merge" type="checkbox" bind:checked=draft.merge_accounts_by_email />
                        "Link sign-ins to existing accounts with the same e-mail"
                    </label>
                    {move || {
                        draft.merge_accounts_by_email.get().then(|| view! {
                            <p class="alert alert-warning" id="oidc-merge-warning">
                                "Only safe when the provider verifies e-mail addresses: Tessera links only when it asserts email_verified = true. A provider that lets people claim any address would let them take over accounts."
                            </p>
                        })
                    }}
                    <label class="check">
                        <input id="oidc-verbose" type="checkbox" bind:checked=draft.verbose />
                        "Verbose: log the received claims (for setting up; turn off afterwards)"
                    </label>
                </fieldset>
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

/// One labelled text input bound to `value`.
#[component]
fn TextField(
    id: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    #[prop(into, optional)] placeholder: MaybeProp<String>,
    #[prop(optional)] hint: &'static str,
    #[prop(optional)] readonly: bool,
    #[prop(optional)] required: bool,
    #[prop(optional)] pattern: Option<&'static str>,
    #[prop(optional)] wide: bool,
    #[prop(default = "text")] input_type: &'static str,
    #[prop(default = "off")] autocomplete: &'static str,
) -> impl IntoView {
    let hint = (!hint.is_empty()).then(|| view! { <p class="field-hint">{hint}</p> });
    view! {
        <div class="field" class:field-wide=wide>
            <label for=id>{label}</label>
            <input
                id=id
                type=input_type
                autocomplete=autocomplete
                spellcheck="false"
                placeholder=move || placeholder.get()
                readonly=readonly
                required=required
                pattern=pattern
                bind:value=value
            />
            {hint}
        </div>
    }
}
