//! Every REST path, named once.

/// `POST`: sign in with email and password.
pub const SIGNIN: &str = "/api/v1/auths/signin";
/// `POST`: create an account.
pub const SIGNUP: &str = "/api/v1/auths/signup";
/// `POST`: sign in against the LDAP directory (when `[ldap]` is configured).
pub const LDAP_SIGNIN: &str = "/api/v1/auths/ldap";
/// `GET`: the session user of the bearer.
pub const SESSION: &str = "/api/v1/auths/";
/// `GET`: revoke the presented token; answers a [`crate::SignoutAnswer`].
pub const SIGNOUT: &str = "/api/v1/auths/signout";
/// `POST` create (replacing), `GET` metadata, `DELETE` revoke the caller's API key.
pub const API_KEY: &str = "/api/v1/auths/api_key";
/// `POST`: exchange the bearer (an IdP token, or a trusted proxy's headers)
/// for a Tessera session token.
pub const TOKEN_EXCHANGE: &str = "/api/v1/auths/token/exchange";
/// `POST` (admin): why an IdP token is accepted or refused.
pub const JWT_INSPECT: &str = "/api/v1/auths/jwt/inspect";
/// `GET` (admin): list users.
pub const USERS: &str = "/api/v1/users/";
/// `POST` (admin): change a user's role.
pub const UPDATE_ROLE: &str = "/api/v1/users/update/role";
/// `POST` (admin): end every credential of the user `{id}` (sessions, API
/// key, identity-provider tokens issued until now).
pub const USER_SIGNOUT: &str = "/api/v1/users/{id}/signout";
/// `GET` (active users): the groups.
pub const GROUPS: &str = "/api/v1/groups/";
/// `POST` (admins, holders of the `embed` permission): a single-use embed
/// ticket.
pub const EMBED_TICKETS: &str = "/api/v1/embed/tickets";
/// `POST`: redeem an embed ticket for an embed session.
pub const EMBED_REDEEM: &str = "/api/v1/embed/redeem";
/// `GET`: forward auth for reverse proxies: 200 with identity headers and
/// a signed assertion, 401 or 403.
pub const FORWARD_AUTH_VERIFY: &str = "/api/v1/auths/verify";
/// `GET`: the public keys of forward auth's assertions (a JWK Set).
pub const ASSERTION_JWKS: &str = "/.well-known/jwks.json";
/// `GET`: public configuration.
pub const PUBLIC_CONFIG: &str = "/api/config";
/// `GET`: liveness.
pub const HEALTHZ: &str = "/healthz";
/// `GET`: readiness (database reachable).
pub const READYZ: &str = "/readyz";

/// `GET`: start SSO sign-in at a provider (`?next=/path` optional).
pub const OAUTH_LOGIN: &str = "/oauth/{provider}/login";
/// `GET` (and `POST` for `response_mode=form_post`): the provider's redirect.
pub const OAUTH_CALLBACK: &str = "/oauth/{provider}/callback";
/// `POST` (form field `logout_token`): OpenID Connect Back-Channel Logout,
/// called by the provider.
pub const OAUTH_BACKCHANNEL_LOGOUT: &str = "/oauth/{provider}/backchannel-logout";
/// `POST`: the callback's one-time code for the session.
pub const OAUTH_COMPLETE: &str = "/api/v1/auths/oauth/complete";
/// `POST`: a provider access token for a Tessera session token.
pub const OAUTH_TOKEN_EXCHANGE: &str = "/api/v1/auths/oauth/{provider}/token/exchange";
/// `POST`: `tessera login` asks for the authorization URL.
pub const OAUTH_CLI_START: &str = "/api/v1/auths/oauth/{provider}/cli/start";
/// `POST`: `tessera login` hands over the callback's code.
pub const OAUTH_CLI_FINISH: &str = "/api/v1/auths/oauth/{provider}/cli/finish";
/// `GET` (admin): every provider's settings.
pub const ADMIN_OIDC_PROVIDERS: &str = "/api/v1/admin/oidc_providers";
/// `PUT` (admin) save, `DELETE` remove one provider's settings.
pub const ADMIN_OIDC_PROVIDER: &str = "/api/v1/admin/oidc_providers/{name}";
/// `POST` (admin): discovery for unsaved settings and a test round trip.
pub const ADMIN_OIDC_TEST: &str = "/api/v1/admin/oidc_providers/test";
/// `POST` (admin): the test round trip's report.
pub const ADMIN_OIDC_TEST_RESULT: &str = "/api/v1/admin/oidc_providers/test/result";
/// `GET` (admin): the audit log, filtered and paged.
pub const ADMIN_AUDIT: &str = "/api/v1/admin/audit";

/// The path that signs the user `id` out everywhere.
pub fn user_signout(id: &str) -> String {
    USER_SIGNOUT.replace("{id}", id)
}

/// The path that starts SSO sign-in at `provider`.
pub fn oauth_login(provider: &str) -> String {
    OAUTH_LOGIN.replace("{provider}", provider)
}
