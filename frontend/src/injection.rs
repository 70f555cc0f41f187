//! Tokens handed to the SPA by whoever loads it — the backend's data block
//! (from an SSO proxy's `Authorization` header), `#auth_token=`,
//! `?auth_token=` (when `[injection] query_param` allows it) and
//! `postMessage` from an embedding page in `[embed] allowed_origins` — embed
//! tickets (`#ticket=` or `postMessage`), redeemed once for an embed session
//! that the embedding page, never the SPA, renews; and embed mode (no
//! navigation chrome).
//!
//! Every token found is validated by the server before it is trusted; the
//! address bar and history are scrubbed of it (and of any ticket) at once.
//!
//! It signs in through the auth context ([`crate::auth`]), which does not
//! know this module; the app root starts both, this one right after it.
use crate::api::{self, AuthorizedApi};
use crate::auth::Auth;
use crate::config::Config;
use crate::url;
use gloo_storage::{SessionStorage, Storage};
use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::time::Duration;
use tessera_shared::injection::{
    ELEMENT_ID, MESSAGE_TICKET, MESSAGE_TOKEN, MESSAGE_TOKEN_REQUEST, TICKET_PARAM, URL_PARAM,
};
use tessera_shared::{EmbedRedeemForm, Injected};
use wasm_bindgen::JsValue;

/// Remembers `?embed=1` for the rest of the browser session.
const EMBED_KEY: &str = "tessera.embed";

/// Shown on the sign-in page when a picked-up token is refused by the server.
pub const TOKEN_REFUSED: &str = "Your sign-in token was refused";
/// Shown in the frame when an embed ticket could not be redeemed.
const TICKET_REFUSED: &str = "The embedding page's ticket did not work";

/// Tokens the page was loaded with, already removed from the page and the URL.
#[derive(Default)]
struct Found {
    injected: Option<Injected>,
    fragment: Option<String>,
    query: Option<String>,
    /// An embed ticket from `#ticket=`.
    ticket: Option<String>,
}

impl Found {
    /// Whether the page brought nothing.
    fn is_empty(&self) -> bool {
        self.injected.is_none()
            && self.fragment.is_none()
            && self.query.is_none()
            && self.ticket.is_none()
    }

    /// Whether only a `?auth_token=` came, which config may not allow.
    fn only_query(&self) -> bool {
        self.injected.is_none() && self.fragment.is_none() && self.query.is_some()
    }
}

/// The start-up check: an embed ticket the page was loaded with is
/// redeemed, else a token it was loaded with is checked; without either, the
/// stored session is checked (or the proxy asked). Call once, right after
/// [`provide_auth`](crate::auth::provide_auth) and before the router reads
/// the URL; hand what it returns to [`listen_to_parent`].
pub fn check_at_start(auth: Auth, config: Config) -> Parent {
    let found = take_from_page();
    let parent = Parent {
        origin: RwSignal::new(None),
        asked_again: StoredValue::new(false),
        brought: !found.is_empty(),
        config,
    };
    if let Some(ticket) = found.ticket {
        let embedder = embedder();
        spawn_local(accept(auth, parent, Handed::Ticket { ticket, embedder }));
    } else if found.is_empty() {
        auth.revalidate_stored();
    } else {
        pick_up(auth, parent, found);
    }
    parent
}

/// Reads and removes the data block, `#auth_token=`, `?auth_token=`
/// (always scrubbed, used only when config allows) and `#ticket=`.
fn take_from_page() -> Found {
    let mut found = scrub_url();
    found.injected = take_data_block();
    found
}

/// The [`Injected`] body of the data block, read from the JSON value (the
/// SPA's JSON reader for values is linked anyway, a decoder of its own for
/// this body is not: the SPA's size).
fn take_data_block() -> Option<Injected> {
    let element = document().get_element_by_id(ELEMENT_ID)?;
    let text = element.text_content();
    element.remove();
    match serde_json::from_str::<serde_json::Value>(&text?) {
        Ok(body) => {
            let field = |name: &str| body[name].as_str().map(str::to_owned);
            Some(Injected {
                token: field("token"),
                error: field("error"),
            })
        }
        Err(e) => {
            leptos::logging::warn!("unreadable injected data block: {e}");
            None
        }
    }
}

