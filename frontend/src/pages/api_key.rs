//! The person's API key: create (shown once, with a copy button), see what is
//! known of it, revoke it.
use crate::auth::use_auth;
use crate::components::{ErrorMessage, Loading, Shell};
use crate::tasks::{Act, Load};
use leptos::prelude::*;
use tessera_shared::ApiKeyInfo;
use wasm_bindgen::JsValue;

/// The API key page.
#[component]
pub fn ApiKey() -> impl IntoView {
    let auth = use_auth();
    let info = Load::new(move || async move { auth.api()?.api_key().await });
    let created = RwSignal::new(None::<String>);
    let copied = RwSignal::new(false);
    let create = Act::new(move |_: &()| async move {
        let result = auth.api()?.create_api_key().await;
        if let Ok(key) = &result {
            created.set(Some(key.api_key.clone()));
            copied.set(false);
        }
        info.refetch();
        result.map(drop)
    });
    let revoke = Act::new(move |_: &()| async move {
        let result = auth.api()?.revoke_api_key().await;
        created.set(None);
        info.refetch();
        result
    });
    let busy = move || create.pending().get() || revoke.pending().get();
    let failure = move || {
        let error = match (create.value().get(), revoke.value().get()) {
            (Some(Err(e)), _) | (_, Some(Err(e))) => Some(e.to_string()),
            _ => None,
        };
        error.map(|message| view! { <ErrorMessage message /> })
    };
    let current = move || match info.get() {
        None => view! { <Loading label="Loading your key…" /> }.into_any(),
        Some(Err(e)) => view! { <ErrorMessage message=e.to_string() id="load-error" /> }.into_any(),
        Some(Ok(Some(key))) => view! { <KeyDetails key /> }.into_any(),
        Some(Ok(None)) => view! {
            <p class="muted" id="no-api-key">"You have no API key yet."</p>
        }
        .into_any(),
    };
    let has_key = move || matches!(info.get(), Some(Ok(Some(_))));
    let busy = move || busy() || info.get().is_none();
    view! {
        <Shell>
            <section class="card">
                <h1>"API key"</h1>
                <p class="muted">
                    "For scripts and integrations: send the key as "
                    <code>"Authorization: Bearer sk-…"</code>
                    ". It acts as you, without expiry, until you revoke or replace it."
                </p>
                {failure}
                <FreshKey created copied />
                {current}
                <div class="actions">
                    <button
                        id="create-api-key"
                        class="button button-primary"
                        disabled=busy
                        on:click=move |_| {
                            create.dispatch(());
                        }
                    >
                        {move || if has_key() { "Replace key" } else { "Create key" }}
                    </button>
                    <Show when=has_key>
                        <button
                            id="revoke-api-key"
                            class="button button-danger"
                            disabled=busy
                            on:click=move |_| {
                                revoke.dispatch(());
                            }
                        >
                            "Revoke key"
                        </button>
                    </Show>
                </div>
                <Show when=has_key>
                    <p class="muted small" id="api-key-hint">
                        "Replacing the key stops the old one at once; revoking stops it without a new one."
                    </p>
                </Show>
            </section>
        </Shell>
    }
}

/// A key just created, shown this once, with a button that copies it.
#[component]
fn FreshKey(created: RwSignal<Option<String>>, copied: RwSignal<bool>) -> impl IntoView {
    let copy = move |_| {
        if let Some(key) = created.get_untracked() {
            let clipboard = window().navigator().clipboard();
            let _ = clipboard.write_text(&key);
            copied.set(true);
        }
    };
    move || {
        created.get().map(|key| {
            view! {
                <div class="key-once" id="new-api-key">
                    <p class="alert alert-info" role="status">
                        "Copy your new key now: it will not be shown again."
                    </p>
                    <div class="key-row">
                        <code id="api-key-value" class="key-value">{key}</code>
                        <button id="copy-api-key" class="button button-quiet" on:click=copy>
                            {move || if copied.get() { "Copied" } else { "Copy" }}
                        </button>
                    </div>
                </div>
            }
        })
    }
}

#[component]
fn KeyDetails(key: ApiKeyInfo) -> impl IntoView {
    let last_used = key
        .last_used_at
        .map(local_time)
        .unwrap_or_else(|| "never".to_owned());
    view! {
        <dl class="facts" id="api-key-info">
            <dt>"Key"</dt>
            <dd>
                <code id="api-key-prefix">{key.prefix}"…"</code>
            </dd>
            <dt>"Created"</dt>
            <dd>{local_time(key.created_at)}</dd>
            <dt>"Last used"</dt>
            <dd id="api-key-last-used">{last_used}</dd>
        </dl>
    }
}

fn local_time(secs: i64) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(secs as f64 * 1000.0));
    String::from(date.to_locale_string("default", &JsValue::UNDEFINED))
}
