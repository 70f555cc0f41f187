//! The provider form's fields, a fieldset per group, each input bound to
//! its signal in the [`Draft`].
use super::choices::{kind_from, kind_label, kind_value, response_mode_from, KINDS, ROLES};
use super::draft::Draft;
use crate::url;
use leptos::prelude::*;
use tessera_shared::{ProviderKind, ResponseMode, Role};

/// The provider: its name, button label, kind and where to discover it.
#[component]
pub(super) fn ProviderFieldset(draft: Draft, new: bool) -> impl IntoView {
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
    view! {
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
    }
}

/// The OAuth client registered at the provider.
#[component]
pub(super) fn ClientFieldset(draft: Draft, secret_set: bool) -> impl IntoView {
    let secret_placeholder = if secret_set {
        "stored — leave empty to keep"
    } else {
        ""
    };
    view! {
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
                    hint="Space- or comma-separated. Add offline_access and sessions live as long as the provider grants them (renewed by the server)."
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
    }
}

/// Which claims name the person, their e-mail, picture and groups.
#[component]
pub(super) fn ClaimsFieldset(draft: Draft) -> impl IntoView {
    view! {
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
    }
}

/// Which groups make admins and who may sign in.
#[component]
pub(super) fn RolesFieldset(draft: Draft) -> impl IntoView {
    view! {
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
    }
}

/// Linking by e-mail, signing out at the provider and verbose logging.
#[component]
pub(super) fn AccountsFieldset(draft: Draft) -> impl IntoView {
    view! {
        <fieldset>
            <legend>"Accounts, sign-out and logging"</legend>
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
                <input id="oidc-rp-logout" type="checkbox" bind:checked=draft.rp_logout />
                "Signing out also signs out at the provider"
            </label>
            <p class="field-hint">
                "When its discovery names an end_session_endpoint (RP-initiated logout). Register <public URL>/signin at the provider as a post-logout redirect URI."
            </p>
            <label class="check">
                <input id="oidc-verbose" type="checkbox" bind:checked=draft.verbose />
                "Verbose: log the received claims (for setting up; turn off afterwards)"
            </label>
        </fieldset>
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
