//! When the token expires, with a live countdown.
use crate::auth::use_auth;
use leptos::prelude::*;
use std::time::Duration;
use wasm_bindgen::JsValue;

/// "never", or the expiry date followed by the time left.
///
/// When the countdown reaches zero the session is checked with the server,
/// which ends it if the token has indeed expired.
#[component]
pub fn TokenExpiry(
    /// Unix seconds; `None` when the token never expires.
    expires_at: Option<i64>,
) -> impl IntoView {
    let Some(at) = expires_at else {
        return view! { <span class="expiry-never">"never"</span> }.into_any();
    };
    let auth = use_auth();
    let now = RwSignal::new(now_secs());
    match set_interval_with_handle(move || now.set(now_secs()), Duration::from_secs(1)) {
        Ok(handle) => on_cleanup(move || handle.clear()),
        Err(e) => leptos::logging::warn!("countdown timer: {e:?}"),
    }
    let left = move || at - now.get();
    Effect::new(move |was_over: Option<bool>| {
        let over = left() <= 0;
        if over && was_over == Some(false) {
            auth.revalidate();
        }
        over
    });
    let date = js_sys::Date::new(&JsValue::from_f64(at as f64 * 1000.0));
    let iso = String::from(date.to_iso_string());
    let local = String::from(date.to_locale_string("default", &JsValue::UNDEFINED));
    view! {
        <time datetime=iso>{local}</time>
        <span class="countdown" data-test="countdown">
            {move || countdown(left())}
        </span>
    }
    .into_any()
}

fn now_secs() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

/// "in 2d 3h 4m 5s", dropping leading zero units; "expired" at or below zero.
fn countdown(secs: i64) -> String {
    if secs <= 0 {
        return "expired".to_owned();
    }
    let (d, h, m, s) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    let text = if d > 0 {
        format!("{d}d {h}h {m}m {s}s")
    } else if h > 0 {
        format!("{h}h {m}m {s}s")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    };
    format!("in {text}")
}
