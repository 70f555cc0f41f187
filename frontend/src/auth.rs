//! Who is signed in: the auth context, its copy in `localStorage` and the
//! check of that copy against the server. Whatever hands over a token (the
//! sign-in pages, the token injection module) signs in through this context;
//! it knows none of them, so imports point one way: to here.
//!
//! An open page stays in step: another tab's sign-in, sign-out or ended
//! session reaches it through the `storage` event, and the server is asked
//! again whenever the page becomes visible and every `[ui]
//! session_check_interval` while it is (a session ended elsewhere then ends
//! here too).
use crate::api::{self, AuthorizedApi};
use crate::config::{use_config, Config};
use crate::jwt::embed_claim;
use gloo_storage::{LocalStorage, Storage};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::time::Duration;
use tessera_shared::{error::detail, AuthMethod, Role, SessionUser};
use wasm_bindgen::JsCast;

const STORAGE_KEY: &str = "tessera.user";

/// In the query of the page "Stay signed in" opens: sign in afresh there,
/// ignoring the session the other tabs share.
pub const RENEW_PARAM: &str = "renew=1";

/// Shown on the sign-in page after the server rejected the stored token.
pub const SESSION_ENDED: &str = "Your session has ended — please sign in again.";
/// Shown on the sign-in page that "Stay signed in" opens.
const RENEWING: &str =
    "Sign in again to stay signed in; this window then closes and the page you were on keeps going.";
/// Shown on the sign-in page after signing out.
pub const SIGNED_OUT: &str = "You have signed out.";
/// Shown in an embedding page's frame once its embed session has ended.
pub const EMBED_ENDED: &str = "This embedded view's session has ended.";
/// Shown on the sign-in page when a kept IdP token expired and no
/// `[injection] expired_redirect` is configured.
pub const TOKEN_EXPIRED: &str = "Your sign-in token has expired — please sign in again.";

/// Where the start-up check of a stored session stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Nothing to check, or the server has answered.
    Done,
    /// Waiting for `GET /api/v1/auths/`.
    Pending,
    /// The server could not be asked; the stored session is kept but not trusted.
    Failed(String),
}

/// The auth context: read it with [`use_auth`].
#[derive(Debug, Clone, Copy)]
pub struct Auth {
    user: RwSignal<Option<SessionUser>>,
    check: RwSignal<Check>,
    notice: RwSignal<Option<String>>,
    refused: RwSignal<bool>,
    error: RwSignal<Option<String>>,
    /// An embed session ended or its ticket was refused: nothing is shown
    /// until the embedding page hands over a new ticket.
    waiting: RwSignal<bool>,
    config: Config,
}

/// Creates the auth context from `localStorage`, `Pending` until the
/// start-up check that the caller starts: of the stored session
/// ([`Auth::revalidate_stored`]) or of a token the page brought.
pub fn provide_auth() -> Auth {
    let auth = Auth {
        user: RwSignal::new(None),
        check: RwSignal::new(Check::Pending),
        notice: RwSignal::new(None),
        refused: RwSignal::new(false),
        error: RwSignal::new(None),
        waiting: RwSignal::new(false),
        config: use_config(),
    };
    provide_context(auth);
    let search = window().location().search().unwrap_or_default();
    let renewing = search
        .trim_start_matches('?')
        .split('&')
        .any(|p| p == RENEW_PARAM);
    match LocalStorage::get::<SessionUser>(STORAGE_KEY) {
        _ if renewing => auth.notice.set(Some(RENEWING.to_owned())),
        Ok(stored) => auth.user.set(Some(stored)),
        Err(_) => LocalStorage::delete(STORAGE_KEY),
    }
    auth.follow_other_tabs();
    auth.keep_checking();
    auth
}

/// The auth context provided by the app root.
pub fn use_auth() -> Auth {
    expect_context()
}

impl Auth {
    /// The signed-in person, if any.
    pub fn user(self) -> Option<SessionUser> {
        self.user.get()
    }

    /// `Some(signed in?)` once known, `None` while a stored session is unchecked.
    pub fn signed_in(self) -> Option<bool> {
        match self.check.get() {
            Check::Done => Some(self.user.with(Option::is_some)),
            Check::Pending | Check::Failed(_) => None,
        }
    }

    /// Whether the signed-in person is an admin.
    pub fn is_admin(self) -> bool {
        self.user
            .with(|u| u.as_ref().is_some_and(|u| u.role == Role::Admin))
    }

    /// The state of the start-up check.
    pub fn check(self) -> Check {
        self.check.get()
    }

    /// A message for the sign-in page (why the session ended).
    pub fn notice(self) -> Option<String> {
        self.notice.get()
    }

    /// Whether the notice says a token was refused or expired (shown as a warning).
    pub fn notice_is_refusal(self) -> bool {
        self.refused.get()
    }

