//! What RP-initiated logout needs of a session signed in through an OpenID
//! provider (`sso_sessions`): the provider and its raw ID token, by the
//! session's `jti`, until the session ends. In the database so any replica
//! can sign the session out, after a restart too.
use super::{on_pool, Db};
use crate::config::Secret;
use crate::error::Result;

/// One session's row. `Debug` masks the ID token.
#[derive(Debug, Clone)]
pub struct SsoSession {
    /// The Tessera session's `jti`.
    pub jti: String,
    /// The account it belongs to.
    pub user_id: String,
    /// The provider's name.
    pub provider: String,
    /// The provider's ID token (the `id_token_hint`); never logged.
    pub id_token: Option<Secret>,
    /// When the row goes (Unix seconds).
    pub expires_at: i64,
}

type Row = (String, String, Option<String>, i64);

impl Db {
    /// Keeps a session's row (an existing row of the same `jti` stays).
    pub async fn keep_sso_session(&self, s: &SsoSession, now: i64) -> Result<()> {
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO sso_sessions (jti, user_id, provider, id_token, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (jti) DO NOTHING",
            )
            .bind(&s.jti)
            .bind(&s.user_id)
            .bind(&s.provider)
            .bind(s.id_token.as_ref().map(Secret::expose))
            .bind(now)
            .bind(s.expires_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Removes the row of session `jti` and returns it when it had not
    /// expired by `now` (on every replica, at most one caller gets it).
    pub async fn take_sso_session(&self, jti: &str, now: i64) -> Result<Option<SsoSession>> {
        let row: Option<Row> = on_pool!(self, pool => {
            sqlx::query_as(
                "DELETE FROM sso_sessions WHERE jti = $1 \
                 RETURNING user_id, provider, id_token, expires_at",
            )
            .bind(jti)
            .fetch_optional(pool)
            .await?
        });
        Ok(row
            .filter(|r| r.3 > now)
            .map(|(user_id, provider, id_token, expires_at)| SsoSession {
                jti: jti.to_owned(),
                user_id,
                provider,
                id_token: id_token.map(Secret::new),
                expires_at,
            }))
    }

    /// Forgets the rows that expired by `now`.
    pub async fn purge_sso_sessions(&self, now: i64) -> Result<u64> {
        Ok(on_pool!(self, pool => {
            sqlx::query("DELETE FROM sso_sessions WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    async fn db_with_user() -> (Db, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = Db::connect(&url).await.unwrap();
        on_pool!(db, pool => {
            sqlx::query(
                "INSERT INTO users (id, email, name, role, created_at, updated_at) VALUES ('u1', 'a@x.io', 'A', 'user', 1, 1)",
            )
            .execute(pool)
            .await
            .unwrap();
        });
        (db, dir)
    }

    fn row(jti: &str, expires_at: i64) -> SsoSession {
        SsoSession {
            jti: jti.into(),
            user_id: "u1".into(),
            provider: "kc".into(),
            id_token: Some(Secret::new("eyJ.id.token")),
            expires_at,
        }
    }

    #[tokio::test]
    async fn a_row_is_taken_once_and_expired_rows_are_purged() {
        let (db, _dir) = db_with_user().await;
        db.keep_sso_session(&row("live", NOW + 60), NOW)
            .await
            .unwrap();
        db.keep_sso_session(&row("old", NOW - 1), NOW)
            .await
            .unwrap();
        let got = db.take_sso_session("live", NOW).await.unwrap().unwrap();
        assert_eq!(got.provider, "kc");
        assert_eq!(
            got.id_token.as_ref().map(Secret::expose),
            Some("eyJ.id.token")
        );
        assert!(!format!("{got:?}").contains("eyJ.id.token"), "masked");
        assert!(db.take_sso_session("live", NOW).await.unwrap().is_none());
        assert_eq!(db.purge_sso_sessions(NOW).await.unwrap(), 1);
        assert!(db.take_sso_session("old", NOW).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn an_expired_row_is_not_handed_out() {
        let (db, _dir) = db_with_user().await;
        db.keep_sso_session(&row("s", NOW + 10), NOW).await.unwrap();
        assert!(db.take_sso_session("s", NOW + 10).await.unwrap().is_none());
    }
}
