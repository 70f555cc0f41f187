//! The provider registry: `[[oidc_providers]]` merged with the settings
//! saved in the database, held as an immutable snapshot that a save or a
//! delete swaps (applies to the next sign-in, no restart), and the single-use
//! markers of `state` and `nonce`.
use super::cookie::CookieKey;
use super::{flow, seal, secs, ttl_cache, Handles, OidcProviders, Provider, PENDING_TTL_SECS};
use crate::config::oidc_provider::{self, OidcProviderConfig};
use crate::config::Secret;
use crate::domain::audit::{AuditTrail, NoTrail};
use crate::error::{Error, Result};
use crate::store::oidc::SavedProvider;
use moka::sync::Cache;
use std::sync::{Arc, RwLock};
use tessera_shared::oidc::{OidcProviderLink, OidcProviderSettings};

impl OidcProviders {
    /// The registry of `config`'s providers; database settings are merged in
    /// by [`OidcProviders::reload`].
    pub fn new(
        config: &crate::Config,
        session_secret: &[u8],
        handles: Handles,
    ) -> anyhow::Result<Self> {
        let Handles {
            db,
            users,
            sessions,
            revocations,
            once,
            announcer,
            clock,
        } = handles;
        let public_url = config
            .server
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", config.server.listen));
        let list = config
            .oidc_providers
            .iter()
            .map(|c| Provider::new(c.clone(), "config").map(Arc::new))
            .collect::<std::result::Result<Vec<_>, String>>()
            .map_err(anyhow::Error::msg)?;
        Ok(Self {
            file: config.oidc_providers.clone(),
            current: RwLock::new(Arc::new(list)),
            secure: public_url.starts_with("https://"),
            public_url,
            issuer_names: config.issuers.iter().map(|i| i.name.clone()).collect(),
            issuers: config
                .issuers
                .iter()
                .map(|i| (i.issuer.clone(), i.name.clone()))
                .collect(),
            key: CookieKey::derive(session_secret),
            sealer: seal::Sealer::derive(session_secret)?,
            grant_due: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(std::time::Duration::from_secs(3600))
                .build(),
            http: flow::token_client().map_err(anyhow::Error::msg)?,
            db,
            users,
            sessions,
            revocations,
            once,
            announcer,
            audit: Arc::new(NoTrail),
            clock,
            drafts: ttl_cache(PENDING_TTL_SECS as u64),
        })
    }

    /// Records sign-ins, exchanges and back-channel logouts in `audit`
    /// (by default nowhere).
    pub fn auditing(mut self, audit: Arc<dyn AuditTrail>) -> Self {
        self.audit = audit;
        self
    }

    /// The current snapshot.
    pub fn providers(&self) -> Arc<Vec<Arc<Provider>>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The provider called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Provider>> {
        self.providers()
            .iter()
            .find(|p| p.config.name == name)
            .cloned()
    }

    /// One sign-in button per provider.
    pub fn links(&self) -> Vec<OidcProviderLink> {
        self.providers()
            .iter()
            .map(|p| OidcProviderLink {
                name: p.config.name.clone(),
                display_name: p.config.label(),
            })
            .collect()
    }

    /// The redirect URI of `name`.
    pub fn redirect_uri(&self, name: &str) -> String {
        format!("{}/oauth/{name}/callback", self.public_url)
    }

    /// Whether cookies get `Secure`.
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Builds the snapshot again from the config file and the database, and
    /// swaps it in. A saved row that no longer validates is skipped with a warning.
    pub async fn reload(&self) -> Result<()> {
        let rows = self.db.oidc_providers().await?;
        let mut list: Vec<Arc<Provider>> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for file in &self.file {
            let row = rows.iter().find(|r| r.name == file.name);
            let built = match row {
                Some(r) => self.config_of_row(r).map(|c| (c, "database")),
                None => Ok((file.clone(), "config")),
            };
            match built.and_then(|(c, src)| Provider::new(c, src)) {
                Ok(p) => list.push(Arc::new(p)),
                Err(e) => {
                    tracing::warn!(provider = %file.name, error = %e, "saved SSO settings unusable; using the config file's");
                    if let Ok(p) = Provider::new(file.clone(), "config") {
                        list.push(Arc::new(p));
                    }
                }
            }
            seen.insert(file.name.clone());
        }
        for r in rows.iter().filter(|r| !seen.contains(&r.name)) {
            match self
                .config_of_row(r)
                .and_then(|c| Provider::new(c, "database"))
            {
                Ok(p) => list.push(Arc::new(p)),
                Err(e) => {
                    tracing::warn!(provider = %r.name, error = %e, "saved SSO provider unusable; skipped")
                }
            }
        }
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(list);
        Ok(())
    }