    /// Whether an embed session ended (or its ticket was refused) and the
    /// frame waits for the embedding page: protected pages show only that.
    pub fn waiting_for_parent(self) -> bool {
        self.waiting.get()
    }

    /// Whether an embed session has just ended (not: its ticket was
    /// refused), untracked.
    pub fn embed_ended_untracked(self) -> bool {
        self.waiting.get_untracked() && !self.refused.get_untracked()
    }

    /// Why the last single sign-on attempt failed, for the sign-in page.
    pub fn sign_in_error(self) -> Option<String> {
        self.error.get()
    }

    /// A single sign-on attempt failed: the sign-in page shows `reason` as an error.
    pub fn sign_in_failed(self, reason: impl Into<String>) {
        self.error.set(Some(reason.into()));
    }

    /// Another sign-in attempt is under way: drops the sign-in error and notice.
    pub fn attempt_started(self) {
        self.error.set(None);
        self.notice.set(None);
    }

    /// The signed-in person, without tracking.
    pub fn user_untracked(self) -> Option<SessionUser> {
        self.user.get_untracked()
    }

    /// Makes `user` the signed-in person and remembers them across reloads
    /// (and tabs). A popup that "Stay signed in" opened closes: its opener
    /// has the new session through `localStorage`.
    pub fn sign_in(self, user: SessionUser) {
        self.store(user);
        close_if_popup();
    }

    /// Keeps `user` in `localStorage` (other tabs follow) and here.
    fn store(self, user: SessionUser) {
        if let Err(e) = LocalStorage::set(STORAGE_KEY, &user) {
            leptos::logging::warn!("could not persist the session: {e}");
        }
        self.adopt(user);
    }

    /// Makes `user` the signed-in person here only.
    fn adopt(self, user: SessionUser) {
        self.waiting.set(false);
        self.notice.set(None);
        self.error.set(None);
        self.check.set(Check::Done);
        if self.user.with_untracked(|u| u.as_ref() != Some(&user)) {
            self.user.set(Some(user));
        }
    }

    /// Follows what other tabs write under [`STORAGE_KEY`] (the `storage`
    /// event, never fired in the tab that wrote): a session is adopted as it
    /// is, without writing it again; none (or one that cannot be read) signs
    /// out here too.
    fn follow_other_tabs(self) {
        let _ = window_event_listener_untyped("storage", move |e| {
            let e: web_sys::StorageEvent = e.unchecked_into();
            // no key: the whole storage was cleared
            if e.key().is_some_and(|key| key != STORAGE_KEY) {
                return;
            }
            let stored = e.new_value().map(|v| serde_json::from_str(&v));
            match stored {
                Some(Ok(user)) => self.adopt(user),
                _ if self.user.with_untracked(Option::is_some) => self.forget(SIGNED_OUT),
                _ => {}
            }
        });
    }

    /// Asks the server about the session whenever the page becomes visible
    /// and, while it is, every `[ui] session_check_interval` (0: no periodic check).
    fn keep_checking(self) {
        let check = move || {
            if !document().hidden() {
                self.revalidate();
            }
        };
        let _ = window_event_listener_untyped("visibilitychange", move |_| check());
        self.config.then(move |config| {
            let secs = config.as_ref().map_or(0, |c| c.ui_session_check_secs);
            if secs > 0 {
                let every = Duration::from_secs(secs.into());
                if let Err(e) = set_interval_with_handle(check, every) {
                    leptos::logging::warn!("session check timer: {e:?}");
                }
            }
        });
    }

    /// Revokes the token on the server, then forgets it here; after a
    /// single sign-on session, the browser then goes on to the provider's
    /// logout when the server names it (it comes back to `/signin`).
    ///
    /// The local copy is dropped even if the server cannot be reached.
    pub async fn sign_out(self) {
        let mut provider_logout = None;
        if let Ok(api) = self.api() {
            match api.signout().await {
                Ok(logout_url) => provider_logout = logout_url,
                Err(e) => leptos::logging::warn!("sign-out: {e}"),
            }
        }
        self.forget(SIGNED_OUT);
        if let Some(url) = provider_logout {
            // a failure leaves the person signed out here, on the sign-in page
            let _ = window().location().assign(&url);
        }
    }

    /// A client for the signed-in person's token. A 401 on any of its calls
    /// ends the session, unless another session has started meanwhile.
    pub fn api(self) -> api::Result<AuthorizedApi> {
        let token = self
            .user
            .with_untracked(|u| u.as_ref().map(|u| u.token.clone()))
            .ok_or_else(|| api::Error::Api {
                status: 401,
                detail: detail::NOT_AUTHENTICATED.to_owned(),
            })?;
        let presented = token.clone();
        Ok(AuthorizedApi::new(token, move || {
            let current = self
                .user
                .with_untracked(|u| u.as_ref().is_some_and(|u| u.token == presented));
            if current {
                self.session_ended();
            }
        }))
    }

