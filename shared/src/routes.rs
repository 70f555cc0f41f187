//! Every REST path, named once.

/// `POST`: sign in with email and password.
pub const SIGNIN: &str = "/api/v1/auths/signin";
/// `POST`: create an account.
pub const SIGNUP: &str = "/api/v1/auths/signup";
/// `POST`: sign in against the LDAP directory (when `[ldap]` is configured).
pub const LDAP_SIGNIN: &str = "/api/v1/auths/ldap";
/// `GET`: the session user of the bearer.
pub const SESSION: &str = "/api/v1/auths/";
/// `GET`: revoke the presented token.
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
/// `GET` (active users): the groups.
pub const GROUPS: &str = "/api/v1/groups/";
/// `GET`: public configuration.
pub const PUBLIC_CONFIG: &str = "/api/config";
/// `GET`: liveness.
pub const HEALTHZ: &str = "/healthz";
/// `GET`: readiness (database reachable).
pub const READYZ: &str = "/readyz";
