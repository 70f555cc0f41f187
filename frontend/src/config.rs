//! The public configuration, fetched once at start-up and shared.
use crate::api;
use leptos::prelude::*;
use tessera_shared::PublicConfig;

/// The product name shown until the configuration has arrived.
const DEFAULT_NAME: &str = "Tessera";

/// `GET /api/config`, shared through context.
#[derive(Clone, Copy)]
pub struct Config(LocalResource<api::Result<PublicConfig>>);

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Config")
    }
}

/// Starts fetching the configuration and provides it to the app.
pub fn provide_config() -> Config {
    let config = Config(LocalResource::new(api::config));
    provide_context(config);
    config
}

/// The configuration provided by the app root.
pub fn use_config() -> Config {
    expect_context()
}

impl Config {
    /// The configuration, once fetched.
    pub fn get(self) -> Option<api::Result<PublicConfig>> {
        self.0.get()
    }

    /// Fetches the configuration again (after the first account exists).
    pub fn refetch(self) {
        self.0.refetch();
    }

    /// The product name, reactively.
    pub fn name(self) -> impl Fn() -> String + Copy + Send + Sync + 'static {
        move || {
            self.0.with(|c| match c {
                Some(Ok(config)) => config.name.clone(),
                _ => DEFAULT_NAME.to_owned(),
            })
        }
    }

    /// Whether API keys are enabled on the server, reactively.
    pub fn api_keys_enabled(self) -> Signal<bool> {
        Signal::derive(move || {
            self.0
                .with(|c| matches!(c, Some(Ok(config)) if config.api_keys_enabled))
        })
    }

    /// `[embed] always`, reactively.
    pub fn embed_always(self) -> Signal<bool> {
        Signal::derive(move || {
            self.0
                .with(|c| matches!(c, Some(Ok(config)) if config.embed_always))
        })
    }

    /// `[injection] expired_redirect`, once fetched (untracked).
    pub fn expired_redirect(self) -> Option<String> {
        self.0.with_untracked(|c| match c {
            Some(Ok(config)) => config.injection_expired_redirect.clone(),
            _ => None,
        })
    }

    /// Awaits the configuration (for `Suspend`).
    pub async fn load(self) -> api::Result<PublicConfig> {
        self.0.await
    }
}
