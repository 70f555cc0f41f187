//! What replicas tell each other on the event channel, and what each does
//! on hearing it. Events name ids only (never a token, key or secret); the
//! receiver re-reads the database.
use crate::state::AppState;
use serde::{Deserialize, Serialize};

/// One change announced to every replica (applying one twice is harmless).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Event {
    /// A token id was revoked until `exp` (`None`: for good).
    Revoked {
        /// The token's `jti`.
        jti: String,
        /// Its expiry, Unix seconds.
        exp: Option<i64>,
    },
    /// A user's role, groups, permissions or profile changed.
    User {
        /// The user id.
        id: String,
    },
    /// A user was deleted.
    UserDeleted {
        /// The user id.
        id: String,
    },
    /// Every credential of a user was ended (sign out everywhere).
    SignedOutEverywhere {
        /// The user id.
        id: String,
    },
    /// Something that touches many users changed (a group's permissions).
    AllUsers,
    /// A user's API key was created, replaced or revoked.
    ApiKey {
        /// The owner's user id.
        user_id: String,
    },
    /// Saved SSO provider settings changed.
    OidcProviders,
}

/// An event on the wire: who sent it, and what.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope {
    /// The sending replica (a random id per process).
    pub from: String,
    /// The change.
    #[serde(flatten)]
    pub event: Event,
}

/// Applies one event's payload from another replica (a replica applied its
/// own changes when it made them); an unreadable one is logged and ignored.
pub async fn apply(state: &AppState, me: &str, payload: &[u8]) {
    let event = match serde_json::from_slice::<Envelope>(payload) {
        Ok(e) if e.from == me => return,
        Ok(e) => e.event,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable event on the Redis channel ignored");
            return;
        }
    };
    tracing::debug!(?event, "event from a replica");
    match event {
        Event::Revoked { jti, exp } => state.revocations.note(jti, exp),
        Event::User { id } => state.users.forget(&id),
        Event::UserDeleted { id } | Event::SignedOutEverywhere { id } => {
            state.users.forget(&id);
            state.api_keys.forget_user(&id);
        }
        Event::AllUsers => state.users.forget_all(),
        Event::ApiKey { user_id } => state.api_keys.forget_user(&user_id),
        Event::OidcProviders => {
            if let Err(e) = state.oidc.reload(&state.db).await {
                tracing::warn!(error = %e, "reloading SSO providers after a change failed");
            }
        }
    }
}

/// Drops everything a replica caches about users, keys and tokens; the
/// revocation set is kept (it only ever grows until tokens expire).
pub fn forget_everything(state: &AppState) {
    state.users.forget_all();
    state.api_keys.forget_all();
    for a in &state.authenticators {
        a.forget_all();
    }
}

/// After (re)subscribing: reloads the revocations (Redis and database),
/// empties the caches and reloads the SSO providers.
pub async fn catch_up(state: &AppState) -> crate::Result<()> {
    state.revocations.reload(state.clock.now()).await?;
    forget_everything(state);
    state.oidc.reload(&state.db).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_have_a_stable_wire_form() {
        let e = Event::Revoked {
            jti: "j1".into(),
            exp: Some(5),
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"t":"revoked","jti":"j1","exp":5}"#
        );
        let back: Event = serde_json::from_str(r#"{"t":"api_key","user_id":"u"}"#).unwrap();
        assert_eq!(
            back,
            Event::ApiKey {
                user_id: "u".into()
            }
        );
        assert_eq!(
            serde_json::to_string(&Event::AllUsers).unwrap(),
            r#"{"t":"all_users"}"#
        );
    }
}
