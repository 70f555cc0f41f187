//! Sign-in bodies and the session user.
use crate::user::Role;
use serde::{Deserialize, Serialize};
use std::fmt;

/// `POST /api/v1/auths/signin`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigninForm {
    /// E-mail address.
    pub email: String,
    /// Password.
    pub password: String,
}

/// `POST /api/v1/auths/signup`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignupForm {
    /// Display name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Password.
    pub password: String,
}

/// `POST /api/v1/auths/ldap`: sign in against the LDAP directory.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LdapForm {
    /// The directory user name (the value of `[ldap] username_attribute`).
    pub user: String,
    /// Password.
    pub password: String,
}

impl fmt::Debug for LdapForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapForm")
            .field("user", &self.user)
            .field("password", &"***")
            .finish()
    }
}

impl fmt::Debug for SigninForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigninForm")
            .field("email", &self.email)
            .field("password", &"***")
            .finish()
    }
}

impl fmt::Debug for SignupForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignupForm")
            .field("name", &self.name)
            .field("email", &self.email)
            .field("password", &"***")
            .finish()
    }
}

/// How the bearer of a request was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A Tessera session JWT.
    Session,
    /// A JWT issued by a trusted identity provider.
    Jwt,
    /// An `sk-` API key.
    ApiKey,
    /// Headers set by a trusted reverse proxy.
    TrustedHeader,
}

/// The signed-in person and their token: the body of sign-in, sign-up and
/// `GET /api/v1/auths/`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    /// Stable user id.
    pub id: String,
    /// E-mail address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Current role.
    pub role: Role,
    /// Avatar URL or data URL.
    pub profile_image_url: String,
    /// The bearer token to send as `Authorization: Bearer <token>`.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Unix seconds at which the token expires; `None` when it never does.
    pub expires_at: Option<i64>,
    /// How this request was authenticated.
    #[serde(default = "default_method")]
    pub auth_method: AuthMethod,
    /// For external accounts: the name of the issuer, provider or directory
    /// that vouched for the user (`ldap`, `trusted_header`, an issuer's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// For external accounts: the subject there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Groups the user belongs to.
    #[serde(default)]
    pub groups: Vec<String>,
    /// For IdP tokens: claims the issuer's `claim_mappings` copied onto the session.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub metadata: std::collections::BTreeMap<String, String>,
    /// For an embed session: the paths, scopes and locked parameters of the
    /// ticket it was redeemed from. The web app never reads or keeps it, so
    /// its build leaves the field out (and with it the code for free-form
    /// JSON: ~1.7 KB gzip of the SPA's budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", serde(skip))]
    pub embed: Option<crate::embed::EmbedGrant>,
}

/// The answer to `GET /api/v1/auths/signout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignoutAnswer {
    /// Always `true`: the credential is revoked.
    pub status: bool,
    /// For a session signed in through an OpenID provider that offers
    /// RP-initiated logout: the provider's `end_session_endpoint` (with
    /// `id_token_hint`, `post_logout_redirect_uri`, `state`, `client_id`) to
    /// send the browser to, so the provider's session ends too. It returns
    /// to `/signin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logout_url: Option<String>,
}

fn default_method() -> AuthMethod {
    AuthMethod::Session
}

impl fmt::Debug for SessionUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionUser")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("token", &"***")
            .field("expires_at", &self.expires_at)
            .field("auth_method", &self.auth_method)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_masks_secrets() {
        let f = SigninForm {
            email: "a@b.c".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{f:?}").contains("hunter2"));
        let l = LdapForm {
            user: "alice".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{l:?}").contains("hunter2"));
    }

    #[test]
    fn signout_answer_leaves_out_a_missing_logout_url() {
        let plain = SignoutAnswer {
            status: true,
            logout_url: None,
        };
        assert_eq!(serde_json::to_string(&plain).unwrap(), r#"{"status":true}"#);
        let back: SignoutAnswer = serde_json::from_str(r#"{"status":true}"#).unwrap();
        assert_eq!(back, plain);
    }

    #[test]
    fn session_user_round_trips_with_null_expiry() {
        let json = r#"{"id":"1","email":"a@b.c","name":"A","role":"admin","profile_image_url":"","token":"t","token_type":"Bearer","expires_at":null}"#;
        let u: SessionUser = serde_json::from_str(json).unwrap();
        assert_eq!(u.expires_at, None);
        assert_eq!(u.auth_method, AuthMethod::Session);
        let back = serde_json::to_value(&u).unwrap();
        assert!(back["expires_at"].is_null());
    }
}
