//! Tokens handed to the SPA by whoever loads it — the backend's data block
//! (from an SSO proxy's `Authorization` header), `#auth_token=`,
//! `?auth_token=` (when `[injection] query_param` allows it) and
//! `postMessage` from an embedding page in `[embed] allowed_origins` — and
//! embed mode (no navigation chrome).
//!
//! Every token found is validated by the server before it is trusted; the
//! address bar and history are scrubbed of it at once.
//!
//! It signs in through the auth context ([`crate::auth`]), which does not
//! know this module; the app root starts both, this one right after it.
use crate::api::{self, AuthorizedApi};
use crate::auth::Auth;
use crate::config::Config;
use gloo_storage::{SessionStorage, Storage};
use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::time::Duration;
use tessera_shared::injection::{ELEMENT_ID, MESSAGE_TOKEN, MESSAGE_TOKEN_REQUEST, URL_PARAM};
use tessera_shared::Injected;
use wasm_bindgen::JsValue;

/// Remembers `?embed=1` for the rest of the browser session.
const EMBED_KEY: &str = "tessera.embed";

/// Shown on the sign-in page when a picked-up token is refused by the server.
pub const TOKEN_REFUSED: &str = "Your sign-in token was refused";

/// Tokens the page was loaded with, already removed from the page and the URL.
#[derive(Default)]
struct Found {
    injected: Option<Injected>,
    fragment: Option<String>,
    query: Option<String>,
}

impl Found {
    /// Whether the page brought nothing.
    fn is_empty(&self) -> bool {
        self.injected.is_none() && self.fragment.is_none() && self.query.is_none()
    }

    /// Whether only a `?auth_token=` came, which config may not allow.
    fn only_query(&self) -> bool {
        self.injected.is_none() && self.fragment.is_none() && self.query.is_some()
    }
}

/// The start-up check: a token the page was loaded with is checked first
/// and wins; without one, the stored session is checked (or the proxy
/// asked). Call once, right after [`provide_auth`](crate::auth::provide_auth)
/// and before the router reads the URL.
pub fn check_at_start(auth: Auth, config: Config) {
    let found = take_from_page();
    if found.is_empty() {
        auth.revalidate_stored();
    } else {
        pick_up(auth, config, found);
    }
}

/// Reads and removes the data block, `#auth_token=` and `?auth_token=`
/// (the latter is always scrubbed, used only when config allows).
fn take_from_page() -> Found {
    let injected = take_data_block();
    let (fragment, query) = scrub_url();
    Found {
        injected,
        fragment,
        query,
    }
}

fn take_data_block() -> Option<Injected> {
    let element = document().get_element_by_id(ELEMENT_ID)?;
    let text = element.text_content();
    element.remove();
    match serde_json::from_str(&text?) {
        Ok(injected) => Some(injected),
        Err(e) => {
            leptos::logging::warn!("unreadable injected data block: {e}");
            None
        }
    }
}

/// Takes `auth_token` out of the fragment and the query, then replaces the
/// history entry with the cleaned URL (other parameters kept).
fn scrub_url() -> (Option<String>, Option<String>) {
    let location = window().location();
    let hash = location.hash().unwrap_or_default();
    let search = location.search().unwrap_or_default();
    let (hash_rest, fragment) = take_param(hash.strip_prefix('#').unwrap_or(&hash));
    let (search_rest, query) = take_param(search.strip_prefix('?').unwrap_or(&search));
    if fragment.is_none() && query.is_none() {
        return (None, None);
    }
    let mut url = location.pathname().unwrap_or_else(|_| "/".to_owned());
    if !search_rest.is_empty() {
        url.push('?');
        url.push_str(&search_rest);
    }
    if !hash_rest.is_empty() {
        url.push('#');
        url.push_str(&hash_rest);
    }
    let replaced = window()
        .history()
        .and_then(|h| h.replace_state_with_url(&JsValue::NULL, "", Some(&url)));
    if replaced.is_err() {
        leptos::logging::warn!("could not remove the token from the address bar");
    }
    (fragment, query)
}

/// Splits `auth_token=<value>` out of `a=b&c=d`: the rest and the (decoded) value.
fn take_param(list: &str) -> (String, Option<String>) {
    let mut token = None;
    let mut rest = Vec::new();
    for pair in list.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key == URL_PARAM {
            let value = js_sys::decode_uri_component(value)
                .map(String::from)
                .unwrap_or_else(|_| value.to_owned());
            token = Some(value).filter(|v| !v.is_empty());
        } else {
            rest.push(pair);
        }
    }
    (rest.join("&"), token)
}

/// Validates what the page brought, then signs in with it or shows the
/// sign-in page with the reason. The auth context is `Pending` meanwhile.
fn pick_up(auth: Auth, config: Config, found: Found) {
    config.then(move |config| {
        let config = match config {
            Ok(config) => config,
            Err(e) => return auth.check_failed(e.to_string()),
        };
        if found.only_query() && !config.injection_query_param {
            leptos::logging::warn!("?{URL_PARAM}= is not enabled ([injection] query_param)");
            return auth.revalidate_stored();
        }
        if let Some(Injected {
            error: Some(reason),
            ..
        }) = &found.injected
        {
            return auth.refuse(reason.clone());
        }
        let token = found
            .injected
            .and_then(|i| i.token)
            .or(found.fragment)
            .or(found.query.filter(|_| config.injection_query_param));
        match token {
            Some(token) => spawn_local(accept(auth, config.injection_exchange, token)),
            None => auth.revalidate_stored(),
        }
    });
}

