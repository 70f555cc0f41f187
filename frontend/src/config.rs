//! The public configuration, fetched once at start-up and shared.
//!
//! A signal and a list of callbacks waiting for it, not a `LocalResource`:
//! the few places that must wait for it pass a callback to [`Config::then`]
//! (the SPA's size; docs/benchmarks.md, "SPA size").
use crate::api;
use leptos::prelude::*;
use leptos::task::spawn_local;
use tessera_shared::PublicConfig;

/// The product name shown until the configuration has arrived.
const DEFAULT_NAME: &str = "Tessera";

/// What waits for the configuration.
type Waiter = Box<dyn FnOnce(&api::Result<PublicConfig>)>;

/// `GET /api/config`, shared through context.
#[derive(Clone, Copy)]
pub struct Config {
    value: RwSignal<Option<api::Result<PublicConfig>>>,
    waiting: StoredValue<Vec<Waiter>, LocalStorage>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Config")
    }
}

/// Starts fetching the configuration and provides it to the app.
pub fn provide_config() -> Config {
    let config = Config {
        value: RwSignal::new(None),
        waiting: StoredValue::new_local(Vec::new()),
    };
    provide_context(config);
    config.refetch();
    config
}

/// The configuration provided by the app root.
pub fn use_config() -> Config {
    expect_context()
}

impl Config {
    /// The configuration, once fetched.
    pub fn get(self) -> Option<api::Result<PublicConfig>> {
        self.value.get()
    }

    /// The configuration, once fetched, without tracking.
    pub fn get_untracked(self) -> Option<api::Result<PublicConfig>> {
        self.value.get_untracked()
    }

    /// Fetches the configuration (again, after the first account exists);
    /// hands it to whatever [`then`](Config::then) was waiting.
    pub fn refetch(self) {
        spawn_local(async move {
            let fetched = api::config().await;
            let waiting = self
                .waiting
                .try_update_value(std::mem::take)
                .unwrap_or_default();
            for waiter in waiting {
                waiter(&fetched);
            }
            self.value.set(Some(fetched));
        });
    }

    /// Runs `f` with the configuration once it has arrived (at once when it has).
    pub fn then(self, f: impl FnOnce(&api::Result<PublicConfig>) + 'static) {
        self.wait(Box::new(f));
    }

    fn wait(self, f: Waiter) {
        match self.value.get_untracked() {
            Some(config) => f(&config),
            None => self.waiting.update_value(|w| w.push(f)),
        }
    }

    /// `f` of the configuration, or `default` before it has arrived or when
    /// it could not be read; reactively.
    fn read<T>(self, default: T, f: impl FnOnce(&PublicConfig) -> T) -> T {
        self.value.with(|c| match c {
            Some(Ok(config)) => f(config),
            _ => default,
        })
    }

    /// The product name, reactively.
    pub fn name(self) -> impl Fn() -> String + Copy + Send + Sync + 'static {
        move || self.read(DEFAULT_NAME.to_owned(), |c| c.name.clone())
    }

    /// Whether API keys are enabled on the server, reactively.
    pub fn api_keys_enabled(self) -> Signal<bool> {
        Signal::derive(move || self.read(false, |c| c.api_keys_enabled))
    }

    /// `[embed] always`, reactively.
    pub fn embed_always(self) -> Signal<bool> {
        Signal::derive(move || self.read(false, |c| c.embed_always))
    }

    /// `[ui] expiry_warning` in seconds, reactively; 0 (no banner) until known.
    pub fn expiry_warning(self) -> i64 {
        self.read(0, |c| c.ui_expiry_warning_secs.into())
    }

    /// `[injection] expired_redirect`, once fetched (untracked).
    pub fn expired_redirect(self) -> Option<String> {
        self.value.with_untracked(|c| match c {
            Some(Ok(config)) => config.injection_expired_redirect.clone(),
            _ => None,
        })
    }
}
