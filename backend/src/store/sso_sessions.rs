//! What the server keeps of a session signed in through an OpenID provider
//! (`sso_sessions`), by the session's `jti`, until the session ends: the
//! provider and its raw ID token (RP-initiated logout), and for a session
//! that lives as long as the provider's grant its sealed refresh token and
//! when to renew it. In the database so any replica can sign the session out
//! or renew it, after a restart too.
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
    /// The provider's grant, for a session that lives as long as it does.
    pub grant: Option<Grant>,
}

/// A provider grant as kept: the refresh token sealed by the caller (the
/// store never sees it in the clear).
#[derive(Clone, PartialEq, Eq)]
pub struct Grant {
    /// The sealed refresh token.
    pub sealed_refresh_token: String,
    /// When the provider's access token expires (Unix seconds).
    pub access_expires_at: i64,
    /// When the server renews it (Unix seconds).
    pub refresh_at: i64,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_at", &self.refresh_at)
            .finish_non_exhaustive()
    }
}

/// Where a session's grant stands, as another replica may have left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantTimes {
    /// When the provider's access token expires.
    pub access_expires_at: i64,
    /// When it is to be renewed.
    pub refresh_at: i64,
    /// Until when a replica holds the right to renew it.
    pub lease_until: Option<i64>,
}

/// A grant leased for renewal: what the renewal needs.
#[derive(Debug, Clone)]
pub struct Leased {
    /// The account.
    pub user_id: String,
    /// The provider's name.
    pub provider: String,
    /// The current ID token (its `sub` must stay the same).
    pub id_token: Option<Secret>,
    /// The grant.
    pub grant: Grant,
    /// When the session's row goes.
    pub expires_at: i64,
}

type Row = (String, String, Option<String>, i64);
type LeaseRow = (String, String, Option<String>, String, i64, i64, i64);