/// Asks the server about `token` (or exchanges it, with `[injection]
/// exchange`), then trusts it.
async fn accept(auth: Auth, exchange: bool, token: String) {
    let validated = if exchange {
        api::exchange(&token).await
    } else {
        AuthorizedApi::new(token, || {}).session().await
    };
    match validated {
        Ok(user) => auth.sign_in(user),
        Err(e @ api::Error::Api { .. }) => auth.refuse(format!("{TOKEN_REFUSED}: {e}")),
        Err(e) => auth.check_failed(e.to_string()),
    }
}

/// Whether `?embed=1` was given now or earlier in this browser session.
fn embed_requested() -> bool {
    let search = window().location().search().unwrap_or_default();
    let asked = search
        .trim_start_matches('?')
        .split('&')
        .any(|p| p == "embed=1" || p == "embed=true");
    if asked {
        if let Err(e) = SessionStorage::set(EMBED_KEY, true) {
            leptos::logging::warn!("could not remember embed mode: {e}");
        }
    }
    asked || SessionStorage::get::<bool>(EMBED_KEY).unwrap_or(false)
}

/// Embed mode: pages render without navigation chrome.
#[derive(Debug, Clone, Copy)]
pub struct Embed(Signal<bool>);

impl Embed {
    /// Whether the app is in embed mode, reactively.
    pub fn get(self) -> bool {
        self.0.get()
    }
}

/// Provides [`Embed`]: `?embed=1` (kept for the session) or `[embed] always`.
pub fn provide_embed(config: Config) {
    let requested = embed_requested();
    let always = config.embed_always();
    provide_context(Embed(Signal::derive(move || requested || always.get())));
}

/// Embed mode, as provided by the app root.
pub fn use_embed() -> Embed {
    expect_context()
}

/// The allowed origin the current token was posted from, if it was.
#[derive(Debug, Clone, Copy)]
struct Parent(RwSignal<Option<String>>);

/// Accepts `{type: "tessera:token", token}` messages from `[embed]
/// allowed_origins` (exact match on `event.origin`; anything else is ignored
/// silently); asks an embedding parent for a token at start and shortly
/// before the current one expires.
pub fn listen_to_parent(auth: Auth, config: Config) {
    let parent = Parent(RwSignal::new(None));
    let _listener = window_event_listener(ev::message, move |e: web_sys::MessageEvent| {
        let data = e.data();
        if text_field(&data, "type").as_deref() != Some(MESSAGE_TOKEN) {
            return;
        }
        let Some(token) = text_field(&data, "token") else {
            return;
        };
        let origin = e.origin();
        config.then(move |cfg| {
            let Ok(cfg) = cfg else { return };
            if !cfg.embed_allowed_origins.contains(&origin) {
                return;
            }
            parent.0.set(Some(origin));
            spawn_local(accept(auth, cfg.injection_exchange, token));
        });
    });
    if embedded() {
        config.then(move |cfg| {
            if let Ok(cfg) = cfg {
                if auth.user_untracked().is_none() {
                    request_token(&cfg.embed_allowed_origins);
                }
            }
        });
    }
    refresh_before_expiry(auth, parent);
}

/// Shortly before a posted token expires, asks the parent that posted it for a new one.
fn refresh_before_expiry(auth: Auth, parent: Parent) {
    let timer = StoredValue::new_local(None::<TimeoutHandle>);
    Effect::new(move |_| {
        if let Some(handle) = timer.try_update_value(Option::take).flatten() {
            handle.clear();
        }
        let Some(origin) = parent.0.get() else { return };
        let Some(expires_at) = auth.user().and_then(|u| u.expires_at) else {
            return;
        };
        let left = expires_at - (js_sys::Date::now() / 1000.0) as i64;
        let ahead = (left / 2).clamp(0, 60);
        let wait = Duration::from_secs((left - ahead).max(0) as u64);
        match set_timeout_with_handle(move || request_token(&[origin]), wait) {
            Ok(handle) => timer.set_value(Some(handle)),
            Err(e) => leptos::logging::warn!("token refresh timer: {e:?}"),
        }
    });
}

/// Whether the app runs inside a frame.
pub(crate) fn embedded() -> bool {
    let me = window();
    match me.parent() {
        Ok(Some(parent)) => JsValue::from(parent) != JsValue::from(me),
        _ => false,
    }
}

/// Posts `{type: "tessera:token-request"}` to the parent, addressed to each
/// of `origins`: the browser delivers it only to the one the parent has.
pub(crate) fn request_token(origins: &[String]) {
    let Ok(Some(parent)) = window().parent() else {
        return;
    };
    let message = js_sys::Object::new();
    if js_sys::Reflect::set(&message, &"type".into(), &MESSAGE_TOKEN_REQUEST.into()).is_err() {
        return;
    }
    for origin in origins {
        // an origin that is not the parent's is dropped by the browser
        let _ = parent.post_message(&message, origin);
    }
}

fn text_field(data: &JsValue, name: &str) -> Option<String> {
    if !data.is_object() {
        return None;
    }
    js_sys::Reflect::get(data, &name.into())
        .ok()
        .and_then(|v| v.as_string())
}
