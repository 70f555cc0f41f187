//! A real OpenID provider for the SSO tests: the certified npm package
//! `oidc-provider` (`tests/oidc-provider/server.mjs`, installed by
//! `scripts/setup.sh`) on `127.0.0.1:<ephemeral>`, plain http, with the
//! clients and accounts a test writes; stopped on drop.
//!
//! [`sign_in_via_provider`] drives a sign-in without a browser: a reqwest
//! client that keeps cookies and never follows redirects on its own walks from
//! Tessera's `/oauth/{p}/login` (or any authorization URL) through the
//! provider's login and consent forms to the final redirect.
use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::{StatusCode, Url};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;

mod driver;
pub use driver::{drive_to_callback, driver_client, end_session, sign_in_via_provider};

/// How long node gets to load the provider and listen.
const STARTUP: Duration = Duration::from_secs(20);

/// Where the provider's npm project lives.
pub fn provider_dir() -> PathBuf {
    crate::workspace_root().join("tests").join("oidc-provider")
}

/// A client registered at the provider.
#[derive(Debug, Clone, Serialize)]
pub struct ClientSpec {
    /// Its `client_id`.
    pub client_id: String,
    /// Its secret; `None` for a public client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Exactly these redirect URIs are accepted (native clients: loopback
    /// URIs with any port).
    pub redirect_uris: Vec<String>,
    /// `client_secret_basic` (default), `client_secret_post` or `none`.
    pub token_endpoint_auth_method: String,
    /// `web` (default) or `native`.
    pub application_type: String,
    /// Whether the provider refuses an authorization request without PKCE.
    pub require_pkce: bool,
    /// Deliberate misbehaviour, for the refusal tests.
    pub faults: Faults,
    /// Where the provider posts logout tokens (its ID tokens then carry
    /// `sid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// Where RP-initiated logout may send the browser back to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
}

/// Ways the provider can be told to issue a bad ID token to one client.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Faults {
    /// The ID token's `aud` names this instead of the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token_audience: Option<String>,
    /// The ID token carries this `nonce` instead of the one asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token_nonce: Option<String>,
    /// The ID token's `exp` lies this many seconds in the past.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token_expired_by: Option<u64>,
    /// The ID token carries this `azp` (authorized party).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token_azp: Option<String>,
}

impl ClientSpec {
    /// A confidential web client (`client_secret_basic`), PKCE optional.
    pub fn new(client_id: &str, client_secret: &str) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: Some(client_secret.into()),
            redirect_uris: Vec::new(),
            token_endpoint_auth_method: "client_secret_basic".into(),
            application_type: "web".into(),
            require_pkce: false,
            faults: Faults::default(),
            backchannel_logout_uri: None,
            post_logout_redirect_uris: Vec::new(),
        }
    }

    /// The provider posts logout tokens to `uri` (Back-Channel Logout).
    pub fn backchannel_logout_uri(mut self, uri: &str) -> Self {
        self.backchannel_logout_uri = Some(uri.into());
        self
    }

    /// Adds a URI RP-initiated logout may return to.
    pub fn post_logout_redirect_uri(mut self, uri: &str) -> Self {
        self.post_logout_redirect_uris.push(uri.into());
        self
    }

    /// Adds an accepted redirect URI.
    pub fn redirect_uri(mut self, uri: &str) -> Self {
        self.redirect_uris.push(uri.into());
        self
    }

    /// The provider refuses authorization requests without PKCE (S256).
    pub fn require_pkce(mut self) -> Self {
        self.require_pkce = true;
        self
    }

    /// Authenticates at the token endpoint with `method`.
    pub fn auth_method(mut self, method: &str) -> Self {
        self.token_endpoint_auth_method = method.into();
        self
    }

    /// A native client: loopback redirect URIs match whatever the port.
    pub fn native(mut self) -> Self {
        self.application_type = "native".into();
        self
    }

    /// Sets the faults.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }
}

/// An account at the provider.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    /// Its subject (also a login name).
    pub sub: String,
    /// Its password.
    pub password: String,
    /// `email`, `email_verified`, `name`, `preferred_username`, `picture`, `groups`.
    pub claims: serde_json::Map<String, Value>,
}

impl Account {
    /// An account with no claims but `sub`.
    pub fn new(sub: &str, password: &str) -> Self {
        Self {
            sub: sub.into(),
            password: password.into(),
            claims: serde_json::Map::new(),
        }
    }

    /// `email` and `email_verified`.
    pub fn email(self, email: &str, verified: bool) -> Self {
        self.claim("email", json!(email))
            .claim("email_verified", json!(verified))
    }

    /// `name`.
    pub fn name(self, name: &str) -> Self {
        self.claim("name", json!(name))
    }

    /// `preferred_username`.
    pub fn username(self, username: &str) -> Self {
        self.claim("preferred_username", json!(username))
    }

    /// `picture`.
    pub fn picture(self, url: &str) -> Self {
        self.claim("picture", json!(url))
    }

    /// `groups`.
    pub fn groups(self, groups: &[&str]) -> Self {
        self.claim("groups", json!(groups))
    }