    /// Asks the server whether the current token is still good and refreshes
    /// the person's details (a role may have changed).
    pub fn revalidate(self) {
        let Ok(api) = self.api() else { return };
        let presented = api.token().to_owned();
        spawn_local(async move {
            let still_current = move || {
                self.user
                    .with_untracked(|u| u.as_ref().is_some_and(|u| u.token == presented))
            };
            match api.session().await {
                Ok(fresh) if still_current() => self.store(fresh),
                Ok(_) => {}
                Err(e) if e.is_unauthorized() => {}
                Err(e) if self.check.get_untracked() == Check::Done => {
                    leptos::logging::warn!("session check: {e}");
                }
                Err(e) => self.check.set(Check::Failed(e.to_string())),
            }
        });
    }

    /// With no session of its own, asks whether a trusted reverse proxy vouches
    /// for the visitor: loaded through one, the SPA lands signed in and keeps
    /// the session token the server issues like any other sign-in's.
    fn ask_proxy(self) {
        spawn_local(async move {
            let nobody = move || self.user.with_untracked(Option::is_none);
            match api::proxy_session().await {
                Ok(user) if nobody() => self.sign_in(user),
                Ok(_) => {}
                Err(e) => {
                    if !e.is_unauthorized() {
                        leptos::logging::warn!("proxy sign-in check: {e}");
                    }
                    if nobody() {
                        self.check.set(Check::Done);
                    }
                }
            }
        });
    }

    /// Checks the stored session (or asks the proxy when there is none): at
    /// start-up when the page brought no token, and once a picked-up token
    /// came to nothing.
    pub(crate) fn revalidate_stored(self) {
        if self.user.with_untracked(Option::is_some) {
            self.revalidate();
        } else {
            self.ask_proxy();
        }
    }

    /// A picked-up token was refused: signs out, with the reason on the sign-in page.
    pub(crate) fn refuse(self, reason: String) {
        self.forget(reason);
        self.refused.set(true);
    }

    /// An embed ticket was refused: signs out, and the frame waits for the
    /// embedding page with `reason`.
    pub(crate) fn ticket_refused(self, reason: String) {
        self.waiting.set(true);
        self.refuse(reason);
    }

    /// The embed session has ended (it is never renewed here): drops it,
    /// and the frame waits for the embedding page's next ticket.
    pub(crate) fn embed_ended(self) {
        self.waiting.set(true);
        self.forget(EMBED_ENDED);
    }

    /// The server could not be asked about a picked-up token.
    pub(crate) fn check_failed(self, reason: String) {
        self.check.set(Check::Failed(reason));
    }

    /// The server refused the current token. A kept IdP token that has
    /// expired sends the person to `[injection] expired_redirect` when set;
    /// an embed session waits for the embedding page.
    fn session_ended(self) {
        if self
            .user
            .with_untracked(|u| u.as_ref().is_some_and(|u| embed_claim(&u.token).is_some()))
        {
            return self.embed_ended();
        }
        let now = (js_sys::Date::now() / 1000.0) as i64;
        let expired_idp_token = self.user.with_untracked(|u| {
            u.as_ref().is_some_and(|u| {
                u.auth_method == AuthMethod::Jwt && u.expires_at.is_some_and(|exp| exp <= now)
            })
        });
        if !expired_idp_token {
            return self.forget(SESSION_ENDED);
        }
        match self.config.expired_redirect() {
            Some(url) => {
                LocalStorage::delete(STORAGE_KEY);
                if window().location().set_href(&url).is_err() {
                    self.refuse(TOKEN_EXPIRED.to_owned());
                }
            }
            None => self.refuse(TOKEN_EXPIRED.to_owned()),
        }
    }

    /// Checks a stored session again after the server could not be reached.
    pub fn retry(self) {
        self.check.set(Check::Pending);
        self.revalidate_stored();
    }

    fn forget(self, notice: impl Into<String>) {
        LocalStorage::delete(STORAGE_KEY);
        self.user.set(None);
        self.check.set(Check::Done);
        self.refused.set(false);
        self.notice.set(Some(notice.into()));
    }
}

/// Closes this window when a page of this site opened it ("Stay signed in").
fn close_if_popup() {
    let Ok(opener) = window().opener() else {
        return;
    };
    // reading a cross-origin window's `origin` throws; a null opener too
    let origin = js_sys::Reflect::get(&opener, &"origin".into()).ok();
    let mine = window().location().origin().ok();
    if mine.is_some() && origin.and_then(|o| o.as_string()) == mine {
        let _ = window().close();
    }
}
