//! The typed REST client: every request to the backend goes through [`send`].
//!
//! The free functions need no credentials; [`AuthorizedApi`] carries a bearer
//! token and reports a 401 on any of its calls to whoever created it.
mod error;

pub use error::Error;

use gloo_net::http::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use tessera_shared::{
    routes, ApiKeyCreated, ApiKeyInfo, EmbedRedeemForm, InspectForm, InspectReport, LdapForm,
    OauthCompleteForm, OidcProviderSettings, OidcTestReport, OidcTestResultForm, OidcTestStarted,
    PublicConfig, SessionUser, SigninForm, SignupForm, UpdateRoleForm, UserInfo,
};

/// The result of an API call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `GET /api/config`.
pub async fn config() -> Result<PublicConfig> {
    decode(&send(Method::GET, routes::PUBLIC_CONFIG, None, None).await?)
}

/// `POST /api/v1/auths/signin`.
pub async fn signin(form: &SigninForm) -> Result<SessionUser> {
    decode(&send(Method::POST, routes::SIGNIN, None, Some(to_json(form)?)).await?)
}

/// `POST /api/v1/auths/ldap`: sign-in against the LDAP directory.
pub async fn ldap_signin(form: &LdapForm) -> Result<SessionUser> {
    let body = Some(to_json(form)?);
    decode(&send(Method::POST, routes::LDAP_SIGNIN, None, body).await?)
}

/// `GET /api/v1/auths/` with no token: signed in when a trusted reverse proxy
/// vouches for the visitor (`[trusted_header]`), else 401.
pub async fn proxy_session() -> Result<SessionUser> {
    decode(&send(Method::GET, routes::SESSION, None, None).await?)
}

/// `POST /api/v1/auths/signup`.
pub async fn signup(form: &SignupForm) -> Result<SessionUser> {
    decode(&send(Method::POST, routes::SIGNUP, None, Some(to_json(form)?)).await?)
}

/// `POST /api/v1/auths/token/exchange`: a Tessera session for an IdP `token`.
pub async fn exchange(token: &str) -> Result<SessionUser> {
    decode(&send(Method::POST, routes::TOKEN_EXCHANGE, Some(token), None).await?)
}

/// `POST /api/v1/auths/oauth/complete`: the SSO callback's one-time code for a session.
pub async fn oauth_complete(code: String) -> Result<SessionUser> {
    let body = Some(to_json(&OauthCompleteForm { code })?);
    decode(&send(Method::POST, routes::OAUTH_COMPLETE, None, body).await?)
}

/// `POST /api/v1/embed/redeem`: the embed session of a single-use ticket.
pub async fn redeem(form: &EmbedRedeemForm) -> Result<SessionUser> {
    let body = Some(to_json(form)?);
    decode(&send(Method::POST, routes::EMBED_REDEEM, None, body).await?)
}

/// A client that presents a bearer token.
#[derive(Clone)]
pub struct AuthorizedApi {
    token: String,
    on_unauthorized: Rc<dyn Fn()>,
}

impl AuthorizedApi {
    /// A client for `token`; `on_unauthorized` runs whenever the server
    /// answers 401, before the error is returned.
    pub fn new(token: String, on_unauthorized: impl Fn() + 'static) -> Self {
        Self {
            token,
            on_unauthorized: Rc::new(on_unauthorized),
        }
    }

    /// The bearer token this client presents.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// `GET /api/v1/auths/`: the session user of the token.
    pub async fn session(&self) -> Result<SessionUser> {
        decode(&self.call(Method::GET, routes::SESSION, None).await?)
    }

