//! Admins only: Settings › Security — the SSO providers (list, add, edit,
//! delete) and the "Test" round trip in a popup before saving; and the
//! popup's landing page, which reports back to the settings page.
use crate::api;
use crate::auth::{use_auth, Auth};
use crate::components::{AdminOnly, ErrorMessage, Loading, Notice};
use crate::url;
use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::json;
use tessera_shared::{OidcProviderSettings, OidcTestReport, ProviderKind, ResponseMode, Role};
use wasm_bindgen::{JsCast, JsValue};

/// The `type` of the message the test popup posts to the settings page.
pub const TEST_MESSAGE: &str = "tessera-oidc-test";
/// The popup's window name: a second test reuses the window.
const POPUP_NAME: &str = "tessera-oidc-test";

const KINDS: [ProviderKind; 4] = [
    ProviderKind::Oidc,
    ProviderKind::Entra,
    ProviderKind::Google,
    ProviderKind::Github,
];
const ROLES: [Role; 3] = [Role::Pending, Role::User, Role::Admin];

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
        LocalResource::new(
            move || async move { auth.api()?.oidc_providers().await.map_err(explain) },
        );
    let editing = RwSignal::new(None::<(OidcProviderSettings, bool)>);
    let status = RwSignal::new(None::<String>);
    let confirming = RwSignal::new(None::<String>);
    let delete = Action::new_local(move |name: &String| {
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
    let table = move || {
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
    };
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
            {table}
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

#[component]
fn ProviderRow(
    provider: OidcProviderSettings,
    editing: RwSignal<Editing>,
    confirming: RwSignal<Option<String>>,
    deleting: Memo<bool>,
    delete: Action<String, api::Result<()>>,
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
                                delete.dispatch_local(target.clone());
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

/// The form's fields, one signal each; lists and optional values as typed.
#[derive(Clone, Copy)]
struct Draft {
    name: RwSignal<String>,
    display_name: RwSignal<String>,
    kind: RwSignal<ProviderKind>,
    discovery_url: RwSignal<String>,
    tenant: RwSignal<String>,
    client_id: RwSignal<String>,
    client_secret: RwSignal<String>,
    scopes: RwSignal<String>,
    username_claim: RwSignal<String>,
    email_claim: RwSignal<String>,
    name_claim: RwSignal<String>,
    picture_claim: RwSignal<String>,
    groups_claim: RwSignal<String>,
    admin_groups: RwSignal<String>,
    user_groups: RwSignal<String>,
    default_role: RwSignal<Role>,
    merge_accounts_by_email: RwSignal<bool>,
    response_mode: RwSignal<ResponseMode>,
    verbose: RwSignal<bool>,
}

impl Draft {
    fn new(s: &OidcProviderSettings) -> Draft {
        let text = |v: &Option<String>| RwSignal::new(v.clone().unwrap_or_default());
        Draft {
            name: RwSignal::new(s.name.clone()),
            display_name: RwSignal::new(s.display_name.clone()),
            kind: RwSignal::new(s.kind),
            discovery_url: text(&s.discovery_url),
            tenant: text(&s.tenant),
            client_id: RwSignal::new(s.client_id.clone()),
            client_secret: RwSignal::new(String::new()),
            scopes: RwSignal::new(s.scopes.join(" ")),
            username_claim: text(&s.username_claim),
            email_claim: text(&s.email_claim),
            name_claim: text(&s.name_claim),
            picture_claim: text(&s.picture_claim),
            groups_claim: text(&s.groups_claim),
            admin_groups: RwSignal::new(s.admin_groups.join(", ")),
            user_groups: RwSignal::new(s.user_groups.join(", ")),
            default_role: RwSignal::new(s.default_role),
            merge_accounts_by_email: RwSignal::new(s.merge_accounts_by_email),
            response_mode: RwSignal::new(s.response_mode),
            verbose: RwSignal::new(s.verbose),
        }
    }

    /// The settings to save or test; `loaded` supplies the read-only fields.
    fn settings(self, loaded: &OidcProviderSettings) -> OidcProviderSettings {
        let text = |s: RwSignal<String>| optional(&s.get_untracked());
        let secret = self.client_secret.get_untracked();
        OidcProviderSettings {
            name: self.name.get_untracked().trim().to_owned(),
            display_name: self.display_name.get_untracked().trim().to_owned(),
            kind: self.kind.get_untracked(),
            discovery_url: text(self.discovery_url),
            tenant: text(self.tenant),
            client_id: self.client_id.get_untracked().trim().to_owned(),
            client_secret: (!secret.is_empty()).then_some(secret),
            client_secret_set: loaded.client_secret_set,
            scopes: url::split_list(&self.scopes.get_untracked()),
            username_claim: text(self.username_claim),
            email_claim: text(self.email_claim),
            name_claim: text(self.name_claim),
            picture_claim: text(self.picture_claim),
            groups_claim: text(self.groups_claim),
            admin_groups: url::split_list(&self.admin_groups.get_untracked()),
            user_groups: url::split_list(&self.user_groups.get_untracked()),
            default_role: self.default_role.get_untracked(),
            merge_accounts_by_email: self.merge_accounts_by_email.get_untracked(),
            response_mode: self.response_mode.get_untracked(),
            verbose: self.verbose.get_untracked(),
            source: loaded.source.clone(),
        }
    }
}

/// Where the "Test" round trip stands.
#[derive(Clone, PartialEq)]
enum Test {
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

#[component]
fn ProviderForm(
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

/// Listens for the popup's `{type: "tessera-oidc-test", report}` from this origin.
fn listen_for_report(test: RwSignal<Test>) {
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

#[component]
fn TestOutcome(test: RwSignal<Test>) -> impl IntoView {
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
fn TestReport(report: OidcTestReport) -> impl IntoView {
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

fn optional(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn kind_value(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Oidc => "oidc",
        ProviderKind::Github => "github",
        ProviderKind::Entra => "entra",
        ProviderKind::Google => "google",
    }
}

fn kind_from(value: &str) -> ProviderKind {
    KINDS
        .into_iter()
        .find(|k| kind_value(*k) == value)
        .unwrap_or_default()
}

fn kind_label(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Oidc => "OpenID Connect",
        ProviderKind::Github => "GitHub",
        ProviderKind::Entra => "Microsoft Entra ID",
        ProviderKind::Google => "Google",
    }
}

fn response_mode_from(value: &str) -> ResponseMode {
    if value == "form_post" {
        ResponseMode::FormPost
    } else {
        ResponseMode::Query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_values_match_the_wire_names() {
        for kind in KINDS {
            let wire = serde_json::to_value(kind).unwrap_or_default();
            assert_eq!(wire.as_str(), Some(kind_value(kind)));
            assert_eq!(kind_from(kind_value(kind)), kind);
        }
        assert_eq!(kind_from("nonsense"), ProviderKind::Oidc);
    }

    #[test]
    fn response_modes_match_the_wire_names() {
        for mode in [ResponseMode::Query, ResponseMode::FormPost] {
            let wire = serde_json::to_value(mode).unwrap_or_default();
            assert_eq!(response_mode_from(wire.as_str().unwrap_or_default()), mode);
        }
    }

    #[test]
    fn blank_is_none() {
        assert_eq!(optional("  "), None);
        assert_eq!(optional(" email "), Some("email".to_owned()));
    }

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