/// Takes `auth_token` out of the fragment and the query, and `ticket` out
/// of the fragment, then replaces the history entry with the cleaned URL
/// (other parameters kept). A `?ticket=` is removed too, and ignored: a
/// query reaches servers, their logs and `Referer` headers.
fn scrub_url() -> Found {
    let location = window().location();
    let hash = location.hash().unwrap_or_default();
    let search = location.search().unwrap_or_default();
    let keys = [URL_PARAM, TICKET_PARAM];
    let present = |list: &str| keys.iter().any(|k| url::param(list, k).is_some());
    if !present(&hash) && !present(&search) {
        return Found::default();
    }
    if url::param(&search, TICKET_PARAM).is_some() {
        leptos::logging::warn!(
            "?{TICKET_PARAM}= ignored and removed: an embed ticket goes in the fragment or a postMessage"
        );
    }
    let mut url = location.pathname().unwrap_or_else(|_| "/".to_owned());
    for (mark, list) in [('?', &search), ('#', &hash)] {
        let rest = url::without(list, &keys);
        if !rest.is_empty() {
            url.push(mark);
            url.push_str(&rest);
        }
    }
    let replaced = window()
        .history()
        .and_then(|h| h.replace_state_with_url(&JsValue::NULL, "", Some(&url)));
    if replaced.is_err() {
        leptos::logging::warn!("could not remove the token from the address bar");
    }
    let value = |list: &str, key| url::param(list, key).filter(|v| !v.is_empty());
    Found {
        injected: None,
        fragment: value(&hash, URL_PARAM),
        query: value(&search, URL_PARAM),
        ticket: value(&hash, TICKET_PARAM),
    }
}

/// Validates what the page brought, then signs in with it or shows the
/// sign-in page with the reason. The auth context is `Pending` meanwhile.
fn pick_up(auth: Auth, parent: Parent, found: Found) {
    parent.config.then(move |config| {
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
            Some(token) => {
                let exchange = config.injection_exchange;
                spawn_local(accept(auth, parent, Handed::Token { token, exchange }));
            }
            None => auth.revalidate_stored(),
        }
    });
}

/// What the page or its embedding parent handed over.
enum Handed {
    /// A token: checked by the server (or exchanged, with `[injection] exchange`).
    Token { token: String, exchange: bool },
    /// An embed ticket, redeemed naming `embedder`, the page that handed it over.
    Ticket {
        ticket: String,
        embedder: Option<String>,
    },
}

/// Asks the server about what was handed over, then signs in with the
/// session it answers. A refused token shows the sign-in page with the
/// reason. A refused ticket leaves the frame waiting, with the server's
/// reason (never the ticket), and asks the parent once more; not again
/// until a sign-in has worked, so a parent sending bad tickets gets no loop.
async fn accept(auth: Auth, parent: Parent, handed: Handed) {
    let ticket = matches!(handed, Handed::Ticket { .. });
    let answer = match handed {
        Handed::Token {
            token,
            exchange: true,
        } => api::exchange(&token).await,
        Handed::Token { token, .. } => AuthorizedApi::new(token, || {}).session().await,
        Handed::Ticket { ticket, embedder } => {
            api::redeem(&EmbedRedeemForm { ticket, embedder }).await
        }
    };
    match answer {
        Ok(user) => {
            parent.asked_again.set_value(false);
            auth.sign_in(user);
        }
        Err(e) if ticket => {
            auth.ticket_refused(format!("{TICKET_REFUSED}: {e}"));
            if !parent.asked_again.get_value() {
                parent.asked_again.set_value(true);
                parent.ask();
            }
        }
        Err(e @ api::Error::Api { .. }) => auth.refuse(format!("{TOKEN_REFUSED}: {e}")),
        Err(e) => auth.check_failed(e.to_string()),
    }
}