    /// A saved row as a provider config (file-only keys kept from the file).
    fn config_of_row(&self, r: &SavedProvider) -> std::result::Result<OidcProviderConfig, String> {
        let settings: OidcProviderSettings =
            serde_json::from_str(&r.settings).map_err(|e| format!("unreadable settings: {e}"))?;
        let mut c = OidcProviderConfig::from_settings(&settings);
        c.name = r.name.clone();
        let file = self.file.iter().find(|f| f.name == r.name);
        self.inherit(&mut c, file);
        c.client_secret = match (&r.client_secret, file) {
            (Some(s), _) => Some(Secret::new(s.clone())),
            (None, Some(f)) => f.secret()?,
            (None, None) => None,
        };
        let problems = c.problems();
        if let Some(p) = problems.first() {
            return Err(p.clone());
        }
        Ok(c)
    }

    /// Keys the admin settings do not carry come from the config file.
    fn inherit(&self, c: &mut OidcProviderConfig, file: Option<&OidcProviderConfig>) {
        if let Some(f) = file {
            c.allow_insecure_http = f.allow_insecure_http;
            c.authorization_endpoint = f.authorization_endpoint.clone();
            c.token_endpoint = f.token_endpoint.clone();
            c.api_url = f.api_url.clone();
        }
    }

    /// Remembers the `state` (`s`) or `nonce` (`n`) of a sign-in that starts
    /// as usable once, for `ttl_secs`.
    pub(super) async fn allow_once(&self, kind: &str, value: &str, ttl_secs: i64) -> Result<()> {
        self.once.put(kind, value, "1".into(), secs(ttl_secs)).await
    }

    /// Uses a `state` (`s`) or `nonce` (`n`): true only for one remembered
    /// by [`Self::allow_once`] and not used yet (on any replica). Absence
    /// means "not usable": a value never started here, used, expired or lost
    /// to eviction is refused, so losing state never lets a replay through.
    pub async fn use_once(&self, kind: &str, value: &str) -> Result<bool> {
        Ok(self.once.take(kind, value).await?.is_some())
    }

    /// Every provider's settings; secrets never included.
    pub fn settings(&self) -> Vec<OidcProviderSettings> {
        self.providers()
            .iter()
            .map(|p| {
                let mut s = p.config.to_settings(p.source);
                s.client_secret_set = p.secret.is_some();
                s
            })
            .collect()
    }

    /// Unsaved settings as a provider config: a null secret means the stored
    /// one. 422 with every problem when they do not make sense.
    pub(super) fn draft(&self, name: &str, s: &OidcProviderSettings) -> Result<OidcProviderConfig> {
        if let Some(problem) = crate::config::reserved_name_problem("name", name) {
            return Err(Error::BadRequest(problem));
        }
        if !s.name.is_empty() && s.name != name {
            return Err(Error::Unprocessable(format!(
                "name: `{}` differs from the provider in the path `{name}`",
                s.name
            )));
        }
        let mut c = OidcProviderConfig::from_settings(s);
        c.name = name.to_owned();
        let file = self.file.iter().find(|f| f.name == name);
        self.inherit(&mut c, file);
        match s.client_secret.as_deref() {
            // keep the stored secret (or, once a saved one is removed, the file's)
            None => c.client_secret = self.get(name).and_then(|p| p.secret.clone()),
            Some("") => c.client_secret = file.and_then(|f| f.secret().ok().flatten()),
            Some(_) => {}
        }
        let mut problems = Vec::new();
        oidc_provider::validate(std::slice::from_ref(&c), &self.issuer_names, &mut problems);
        if !problems.is_empty() {
            return Err(Error::Unprocessable(problems.join("; ")));
        }
        Ok(c)
    }

    /// Saves a provider's settings; they apply to the next sign-in.
    pub async fn save(&self, name: &str, s: &OidcProviderSettings) -> Result<OidcProviderSettings> {
        let c = self.draft(name, s)?;
        let stored_secret = match &s.client_secret {
            Some(new) if new.is_empty() => None,
            Some(new) => Some(new.clone()),
            None => self
                .db
                .oidc_providers()
                .await?
                .into_iter()
                .find(|r| r.name == name)
                .and_then(|r| r.client_secret),
        };
        let mut clean = c.to_settings("database");
        clean.client_secret = None;
        clean.client_secret_set = false;
        let row = SavedProvider {
            name: name.to_owned(),
            settings: serde_json::to_string(&clean)
                .map_err(|e| Error::Internal(anyhow::anyhow!("encoding settings: {e}")))?,
            client_secret: stored_secret,
        };
        self.db.save_oidc_provider(&row, self.clock.now()).await?;
        self.reload().await?;
        self.announcer
            .announce(&crate::domain::Event::OidcProviders)
            .await?;
        tracing::info!(provider = %name, "SSO provider settings saved");
        self.settings()
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| {
                Error::Unprocessable(format!("the saved settings of `{name}` cannot be used"))
            })
    }

    /// Deletes saved settings: a config-file provider falls back to its file.
    pub async fn delete(&self, name: &str) -> Result<()> {
        if !self.db.delete_oidc_provider(name).await? {
            return Err(Error::NotFound("No saved settings for this provider"));
        }
        self.reload().await?;
        self.announcer
            .announce(&crate::domain::Event::OidcProviders)
            .await?;
        tracing::info!(provider = %name, "SSO provider settings deleted");
        Ok(())
    }
}