    /// `GET /api/v1/auths/signout`: revokes the token; for an SSO session,
    /// possibly the provider's logout URL (`tessera_shared::SignoutAnswer`'s `logout_url`,
    /// read from the JSON value: the SPA's JSON reader for values is linked
    /// anyway, a decoder of its own for this answer is not).
    pub async fn signout(&self) -> Result<Option<String>> {
        let answer: serde_json::Value =
            decode(&self.call(Method::GET, routes::SIGNOUT, None).await?)?;
        Ok(answer
            .get("logout_url")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned))
    }

    /// `GET /api/v1/auths/api_key`: `None` when the person has no key.
    pub async fn api_key(&self) -> Result<Option<ApiKeyInfo>> {
        match self.call(Method::GET, routes::API_KEY, None).await {
            Ok(body) => decode(&body).map(Some),
            Err(Error::Api { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /api/v1/auths/api_key`: a new key (replacing the old), shown once.
    pub async fn create_api_key(&self) -> Result<ApiKeyCreated> {
        decode(&self.call(Method::POST, routes::API_KEY, None).await?)
    }

    /// `DELETE /api/v1/auths/api_key`.
    pub async fn revoke_api_key(&self) -> Result<()> {
        self.call(Method::DELETE, routes::API_KEY, None)
            .await
            .map(drop)
    }

    /// `POST /api/v1/auths/jwt/inspect` (admin).
    pub async fn inspect(&self, form: &InspectForm) -> Result<InspectReport> {
        let body = to_json(form)?;
        decode(
            &self
                .call(Method::POST, routes::JWT_INSPECT, Some(body))
                .await?,
        )
    }

    /// `GET /api/v1/users/` (admin).
    pub async fn users(&self) -> Result<Vec<UserInfo>> {
        decode(&self.call(Method::GET, routes::USERS, None).await?)
    }

    /// `GET /api/v1/groups/`: each group's name and member count, as text
    /// (read from the JSON value, like [`signout`](Self::signout), for the SPA's size).
    pub async fn groups(&self) -> Result<String> {
        let groups: serde_json::Value =
            decode(&self.call(Method::GET, routes::GROUPS, None).await?)?;
        let mut text = String::new();
        for g in groups.as_array().into_iter().flatten() {
            text += g["name"].as_str().unwrap_or_default();
            text += " (";
            text += &g["members"].to_string();
            text += ") ";
        }
        Ok(text)
    }

    /// `POST /api/v1/users/update/role` (admin).
    pub async fn update_role(&self, form: &UpdateRoleForm) -> Result<UserInfo> {
        let body = to_json(form)?;
        decode(
            &self
                .call(Method::POST, routes::UPDATE_ROLE, Some(body))
                .await?,
        )
    }

    /// `POST /api/v1/users/{id}/signout` (admin): ends every credential of
    /// the user.
    pub async fn sign_out_user(&self, id: &str) -> Result<()> {
        self.call(
            Method::POST,
            &routes::user_signout(&crate::url::encode(id)),
            Some("{}".into()),
        )
        .await
        .map(drop)
    }

    /// `GET /api/v1/admin/oidc_providers` (admin).
    pub async fn oidc_providers(&self) -> Result<Vec<OidcProviderSettings>> {
        decode(
            &self
                .call(Method::GET, routes::ADMIN_OIDC_PROVIDERS, None)
                .await?,
        )
    }

    /// `PUT /api/v1/admin/oidc_providers/{name}` (admin): the saved settings.
    pub async fn save_oidc_provider(
        &self,
        settings: &OidcProviderSettings,
    ) -> Result<OidcProviderSettings> {
        let body = to_json(settings)?;
        let path = oidc_provider_path(&settings.name);
        decode(&self.call(Method::PUT, &path, Some(body)).await?)
    }

    /// `DELETE /api/v1/admin/oidc_providers/{name}` (admin).
    pub async fn delete_oidc_provider(&self, name: &str) -> Result<()> {
        let path = oidc_provider_path(name);
        self.call(Method::DELETE, &path, None).await.map(drop)
    }

    /// `POST /api/v1/admin/oidc_providers/test` (admin): discovery for
    /// unsaved settings, and where to start the test round trip.
    pub async fn test_oidc_provider(
        &self,
        settings: &OidcProviderSettings,
    ) -> Result<OidcTestStarted> {
        let body = to_json(settings)?;
        decode(
            &self
                .call(Method::POST, routes::ADMIN_OIDC_TEST, Some(body))
                .await?,
        )
    }

    /// `POST /api/v1/admin/oidc_providers/test/result` (admin): the report of
    /// the round trip that ended with `code`.
    pub async fn oidc_test_result(&self, code: String) -> Result<OidcTestReport> {
        let body = to_json(&OidcTestResultForm { code })?;
        decode(
            &self
                .call(Method::POST, routes::ADMIN_OIDC_TEST_RESULT, Some(body))
                .await?,
        )
    }

    async fn call(&self, method: Method, path: &str, body: Option<String>) -> Result<String> {
        let result = send(method, path, Some(&self.token), body).await;
        if matches!(&result, Err(e) if e.is_unauthorized()) {
            (self.on_unauthorized)();
        }
        result
    }
}

/// Sends one request and reads the body; any status outside 2xx becomes
/// [`Error::Api`]. Every `POST`, `PUT` and `PATCH` says `Content-Type:
/// application/json`, body or not: the server refuses those that do not (415).
///
/// Not generic and boxed: the request code is compiled once, not into the
/// future of every call (the SPA's size; docs/benchmarks.md, "SPA size").
fn send(
    method: Method,
    path: &str,
    token: Option<&str>,
    json: Option<String>,
) -> Pin<Box<dyn Future<Output = Result<String>>>> {
    let changes_state = matches!(method, Method::POST | Method::PUT | Method::PATCH);
    let mut builder = RequestBuilder::new(path)
        .method(method)
        .header("Accept", "application/json");
    if let Some(token) = token {
        builder = builder.header("Authorization", &format!("Bearer {token}"));
    }
    if changes_state || json.is_some() {
        builder = builder.header("Content-Type", "application/json");
    }
    let request = match json {
        Some(json) => builder.body(json),
        None => builder.build(),
    };
    Box::pin(async move {
        let response = request.map_err(network)?.send().await.map_err(network)?;
        let body = response.text().await;
        if response.ok() {
            return body.map_err(unreadable);
        }
        let status = response.status();
        // `ErrorBody`'s `detail`, read from the JSON value (the SPA's size)
        let body = body
            .ok()
            .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok());
        let detail = match body.as_ref().and_then(|b| b["detail"].as_str()) {
            Some(detail) => detail.to_owned(),
            None => format!("The server answered {status} {}", response.status_text()),
        };
        Err(Error::Api { status, detail })
    })
}

/// The body of a successful response as `T`.
fn decode<T: DeserializeOwned>(body: &str) -> Result<T> {
    serde_json::from_str(body).map_err(unreadable)
}

fn unreadable(e: impl std::fmt::Display) -> Error {
    Error::Network(format!("unreadable response ({e})"))
}

fn to_json(body: &impl Serialize) -> Result<String> {
    serde_json::to_string(body).map_err(|e| Error::Network(e.to_string()))
}

fn oidc_provider_path(name: &str) -> String {
    routes::ADMIN_OIDC_PROVIDER.replace("{name}", &crate::url::encode(name))
}

fn network(e: gloo_net::Error) -> Error {
    Error::Network(e.to_string())
}