impl Db {
    /// Keeps a session's row (an existing row of the same `jti` stays).
    pub async fn keep_sso_session(&self, s: &SsoSession, now: i64) -> Result<()> {
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO sso_sessions (jti, user_id, provider, id_token, created_at, expires_at, \
                 refresh_token, access_expires_at, refresh_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (jti) DO NOTHING",
            )
            .bind(&s.jti)
            .bind(&s.user_id)
            .bind(&s.provider)
            .bind(s.id_token.as_ref().map(Secret::expose))
            .bind(now)
            .bind(s.expires_at)
            .bind(s.grant.as_ref().map(|g| g.sealed_refresh_token.as_str()))
            .bind(s.grant.as_ref().map(|g| g.access_expires_at))
            .bind(s.grant.as_ref().map(|g| g.refresh_at))
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
                grant: None,
            }))
    }

    /// Where the grant of session `jti` stands; `None` when the session has
    /// no row (it ended: signed out, its grant refused) or no grant.
    pub async fn grant_times(&self, jti: &str, now: i64) -> Result<Option<GrantTimes>> {
        let row: Option<(Option<i64>, Option<i64>, Option<i64>)> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT access_expires_at, refresh_at, lease_until FROM sso_sessions \
                 WHERE jti = $1 AND expires_at > $2",
            )
            .bind(jti)
            .bind(now)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.and_then(|(a, r, l)| {
            Some(GrantTimes {
                access_expires_at: a?,
                refresh_at: r?,
                lease_until: l,
            })
        }))
    }

    /// Takes the right to renew the grant of session `jti` until
    /// `lease_until`, when it is due by `now` and no other caller holds that
    /// right: at most one caller on every replica gets it.
    pub async fn lease_grant(
        &self,
        jti: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<Option<Leased>> {
        let row: Option<LeaseRow> = on_pool!(self, pool => {
            sqlx::query_as(
                "UPDATE sso_sessions SET lease_until = $3 \
                 WHERE jti = $1 AND expires_at > $2 AND refresh_token IS NOT NULL \
                 AND refresh_at <= $2 AND (lease_until IS NULL OR lease_until <= $2) \
                 RETURNING user_id, provider, id_token, refresh_token, access_expires_at, refresh_at, expires_at",
            )
            .bind(jti)
            .bind(now)
            .bind(lease_until)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(
            |(user_id, provider, id_token, rt, access_expires_at, refresh_at, expires_at)| Leased {
                user_id,
                provider,
                id_token: id_token.map(Secret::new),
                grant: Grant {
                    sealed_refresh_token: rt,
                    access_expires_at,
                    refresh_at,
                },
                expires_at,
            },
        ))
    }

    /// Keeps the renewed grant of session `jti` (and the new ID token, when
    /// the provider sent one) and gives up the lease.
    pub async fn renewed_grant(
        &self,
        jti: &str,
        grant: &Grant,
        id_token: Option<&Secret>,
    ) -> Result<()> {
        on_pool!(self, pool => {
            sqlx::query(
                "UPDATE sso_sessions SET refresh_token = $2, access_expires_at = $3, refresh_at = $4, \
                 id_token = COALESCE($5, id_token), lease_until = NULL WHERE jti = $1",
            )
            .bind(jti)
            .bind(&grant.sealed_refresh_token)
            .bind(grant.access_expires_at)
            .bind(grant.refresh_at)
            .bind(id_token.map(Secret::expose))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Holds the lease of session `jti` until `until` (after a renewal that
    /// could not reach the provider: the next try waits until then).
    pub async fn hold_lease(&self, jti: &str, until: i64) -> Result<()> {
        on_pool!(self, pool => {
            sqlx::query("UPDATE sso_sessions SET lease_until = $2 WHERE jti = $1")
                .bind(jti)
                .bind(until)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Forgets the row of session `jti` (its grant was refused).
    pub async fn drop_sso_session(&self, jti: &str) -> Result<()> {
        on_pool!(self, pool => {
            sqlx::query("DELETE FROM sso_sessions WHERE jti = $1")
                .bind(jti)
                .execute(pool)
                .await?;
        });
        Ok(())
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
            grant: None,
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
    async fn a_grant_is_leased_to_one_caller_when_due_and_renewed() {
        let (db, _dir) = db_with_user().await;
        let mut r = row("g", NOW + 600);
        r.grant = Some(Grant {
            sealed_refresh_token: "sealed-1".into(),
            access_expires_at: NOW + 20,
            refresh_at: NOW + 15,
        });
        db.keep_sso_session(&r, NOW).await.unwrap();
        let times = db.grant_times("g", NOW).await.unwrap().unwrap();
        assert_eq!((times.refresh_at, times.lease_until), (NOW + 15, None));
        assert!(
            db.lease_grant("g", NOW + 14, NOW + 24)
                .await
                .unwrap()
                .is_none(),
            "not due"
        );
        let leased = db
            .lease_grant("g", NOW + 15, NOW + 25)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(leased.grant.sealed_refresh_token, "sealed-1");
        assert_eq!(leased.provider, "kc");
        assert!(
            db.lease_grant("g", NOW + 16, NOW + 26)
                .await
                .unwrap()
                .is_none(),
            "leased"
        );
        let next = Grant {
            sealed_refresh_token: "sealed-2".into(),
            access_expires_at: NOW + 40,
            refresh_at: NOW + 35,
        };
        db.renewed_grant("g", &next, Some(&Secret::new("eyJ.new")))
            .await
            .unwrap();
        let times = db.grant_times("g", NOW + 16).await.unwrap().unwrap();
        assert_eq!((times.refresh_at, times.lease_until), (NOW + 35, None));
        let leased = db
            .lease_grant("g", NOW + 35, NOW + 45)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(leased.grant, next);
        assert_eq!(
            leased.id_token.as_ref().map(Secret::expose),
            Some("eyJ.new")
        );
        db.hold_lease("g", NOW + 50).await.unwrap();
        assert!(db
            .lease_grant("g", NOW + 49, NOW + 59)
            .await
            .unwrap()
            .is_none());
        db.drop_sso_session("g").await.unwrap();
        assert!(db.grant_times("g", NOW + 49).await.unwrap().is_none());
        // a row without a grant has no times and is never leased
        db.keep_sso_session(&row("plain", NOW + 600), NOW)
            .await
            .unwrap();
        assert!(db.grant_times("plain", NOW).await.unwrap().is_none());
        assert!(db
            .lease_grant("plain", NOW, NOW + 10)
            .await
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn an_expired_row_is_not_handed_out() {
        let (db, _dir) = db_with_user().await;
        db.keep_sso_session(&row("s", NOW + 10), NOW).await.unwrap();
        assert!(db.take_sso_session("s", NOW + 10).await.unwrap().is_none());
    }
}