/// The page that frames this one, for a ticket in the fragment:
/// `location.ancestorOrigins[0]` where browsers have it, else the origin of
/// `document.referrer`. The server accepts the ticket only if it names it.
fn embedder() -> Option<String> {
    let ancestors = js_sys::Reflect::get(&window().location(), &"ancestorOrigins".into());
    let first = ancestors
        .ok()
        .filter(|list| !list.is_undefined())
        .and_then(|list| js_sys::Reflect::get(&list, &0.into()).ok())
        .and_then(|origin| origin.as_string());
    first.or_else(|| {
        let referrer = document().referrer();
        let end = referrer
            .match_indices('/')
            .nth(2)
            .map_or(referrer.len(), |(i, _)| i);
        Some(referrer.get(..end)?.to_owned()).filter(|o| o.contains("://"))
    })
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

/// The embedding page, as far as the SPA knows it.
#[derive(Clone, Copy)]
pub struct Parent {
    /// The allowed origin the current token or ticket was posted from, if it was.
    origin: RwSignal<Option<String>>,
    /// Whether a refused ticket has made the SPA ask for another already.
    asked_again: StoredValue<bool>,
    /// Whether the page came with a token or ticket (then none is asked for at start).
    brought: bool,
    config: Config,
}

impl Parent {
    /// Posts `tessera:token-request` to the origin that posted the last
    /// token or ticket, else to each allowed origin (the browser delivers it
    /// only to the parent's own).
    fn ask(self) {
        if let Some(origin) = self.origin.get_untracked() {
            return request_token(&[origin]);
        }
        self.config.then(|cfg| {
            if let Ok(cfg) = cfg {
                request_token(&cfg.embed_allowed_origins);
            }
        });
    }
}

/// Accepts `{type: "tessera:token", token}` and `{type: "tessera:ticket",
/// ticket}` messages from `[embed] allowed_origins` (exact match on
/// `event.origin`; anything else is ignored silently); asks an embedding
/// parent for a token at start (when the page brought none), shortly before
/// the current one expires, and when an embed session has ended.
pub fn listen_to_parent(auth: Auth, parent: Parent) {
    let config = parent.config;
    let _listener = window_event_listener(ev::message, move |e: web_sys::MessageEvent| {
        let data = e.data();
        let field = match text_field(&data, "type").as_deref() {
            Some(MESSAGE_TOKEN) => "token",
            Some(MESSAGE_TICKET) => "ticket",
            _ => return,
        };
        let Some(value) = text_field(&data, field) else {
            return;
        };
        let origin = e.origin();
        config.then(move |cfg| {
            let Ok(cfg) = cfg else { return };
            if !cfg.embed_allowed_origins.contains(&origin) {
                return;
            }
            parent.origin.set(Some(origin.clone()));
            let handed = if field == "ticket" {
                Handed::Ticket {
                    ticket: value,
                    embedder: Some(origin),
                }
            } else {
                Handed::Token {
                    token: value,
                    exchange: cfg.injection_exchange,
                }
            };
            spawn_local(accept(auth, parent, handed));
        });
    });
    if embedded() && !parent.brought {
        config.then(move |cfg| {
            if let Ok(cfg) = cfg {
                if auth.user_untracked().is_none() {
                    request_token(&cfg.embed_allowed_origins);
                }
            }
        });
    }
    watch_expiry(auth, parent);
}

/// Shortly before a posted token or an embed session expires, asks the
/// parent for a new one; when an embed session expires, ends it here (the
/// SPA never renews one, and shows nothing of its data once it is over) and
/// asks the parent again, as it does when the server ended it.
fn watch_expiry(auth: Auth, parent: Parent) {
    let timers = StoredValue::new_local(Vec::<TimeoutHandle>::new());
    Effect::new(move |_| {
        for handle in timers.try_update_value(std::mem::take).unwrap_or_default() {
            handle.clear();
        }
        let Some(user) = auth.user() else {
            if auth.embed_ended_untracked() {
                parent.ask();
            }
            return;
        };
        let grant = crate::jwt::embed_claim(&user.token)
            .and_then(|g| g["origin"].as_str().map(str::to_owned));
        let origin = grant.clone().or(parent.origin.get_untracked());
        let (Some(origin), Some(expires_at)) = (origin, user.expires_at) else {
            return;
        };
        let left = (expires_at - (js_sys::Date::now() / 1000.0) as i64).max(0);
        let ahead = (left / 2).clamp(0, 60);
        let after = |secs: i64, f: Box<dyn FnOnce()>| match set_timeout_with_handle(
            f,
            Duration::from_secs(secs as u64),
        ) {
            Ok(handle) => timers.update_value(|t| t.push(handle)),
            Err(e) => leptos::logging::warn!("token refresh timer: {e:?}"),
        };
        if left > 0 {
            after(left - ahead, Box::new(move || request_token(&[origin])));
        }
        if grant.is_some() {
            let token = user.token;
            let end = move || {
                if auth.user_untracked().is_some_and(|u| u.token == token) {
                    auth.embed_ended();
                }
            };
            after(left, Box::new(end));
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
