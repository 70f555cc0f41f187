//! When the token expires, with a live countdown; and the banner shown
//! shortly before it does, which offers to stay signed in.
use crate::auth::{use_auth, Auth, RENEW_PARAM};
use crate::config::{use_config, Config};
use crate::injection::{embedded, request_token};
use crate::routes::Page;
use crate::url;
use leptos::prelude::*;
use std::time::Duration;
use tessera_shared::{routes, AuthMethod, PublicConfig, SessionUser};
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

/// `[ui] expiry_warning` before the token expires: when the session ends,
/// "Stay signed in" and a way to dismiss it. Gone when a new token arrives.
/// Staying signed in never leaves the page: a popup signs in again (the
/// session reaches this tab through `localStorage`), or, for a token an
/// embedding page posted, that page is asked for a new one.
#[component]
pub fn ExpiryBanner() -> impl IntoView {
    let auth = use_auth();
    let config = use_config();
    let expires_at = Memo::new(move |_| auth.user().and_then(|u| u.expires_at));
    // the expiry the banner is up for
    let due = RwSignal::new(None::<i64>);
    let dismissed = RwSignal::new(None::<i64>);
    let blocked = RwSignal::new(false);
    let timer = StoredValue::new_local(None::<TimeoutHandle>);
    // a timer waits a day at most (browsers fire longer ones at once), then looks again
    let again = RwSignal::new(0_u32);
    let clear = move || {
        if let Some(handle) = timer.try_update_value(Option::take).flatten() {
            handle.clear();
        }
    };
    Effect::new(move |_| {
        clear();
        due.set(None);
        blocked.set(false);
        again.track();
        let warning = config.expiry_warning();
        let Some(at) = expires_at.get().filter(|_| warning > 0) else {
            return;
        };
        let wait = (at - warning - now_secs()).clamp(0, 86_400);
        let show = move || {
            if at - warning <= now_secs() {
                due.set(Some(at));
            } else {
                again.update(|n| *n = n.wrapping_add(1));
            }
        };
        match set_timeout_with_handle(show, Duration::from_secs(wait as u64)) {
            Ok(handle) => timer.set_value(Some(handle)),
            Err(e) => leptos::logging::warn!("expiry banner timer: {e:?}"),
        }
    });
    on_cleanup(clear);
    move || {
        let at = due.get().filter(|at| dismissed.get() != Some(*at))?;
        Some(view! {
            <div class="alert alert-warning expiry-banner" id="expiry-banner" role="alert">
                <span class="expiry-banner-text">
                    <strong>"Your session ends soon: "</strong>
                    <TokenExpiry expires_at=Some(at) />
                    {move || blocked.get().then_some(" The browser blocked the sign-in window: allow pop-ups for this site.")}
                </span>
                <span class="expiry-banner-actions">
                    <button
                        class="button button-primary"
                        id="stay-signed-in"
                        on:click=move |_| blocked.set(!stay_signed_in(auth, config))
                    >
                        "Stay signed in"
                    </button>
                    <button
                        class="button button-quiet"
                        id="expiry-dismiss"
                        on:click=move |_| dismissed.set(Some(at))
                    >
                        "Dismiss"
                    </button>
                </span>
            </div>
        })
    }
}

/// How a session gets a new token without leaving the page.
#[derive(Debug, PartialEq, Eq)]
enum Renewal {
    /// Ask the embedding page (its token came by `postMessage`).
    Parent,
    /// Open this URL in a popup: it signs in the usual way.
    Popup(String),
}

