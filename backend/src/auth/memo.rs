//! What the requests of one verified credential share: the account as last
//! looked up and the session answer rendered from it. A verified-token cache
//! entry (session and IdP tokens) and an API key's entry each hold one, so a
//! repeated credential needs neither the user-cache look-up nor the JSON
//! rendering of `GET /api/v1/auths/`.
//!
//! The account is trusted only while [`Users::generation`] is what it was
//! when it was looked up: every change to any user (role, groups,
//! permissions, deletion, here or announced by another replica) moves the
//! generation on, and the next request looks the user up again. The answer
//! is kept with the exact account object it was rendered from and handed out
//! only to a request holding that same object, so it can never show another
//! version of the account. An API key's memo keeps the answer without the
//! key (the parts before and after it): Tessera holds keys only as a hash.
//!
//! [`Users::generation`]: crate::store::users::Users::generation
use crate::domain::User;
use crate::error::Result;
use crate::store::users::Users;
use axum::body::Bytes;
use std::sync::{Arc, Mutex, MutexGuard};

/// See the module documentation. Empty until the first request fills it.
#[derive(Debug, Default)]
pub struct CredentialMemo {
    memo: Mutex<Option<Memo>>,
    /// The credential is a secret held only as a hash: keep the answer
    /// without it.
    secret: bool,
}

/// `GET /api/v1/auths/`'s body, rendered from one account object.
#[derive(Debug, Clone)]
pub enum Answer {
    /// The whole body.
    Whole(Bytes),
    /// The body before the token's JSON string and after it.
    Around(Bytes, Bytes),
}

#[derive(Debug)]
struct Memo {
    /// The users' generation when `user` was looked up.
    generation: u64,
    user: Arc<User>,
    /// Rendered from `user`.
    answer: Option<Answer>,
}

impl CredentialMemo {
    /// The memo of a credential held only as a hash: its answer is kept
    /// only as [`Answer::Around`].
    pub fn for_secret() -> Self {
        Self {
            memo: Mutex::default(),
            secret: true,
        }
    }

    /// Whether an answer may be kept whole (with the token in it).
    pub fn keeps_token(&self) -> bool {
        !self.secret
    }

    fn lock(&self) -> MutexGuard<'_, Option<Memo>> {
        self.memo.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The account `id` for a verified credential: the one kept here when no
    /// user changed since it was looked up, else looked up (and kept).
    pub async fn user_of(&self, users: &Users, id: &str) -> Result<Option<Arc<User>>> {
        let generation = users.generation();
        if let Some(user) = self.user(generation) {
            return Ok(Some(user));
        }
        let user = users.get(id).await?;
        if let Some(user) = &user {
            self.set_user(generation, user);
        }
        Ok(user)
    }

    /// The account, when it was looked up at `generation`.
    pub fn user(&self, generation: u64) -> Option<Arc<User>> {
        self.lock()
            .as_ref()
            .filter(|m| m.generation == generation)
            .map(|m| m.user.clone())
    }

    /// Keeps `user`, looked up at `generation` (read before the look-up
    /// began), in place of what was kept.
    pub fn set_user(&self, generation: u64, user: &Arc<User>) {
        let mut memo = self.lock();
        if memo
            .as_ref()
            .is_some_and(|m| m.generation == generation && Arc::ptr_eq(&m.user, user))
        {
            return; // the same: keep its answer
        }
        *memo = Some(Memo {
            generation,
            user: user.clone(),
            answer: None,
        });
    }

    /// The answer rendered from exactly `user` (the same object), if any.
    pub fn answer(&self, user: &Arc<User>) -> Option<Answer> {
        self.lock()
            .as_ref()
            .filter(|m| Arc::ptr_eq(&m.user, user))
            .and_then(|m| m.answer.clone())
    }

    /// Keeps `answer`, rendered from `user`, when `user` is still the
    /// account kept (else it is dropped: the account changed meanwhile).
    pub fn set_answer(&self, user: &Arc<User>, answer: &Answer) {
        if self.secret && matches!(answer, Answer::Whole(_)) {
            return; // would keep the secret in the clear
        }
        if let Some(m) = self.lock().as_mut().filter(|m| Arc::ptr_eq(&m.user, user)) {
            m.answer = Some(answer.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_shared::Role;

    fn user(role: Role) -> Arc<User> {
        Arc::new(User {
            id: "u".into(),
            email: "u@example.com".into(),
            name: "U".into(),
            role,
            profile_image_url: String::new(),
            source: "local".into(),
            subject: None,
            groups: vec![],
            permissions: vec![],
            created_at: 0,
            epoch: 1,
            signed_out_at: None,
        })
    }

    #[test]
    fn the_user_is_kept_for_its_generation_only() {
        let r = CredentialMemo::default();
        assert!(r.user(0).is_none());
        let u = user(Role::User);
        r.set_user(3, &u);
        assert!(Arc::ptr_eq(&r.user(3).unwrap(), &u));
        assert!(r.user(4).is_none(), "a user changed since");
        assert!(r.user(2).is_none());
    }

    fn whole(a: Option<Answer>) -> Option<Bytes> {
        match a {
            Some(Answer::Whole(b)) => Some(b),
            Some(Answer::Around(..)) => panic!("kept in parts"),
            None => None,
        }
    }

    #[test]
    fn the_answer_belongs_to_the_exact_user_object() {
        let r = CredentialMemo::default();
        let old = user(Role::User);
        let body = Bytes::from_static(b"{\"role\":\"user\"}");
        let answer = Answer::Whole(body.clone());
        r.set_answer(&old, &answer);
        assert!(r.answer(&old).is_none(), "nothing kept without the user");
        r.set_user(1, &old);
        r.set_answer(&old, &answer);
        assert_eq!(whole(r.answer(&old)).unwrap(), body);
        // the same user again at the same generation keeps the answer
        r.set_user(1, &old);
        assert_eq!(whole(r.answer(&old)).unwrap(), body);
        // a newer account object: the old answer is never handed out for it
        let new = user(Role::Admin);
        assert!(r.answer(&new).is_none());
        r.set_user(2, &new);
        assert!(r.answer(&new).is_none());
        assert!(r.answer(&old).is_none());
        // an answer rendered from the old object, stored late, is dropped
        r.set_answer(&old, &answer);
        assert!(r.answer(&new).is_none());
        assert!(r.answer(&old).is_none());
    }

    #[test]
    fn a_secret_credential_is_never_kept_in_the_answer() {
        let r = CredentialMemo::for_secret();
        assert!(!r.keeps_token());
        let u = user(Role::User);
        r.set_user(1, &u);
        r.set_answer(
            &u,
            &Answer::Whole(Bytes::from_static(b"{\"token\":\"sk-x\"}")),
        );
        assert!(r.answer(&u).is_none());
        let around = Answer::Around(Bytes::from_static(b"{\"token\":"), Bytes::from_static(b"}"));
        r.set_answer(&u, &around);
        assert!(matches!(r.answer(&u), Some(Answer::Around(..))));
        assert!(Arc::ptr_eq(&r.user(1).unwrap(), &u));
    }
}
