//! Who is signed in: the auth context, its copy in `localStorage` and the
//! check of that copy against the server at start-up.
use crate::api::{self, AuthorizedApi};
use gloo_storage::{LocalStorage, Storage};
use leptos::prelude::*;
use leptos::task::spawn_local;
use tessera_shared::{error::detail, Role, SessionUser};

const STORAGE_KEY: &str = "tessera.user";

/// Shown on the sign-in page after the server rejected the stored token.
pub const SESSION_ENDED: &str = "Your session has ended — please sign in again.";
/// Shown on the sign-in page after signing out.
pub const SIGNED_OUT: &str = "You have signed out.";

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
    notice: RwSignal<Option<&'static str>>,
}

/// Creates the auth context from `localStorage` and starts checking a stored session.
pub fn provide_auth() -> Auth {
    let auth = Auth {
        user: RwSignal::new(None),
        check: RwSignal::new(Check::Done),
        notice: RwSignal::new(None),
    };
    provide_context(auth);
    match LocalStorage::get::<SessionUser>(STORAGE_KEY) {
        Ok(stored) => {
            auth.user.set(Some(stored));
            auth.check.set(Check::Pending);
            auth.revalidate();
        }
        Err(_) => LocalStorage::delete(STORAGE_KEY),
    }
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
    pub fn notice(self) -> Option<&'static str> {
        self.notice.get()
    }

    /// Makes `user` the signed-in person and remembers them across reloads.
    pub fn sign_in(self, user: SessionUser) {
        if let Err(e) = LocalStorage::set(STORAGE_KEY, &user) {
            leptos::logging::warn!("could not persist the session: {e}");
        }
        self.notice.set(None);
        self.check.set(Check::Done);
        self.user.set(Some(user));
    }

    /// Revokes the token on the server, then forgets it here.
    ///
    /// The local copy is dropped even if the server cannot be reached.
    pub async fn sign_out(self) {
        if let Ok(api) = self.api() {
            if let Err(e) = api.signout().await {
                leptos::logging::warn!("sign-out: {e}");
            }
        }
        self.forget(SIGNED_OUT);
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
                self.forget(SESSION_ENDED);
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
                Ok(fresh) if still_current() => self.sign_in(fresh),
                Ok(_) => {}
                Err(e) if e.is_unauthorized() => {}
                Err(e) if self.check.get_untracked() == Check::Done => {
                    leptos::logging::warn!("session check: {e}");
                }
                Err(e) => self.check.set(Check::Failed(e.to_string())),
            }
        });
    }

    /// Checks a stored session again after the server could not be reached.
    pub fn retry(self) {
        self.check.set(Check::Pending);
        self.revalidate();
    }

    fn forget(self, notice: &'static str) {
        LocalStorage::delete(STORAGE_KEY);
        self.user.set(None);
        self.check.set(Check::Done);
        self.notice.set(Some(notice));
    }
}
