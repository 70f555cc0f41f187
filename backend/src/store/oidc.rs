//! SSO provider settings saved from the admin area, and SSO identities
//! linked to existing accounts.
use super::{on_pool, Db};
use crate::error::Result;

/// A saved provider: its settings (JSON, no secret) and its client secret.
#[derive(Clone)]
pub struct SavedProvider {
    /// The provider's name.
    pub name: String,
    /// `OidcProviderSettings` as JSON, `client_secret` always null.
    pub settings: String,
    /// The stored client secret, when one was saved.
    pub client_secret: Option<String>,
}

impl Db {
    /// Every saved provider, by name.
    pub async fn oidc_providers(&self) -> Result<Vec<SavedProvider>> {
        let rows: Vec<(String, String, Option<String>)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT name, settings, client_secret FROM oidc_providers ORDER BY name")
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|(name, settings, client_secret)| SavedProvider {
                name,
                settings,
                client_secret,
            })
            .collect())
    }

    /// Saves (replacing) a provider.
    pub async fn save_oidc_provider(&self, p: &SavedProvider, now: i64) -> Result<()> {
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO oidc_providers (name, settings, client_secret, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (name) DO UPDATE SET settings = excluded.settings, \
                 client_secret = excluded.client_secret, updated_at = excluded.updated_at",
            )
            .bind(&p.name)
            .bind(&p.settings)
            .bind(&p.client_secret)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Deletes a saved provider; false when there was none.
    pub async fn delete_oidc_provider(&self, name: &str) -> Result<bool> {
        let done = on_pool!(self, pool => {
            sqlx::query("DELETE FROM oidc_providers WHERE name = $1")
                .bind(name)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done > 0)
    }

    /// The account an SSO identity is linked to.
    pub async fn oidc_link(&self, provider: &str, subject: &str) -> Result<Option<String>> {
        Ok(on_pool!(self, pool => {
            sqlx::query_scalar("SELECT user_id FROM oidc_links WHERE provider = $1 AND subject = $2")
                .bind(provider)
                .bind(subject)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Links an SSO identity to an account.
    pub async fn link_oidc(
        &self,
        provider: &str,
        subject: &str,
        user_id: &str,
        now: i64,
    ) -> Result<()> {
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO oidc_links (provider, subject, user_id, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (provider, subject) DO NOTHING",
            )
            .bind(provider)
            .bind(subject)
            .bind(user_id)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}
