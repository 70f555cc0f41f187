//! What replicas tell each other on the event channel, and what each does
//! on hearing it. Events name ids only (never a token, key or secret); the
//! receiver re-reads the database.
use crate::domain::Event;
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// An event on the wire: who sent it, and what.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope {
    /// The sending replica (a random id per process).
    pub from: String,
    /// The change.
    #[serde(flatten)]
    pub event: Event,
}

/// What a replica does on hearing of another's changes; the application's
/// wiring (`state.rs`) implements it over the caches it built.
#[async_trait::async_trait]
pub trait Follower: Send + Sync + 'static {
    /// Applies one change another replica made.
    async fn apply(&self, event: Event);
    /// Drops everything cached about users, keys and tokens; the revocation
    /// set is kept (it only ever grows until tokens expire).
    fn forget_everything(&self);
    /// After (re)subscribing: reloads what may have been missed and empties
    /// the caches.
    async fn catch_up(&self) -> Result<()>;
}

/// Applies one event's payload from another replica (a replica applied its
/// own changes when it made them); an unreadable one is logged and ignored.
pub async fn apply(follower: &dyn Follower, me: &str, payload: &[u8]) {
    let event = match serde_json::from_slice::<Envelope>(payload) {
        Ok(e) if e.from == me => return,
        Ok(e) => e.event,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable event on the Redis channel ignored");
            return;
        }
    };
    tracing::debug!(?event, "event from a replica");
    follower.apply(event).await;
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