/// Embed sessions ask the embedding page (never renewed otherwise), SSO
/// sessions go to their provider's sign-in, IdP tokens to
/// `[injection] expired_redirect` (else the SPA's root, where the proxy
/// hands over a token) or to the embedding page; the rest to the sign-in
/// page, signed out there.
fn renewal(user: &SessionUser, config: &PublicConfig, embedded: bool) -> Renewal {
    if crate::jwt::embed_claim(&user.token).is_some() {
        return Renewal::Parent;
    }
    if user.auth_method == AuthMethod::Jwt {
        if embedded {
            return Renewal::Parent;
        }
        let url = config.injection_expired_redirect.as_deref();
        return Renewal::Popup(url.unwrap_or(Page::Home.path()).to_owned());
    }
    let provider = config
        .oidc_providers
        .iter()
        .find(|p| user.issuer.as_deref() == Some(p.name.as_str()));
    match provider {
        Some(p) => Renewal::Popup(routes::oauth_login(&url::encode(&p.name))),
        None => Renewal::Popup([Page::SignIn.path(), "?", RENEW_PARAM].concat()),
    }
}

/// "Stay signed in": false when the browser blocked the popup.
fn stay_signed_in(auth: Auth, config: Config) -> bool {
    let (Some(user), Some(Ok(config))) = (auth.user_untracked(), config.get_untracked()) else {
        return true;
    };
    match renewal(&user, &config, embedded()) {
        Renewal::Parent => {
            request_token(&config.embed_allowed_origins);
            true
        }
        Renewal::Popup(url) => window()
            .open_with_url_and_target_and_features(
                &url,
                "tessera-renew",
                "popup,width=520,height=700",
            )
            .is_ok_and(|w| w.is_some()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_shared::oidc::OidcProviderLink;

    fn user(method: AuthMethod, issuer: Option<&str>) -> SessionUser {
        let mut user: SessionUser = serde_json::from_value(serde_json::json!({
            "id": "u1", "email": "a@example.com", "name": "A", "role": "user",
            "profile_image_url": "", "token": "t", "token_type": "Bearer",
            "expires_at": 100,
        }))
        .unwrap();
        user.auth_method = method;
        user.issuer = issuer.map(str::to_owned);
        user
    }

    fn config(providers: &[&str], expired_redirect: Option<&str>) -> PublicConfig {
        let mut config: PublicConfig = serde_json::from_value(serde_json::json!({
            "name": "T", "signup_enabled": false, "first_user": false,
        }))
        .unwrap();
        config.oidc_providers = providers
            .iter()
            .map(|name| OidcProviderLink {
                name: (*name).to_owned(),
                display_name: (*name).to_owned(),
            })
            .collect();
        config.injection_expired_redirect = expired_redirect.map(str::to_owned);
        config
    }

    #[test]
    fn each_session_renews_where_it_came_from() {
        let plain = config(&["kc"], None);
        let popup = |u: &str| Renewal::Popup(u.to_owned());
        assert_eq!(
            renewal(&user(AuthMethod::Session, None), &plain, false),
            popup("/login?renew=1")
        );
        assert_eq!(
            renewal(&user(AuthMethod::Session, Some("ldap")), &plain, true),
            popup("/login?renew=1")
        );
        assert_eq!(
            renewal(&user(AuthMethod::Session, Some("kc")), &plain, false),
            popup("/oauth/kc/login")
        );
        assert_eq!(
            renewal(&user(AuthMethod::Jwt, Some("kc")), &plain, true),
            Renewal::Parent
        );
        assert_eq!(
            renewal(&user(AuthMethod::Jwt, Some("idp")), &plain, false),
            popup("/")
        );
        let mut embed = user(AuthMethod::Session, None);
        // claims {"emb":{"origin":"https://p.example","paths":["/api/v1/groups/*"]}}
        embed.token = "eyJhbGciOiJIUzI1NiJ9.eyJlbWIiOnsib3JpZ2luIjoiaHR0cHM6Ly9wLmV4YW1wbGUiLCJwYXRocyI6WyIvYXBpL3YxL2dyb3Vwcy8qIl19fQ.sig".into();
        assert_eq!(renewal(&embed, &plain, false), Renewal::Parent);
        let redirect = config(&[], Some("https://idp.example/login"));
        assert_eq!(
            renewal(&user(AuthMethod::Jwt, None), &redirect, false),
            popup("https://idp.example/login")
        );
    }
}