    /// Any claim the provider passes on (see server.mjs for which).
    pub fn claim(mut self, key: &str, value: Value) -> Self {
        self.claims.insert(key.into(), value);
        self
    }
}

/// What the provider starts with.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderSpec {
    /// The registered clients.
    pub clients: Vec<ClientSpec>,
    /// The accounts.
    pub accounts: Vec<Account>,
    /// ID token lifetime in seconds (≥ 1).
    pub id_token_ttl: u64,
    /// Access token lifetime in seconds (≥ 1).
    pub access_token_ttl: u64,
    /// `false`: the ID token carries only `sub` (and the protocol claims);
    /// the rest comes from userinfo.
    pub claims_in_id_token: bool,
    /// `127.0.0.1` (default) or `localhost`: the host in the issuer URL, so a
    /// browser can see the provider as another site than Tessera.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer_host: Option<String>,
}

impl Default for ProviderSpec {
    fn default() -> Self {
        Self {
            clients: Vec::new(),
            accounts: Vec::new(),
            id_token_ttl: 3600,
            access_token_ttl: 3600,
            claims_in_id_token: true,
            issuer_host: None,
        }
    }
}

impl ProviderSpec {
    /// An empty spec.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a client.
    pub fn client(mut self, client: ClientSpec) -> Self {
        self.clients.push(client);
        self
    }

    /// Adds an account.
    pub fn account(mut self, account: Account) -> Self {
        self.accounts.push(account);
        self
    }

    /// Sets the ID token lifetime.
    pub fn id_token_ttl(mut self, seconds: u64) -> Self {
        self.id_token_ttl = seconds;
        self
    }

    /// Sets the access token lifetime.
    pub fn access_token_ttl(mut self, seconds: u64) -> Self {
        self.access_token_ttl = seconds;
        self
    }

    /// The issuer is `http://localhost:<port>`: another site than Tessera on 127.0.0.1.
    pub fn on_localhost(mut self) -> Self {
        self.issuer_host = Some("localhost".into());
        self
    }

    /// Claims only through userinfo.
    pub fn claims_only_in_userinfo(mut self) -> Self {
        self.claims_in_id_token = false;
        self
    }
}

/// A running provider.
pub struct OidcProvider {
    issuer: String,
    control_token: String,
    child: Child,
    // closing it tells the provider to exit even if the kill is missed
    _stdin: ChildStdin,
    dir: TempDir,
}

impl OidcProvider {
    /// Writes the spec, starts `node server.mjs`, waits for its ready line.
    ///
    /// A start that prints nothing within [`STARTUP`] is killed and tried
    /// again, twice at most: on a loaded machine a node process now and then
    /// hangs before its first line (seen twice in ~350 starts of a full run,
    /// never when run alone); what is tested is Tessera, not node's start.
    pub async fn start(spec: ProviderSpec) -> OidcProvider {
        let mut failures = Vec::new();
        for _ in 0..3 {
            match Self::try_start(spec.clone()).await {
                Ok(provider) => return provider,
                Err(e) => {
                    eprintln!("the OpenID provider did not start; trying again: {e:#}");
                    failures.push(format!("{e:#}"));
                }
            }
        }
        panic!(
            "the OpenID provider did not start: {}",
            failures.join("\n---\n")
        );
    }

    async fn try_start(spec: ProviderSpec) -> Result<OidcProvider> {
        let project = provider_dir();
        if !project.join("node_modules").join("oidc-provider").is_dir() {
            bail!(
                "{} has no node_modules: run scripts/setup.sh --test (or `npm ci --prefix tests/oidc-provider`)",
                project.display()
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("tessera-oidc-provider-")
            .tempdir()
            .context("temp dir")?;
        let spec_path = dir.path().join("spec.json");
        std::fs::write(&spec_path, serde_json::to_vec_pretty(&spec)?).context("writing spec")?;
        let log = std::fs::File::create(dir.path().join("provider.log")).context("log file")?;
        let node = std::env::var_os("NODE").unwrap_or_else(|| "node".into());
        let mut child = Command::new(&node)
            .arg(project.join("server.mjs"))
            .arg(&spec_path)
            .current_dir(&project)
            .env("NODE_ENV", "test")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {:?} (install nodejs)", node))?;
        let stdin = child.stdin.take().context("stdin")?;
        let stdout = child.stdout.take().context("stdout")?;
        let (tx, rx) = tokio::sync::oneshot::channel::<Option<String>>();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next().and_then(|l| l.ok());
            let _ = tx.send(first);
            // keep draining so the provider never blocks on a full pipe
            for _ in lines {}
        });
        let mut provider = OidcProvider {
            issuer: String::new(),
            control_token: String::new(),
            child,
            _stdin: stdin,
            dir,
        };
        let line = match tokio::time::timeout(STARTUP, rx).await {
            Ok(Ok(Some(line))) => line,
            _ => bail!("no ready line; its log:\n{}", provider.log()),
        };
        let ready: Value = serde_json::from_str(&line)
            .with_context(|| format!("ready line {line:?}; log:\n{}", provider.log()))?;
        provider.issuer = ready["issuer"].as_str().unwrap_or_default().to_owned();
        provider.control_token = ready["control_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if provider.issuer.is_empty() || provider.control_token.is_empty() {
            bail!("ready line without issuer or control token: {line}");
        }
        Ok(provider)
    }

    /// `http://127.0.0.1:<port>`, as in its tokens' `iss`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `{issuer}/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    /// What the provider logged (stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("provider.log")).unwrap_or_default()
    }

    /// The discovery document.
    pub async fn discovery(&self) -> Value {
        let res = crate::server::client()
            .get(self.discovery_url())
            .send()
            .await
            .expect("discovery request");
        assert_eq!(res.status(), 200, "discovery");
        res.json().await.expect("discovery JSON")
    }

    /// Creates or replaces an account while the provider runs (the next
    /// token issued for it carries the new claims).
    pub async fn put_account(&self, account: &Account) {
        self.control(&format!("/__test/accounts/{}", account.sub), account)
            .await;
    }

    /// Creates or replaces a client while the provider runs.
    pub async fn put_client(&self, client: &ClientSpec) {
        self.control(&format!("/__test/clients/{}", client.client_id), client)
            .await;
    }

    /// Ends every grant account `sub` gave (its refresh tokens stop
    /// working); how many there were.
    pub async fn revoke_grants(&self, sub: &str) -> u64 {
        let res = crate::server::client()
            .post(format!(
                "{}/__test/accounts/{sub}/revoke-grants",
                self.issuer
            ))
            .bearer_auth(&self.control_token)
            .send()
            .await
            .expect("revoke-grants request");
        assert_eq!(
            res.status(),
            200,
            "POST /__test/accounts/{sub}/revoke-grants"
        );
        let body: Value = res.json().await.expect("revoke-grants JSON");
        body["revoked"].as_u64().expect("revoked")
    }

    /// `claims` under `header` (merged over `alg` RS256 and the key's
    /// `kid`), signed with the provider's own key — the one its `jwks_uri`
    /// publishes — for tokens a provider should never send.
    pub async fn sign(&self, header: Value, claims: Value) -> String {
        let res = crate::server::client()
            .post(format!("{}/__test/sign", self.issuer))
            .bearer_auth(&self.control_token)
            .json(&json!({ "header": header, "claims": claims }))
            .send()
            .await
            .expect("sign request");
        assert_eq!(res.status(), 200, "POST /__test/sign");
        let body: Value = res.json().await.expect("sign JSON");
        body["token"].as_str().expect("token").to_owned()
    }

    async fn control(&self, path: &str, body: &impl Serialize) {
        let res = crate::server::client()
            .put(format!("{}{path}", self.issuer))
            .bearer_auth(&self.control_token)
            .json(body)
            .send()
            .await
            .expect("control request");
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        assert_eq!(status, 204, "PUT {path}: {text}");
    }

    /// A full authorization-code flow straight against the provider (no
    /// Tessera): signs `login` in with a fresh cookie jar, returns the
    /// token endpoint's answer. `pkce: false` leaves PKCE out.
    pub async fn code_flow(
        &self,
        client: &ClientSpec,
        redirect_uri: &str,
        login: &str,
        password: &str,
        pkce: bool,
    ) -> Result<Value> {
        let discovery = self.discovery().await;
        let state = random_token();
        let nonce = random_token();
        let verifier = random_token();
        let mut auth = Url::parse(discovery["authorization_endpoint"].as_str().unwrap_or(""))
            .context("authorization_endpoint")?;
        {
            let mut q = auth.query_pairs_mut();
            q.append_pair("client_id", &client.client_id)
                .append_pair("response_type", "code")
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("scope", "openid email profile")
                .append_pair("state", &state)
                .append_pair("nonce", &nonce);
            if pkce {
                q.append_pair("code_challenge", &pkce_challenge(&verifier))
                    .append_pair("code_challenge_method", "S256");
            }
        }
        let location =
            sign_in_via_provider(&driver_client(), auth.as_str(), login, password).await?;
        let back = Url::parse(&location).context("the redirect back")?;
        let query: std::collections::HashMap<String, String> =
            back.query_pairs().into_owned().collect();
        if let Some(error) = query.get("error") {
            bail!(
                "the provider refused: {error}: {}",
                query
                    .get("error_description")
                    .map(String::as_str)
                    .unwrap_or("")
            );
        }
        if query.get("state") != Some(&state) {
            bail!("state did not come back: {location}");
        }
        let code = query.get("code").context("no code")?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri),
        ];
        if pkce {
            form.push(("code_verifier", verifier.as_str()));
        }
        let mut req = crate::server::client()
            .post(discovery["token_endpoint"].as_str().unwrap_or(""))
            .form(&form);
        req = match &client.client_secret {
            Some(secret) => req.basic_auth(&client.client_id, Some(secret)),
            None => req.query(&[("client_id", &client.client_id)]),
        };
        let res = req.send().await.context("token request")?;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if status != StatusCode::OK {
            bail!("token endpoint answered {status}: {body}");
        }
        Ok(body)
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// 32 random bytes, base64url.
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// The S256 code challenge of `verifier`.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}
