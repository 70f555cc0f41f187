//! `[[oidc_providers]]`: one table per SSO provider, validated with messages
//! that say what to fix, and its conversion to and from the admin settings'
//! [`OidcProviderSettings`].
use super::urls::check_url;
use super::values::{default_role, reserved_name_problem, role_mapping, Secret};
use crate::domain::RoleMapping;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use tessera_shared::oidc::{OidcProviderSettings, ProviderKind, ResponseMode};
use tessera_shared::Role;

/// Google's discovery document.
pub const GOOGLE_DISCOVERY: &str = "https://accounts.google.com/.well-known/openid-configuration";

/// One `[[oidc_providers]]` table. See docs/oidc.md.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcProviderConfig {
    /// The `{provider}` in the paths: `[a-z0-9_-]`, 1–40 characters.
    pub name: String,
    /// The button's label; the name when unset.
    #[serde(default)]
    pub display_name: Option<String>,
    /// `oidc` (default), `github`, `entra` or `google`.
    #[serde(default)]
    pub kind: ProviderKind,
    /// The OIDC discovery document.
    #[serde(default)]
    pub discovery_url: Option<String>,
    /// Entra ID: the directory (tenant) id.
    #[serde(default)]
    pub tenant: Option<String>,
    /// The client id registered at the provider.
    #[serde(default)]
    pub client_id: String,
    /// The client secret (or `client_secret_file`).
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// A file holding the client secret.
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Scopes; `openid email profile` (OIDC) or `read:user user:email` (GitHub) when empty.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Claim (name or JSON Pointer) with the user name; `preferred_username`.
    #[serde(default)]
    pub username_claim: Option<String>,
    /// Claim with the e-mail; `email`.
    #[serde(default)]
    pub email_claim: Option<String>,
    /// Claim with the display name; `name`.
    #[serde(default)]
    pub name_claim: Option<String>,
    /// Claim with the avatar URL; `picture`.
    #[serde(default)]
    pub picture_claim: Option<String>,
    /// Claim with the groups; none when unset.
    #[serde(default)]
    pub groups_claim: Option<String>,
    /// Members of these groups become admins.
    #[serde(default)]
    pub admin_groups: Vec<String>,
    /// When non-empty: only members of these (or of `admin_groups`) may sign in.
    #[serde(default)]
    pub user_groups: Vec<String>,
    /// Role of everyone else who gets in.
    #[serde(default = "default_role")]
    pub default_role: Role,
    /// Link to an existing local account with the same, verified, e-mail.
    #[serde(default)]
    pub merge_accounts_by_email: bool,
    /// `query` (default) or `form_post`.
    #[serde(default)]
    pub response_mode: ResponseMode,
    /// Log received claims at info level.
    #[serde(default)]
    pub verbose: bool,
    /// RP-initiated logout: signing out of a session signed in here sends
    /// the browser to the provider's `end_session_endpoint`, when its
    /// discovery names one.
    #[serde(default = "rp_logout_default")]
    pub rp_logout: bool,
    /// Allows `http://` provider URLs on hosts other than loopback.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// GitHub (or a stand-in for tests): the authorization endpoint.
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    /// GitHub: the token endpoint.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// GitHub: the REST API base (`/user`, `/user/emails`).
    #[serde(default)]
    pub api_url: Option<String>,
}

impl OidcProviderConfig {
    /// A provider with every default.
    pub fn new(name: &str) -> Self {
        Self::from_settings(&OidcProviderSettings {
            name: name.into(),
            ..OidcProviderSettings::default()
        })
    }

    /// The button's label.
    pub fn label(&self) -> String {
        self.display_name
            .clone()
            .filter(|d| !d.trim().is_empty())
            .unwrap_or_else(|| self.name.clone())
    }

    /// The role mapping.
    pub fn role_mapping(&self) -> RoleMapping {
        role_mapping(&self.admin_groups, &self.user_groups, self.default_role)
    }

    /// The discovery document's URL (derived for `google` and `entra`).
    pub fn discovery(&self) -> Option<String> {
        if let Some(u) = self.discovery_url.as_ref().filter(|u| !u.is_empty()) {
            return Some(u.clone());
        }
        match self.kind {
            ProviderKind::Google => Some(GOOGLE_DISCOVERY.into()),
            ProviderKind::Entra => self.tenant.as_ref().map(|t| {
                format!(
                    "https://login.microsoftonline.com/{t}/v2.0/.well-known/openid-configuration"
                )
            }),
            _ => None,
        }
    }

    /// The scopes asked for.
    pub fn scopes(&self) -> Vec<String> {
        if !self.scopes.is_empty() {
            return self.scopes.clone();
        }
        match self.kind {
            ProviderKind::Github => vec!["read:user".into(), "user:email".into()],
            _ => vec!["openid".into(), "email".into(), "profile".into()],
        }
    }

    /// The username claim.
    pub fn username_claim(&self) -> &str {
        self.username_claim
            .as_deref()
            .unwrap_or("preferred_username")
    }
    /// The e-mail claim.
    pub fn email_claim(&self) -> &str {
        self.email_claim.as_deref().unwrap_or("email")
    }
    /// The display-name claim.
    pub fn name_claim(&self) -> &str {
        self.name_claim.as_deref().unwrap_or("name")
    }
    /// The avatar claim.
    pub fn picture_claim(&self) -> &str {
        self.picture_claim.as_deref().unwrap_or("picture")
    }

    /// The client secret: inline, or read from `client_secret_file`.
    pub fn secret(&self) -> Result<Option<Secret>, String> {
        if let Some(s) = &self.client_secret {
            return Ok(Some(s.clone()));
        }
        match &self.client_secret_file {
            Some(f) => {
                let s = std::fs::read_to_string(f)
                    .map_err(|e| format!("reading client_secret_file {}: {e}", f.display()))?;
                Ok(Some(Secret::new(s.trim())))
            }
            None => Ok(None),
        }
    }

    /// From the admin settings (the secret as given; `None` keeps nothing).
    pub fn from_settings(s: &OidcProviderSettings) -> Self {
        let opt = |v: &Option<String>| v.clone().filter(|x| !x.trim().is_empty());
        Self {
            name: s.name.clone(),
            display_name: Some(s.display_name.clone()).filter(|d| !d.trim().is_empty()),
            kind: s.kind,
            discovery_url: opt(&s.discovery_url),
            tenant: opt(&s.tenant),
            client_id: s.client_id.clone(),
            client_secret: s
                .client_secret
                .clone()
                .filter(|x| !x.is_empty())
                .map(Secret::new),
            client_secret_file: None,
            scopes: s.scopes.iter().filter(|x| !x.is_empty()).cloned().collect(),
            username_claim: opt(&s.username_claim),
            email_claim: opt(&s.email_claim),
            name_claim: opt(&s.name_claim),
            picture_claim: opt(&s.picture_claim),
            groups_claim: opt(&s.groups_claim),
            admin_groups: s.admin_groups.clone(),
            user_groups: s.user_groups.clone(),
            default_role: s.default_role,
            merge_accounts_by_email: s.merge_accounts_by_email,
            response_mode: s.response_mode,
            verbose: s.verbose,
            rp_logout: s.rp_logout,
            allow_insecure_http: false,
            authorization_endpoint: None,
            token_endpoint: None,
            api_url: None,
        }
    }

    /// To the admin settings: the secret is never included.
    pub fn to_settings(&self, source: &str) -> OidcProviderSettings {
        OidcProviderSettings {
            name: self.name.clone(),
            display_name: self.label(),
            kind: self.kind,
            discovery_url: self.discovery_url.clone(),
            tenant: self.tenant.clone(),
            client_id: self.client_id.clone(),
            client_secret: None,
            client_secret_set: self.client_secret.is_some() || self.client_secret_file.is_some(),
            scopes: self.scopes.clone(),
            username_claim: self.username_claim.clone(),
            email_claim: self.email_claim.clone(),
            name_claim: self.name_claim.clone(),
            picture_claim: self.picture_claim.clone(),
            groups_claim: self.groups_claim.clone(),
            admin_groups: self.admin_groups.clone(),
            user_groups: self.user_groups.clone(),
            default_role: self.default_role,
            merge_accounts_by_email: self.merge_accounts_by_email,
            response_mode: self.response_mode,
            verbose: self.verbose,
            rp_logout: self.rp_logout,
            source: source.into(),
        }
    }

    /// Every problem with this provider; each names the key to fix.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let at = if self.name.is_empty() {
            "oidc_providers".to_string()
        } else {
            format!("oidc_providers `{}`", self.name)
        };
        if !valid_name(&self.name) {
            p.push(format!(
                "{at}: `name` must be 1 to 40 characters of a-z, 0-9, `-` and `_`"
            ));
        }
        p.extend(reserved_name_problem(&at, &self.name));
        if self.client_id.trim().is_empty() {
            p.push(format!(
                "{at}: set `client_id` to the client id registered at the provider"
            ));
        }
        if self.client_secret.is_some() && self.client_secret_file.is_some() {
            p.push(format!(
                "{at}: set only one of `client_secret` and `client_secret_file`"
            ));
        }
        if self.kind == ProviderKind::Github
            && self.client_secret.is_none()
            && self.client_secret_file.is_none()
        {
            p.push(format!("{at}: GitHub needs `client_secret`"));
        }
        self.check_endpoints(&at, &mut p);
        if self.kind != ProviderKind::Github
            && !self.scopes.is_empty()
            && !self.scopes.iter().any(|s| s == "openid")
        {
            p.push(format!("{at}: `scopes` must include `openid`"));
        }
        if let Some(s) = self.scopes.iter().find(|s| {
            s.is_empty()
                || s.chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == '"')
        }) {
            p.push(format!("{at}: scope `{s}` is not a valid scope"));
        }
        if self.kind == ProviderKind::Github && self.response_mode == ResponseMode::FormPost {
            p.push(format!(
                "{at}: GitHub does not support `response_mode = \"form_post\"`; use `query`"
            ));
        }
        for (key, v) in [
            ("username_claim", &self.username_claim),
            ("email_claim", &self.email_claim),
            ("name_claim", &self.name_claim),
            ("picture_claim", &self.picture_claim),
            ("groups_claim", &self.groups_claim),
        ] {
            if v.as_deref()
                .is_some_and(|c| c.chars().any(char::is_control))
            {
                p.push(format!("{at}: `{key}` contains control characters"));
            }
        }
        if self.label().chars().count() > 100 || self.label().chars().any(char::is_control) {
            p.push(format!(
                "{at}: `display_name` must be at most 100 printable characters"
            ));
        }
        p
    }

    /// Where the provider is reached: its discovery document (or Entra
    /// tenant) and endpoint URLs.
    fn check_endpoints(&self, at: &str, p: &mut Vec<String>) {
        match self.kind {
            ProviderKind::Oidc if self.discovery().is_none() => p.push(format!(
                "{at}: set `discovery_url` (e.g. https://idp.example/realms/x/.well-known/openid-configuration)"
            )),
            ProviderKind::Entra => match self.tenant.as_deref().map(str::trim) {
                None | Some("") if self.discovery_url.is_none() => p.push(format!(
                    "{at}: set `tenant` to the directory (tenant) id of your Entra ID"
                )),
                Some("common" | "organizations" | "consumers") => p.push(format!(
                    "{at}: `tenant` must be your directory (tenant) id, not a multi-tenant alias; \
                     Tessera does not accept sign-ins from any Entra tenant"
                )),
                Some(t) if !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') => {
                    p.push(format!("{at}: `tenant` `{t}` is not a tenant id or domain"))
                }
                _ => {}
            },
            _ => {}
        }
        if let Some(url) = self.discovery() {
            if let Err(e) = check_url(&url, self.allow_insecure_http) {
                p.push(format!("{at}: discovery_url {e}"));
            }
        }
        for (key, v) in [
            ("authorization_endpoint", &self.authorization_endpoint),
            ("token_endpoint", &self.token_endpoint),
            ("api_url", &self.api_url),
        ] {
            if let Some(url) = v {
                if let Err(e) = check_url(url, self.allow_insecure_http) {
                    p.push(format!("{at}: {key} {e}"));
                }
            }
        }
    }
}

/// `rp_logout` is on unless turned off.
fn rp_logout_default() -> bool {
    true
}

/// `[a-z0-9_-]{1,40}`.
pub fn valid_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Checks every `[[oidc_providers]]` table (start-up).
pub fn validate(
    providers: &[OidcProviderConfig],
    issuer_names: &[String],
    problems: &mut Vec<String>,
) {
    let mut names = std::collections::HashSet::new();
    for c in providers {
        problems.extend(c.problems());
        if !names.insert(c.name.clone()) {
            problems.push(format!(
                "oidc_providers `{}`: two providers share this name; names must be unique",
                c.name
            ));
        }
        if issuer_names.iter().any(|n| n == &c.name) {
            problems.push(format!(
                "oidc_providers `{}`: the name is taken by an [[issuers]] entry; accounts are keyed by it, so pick another",
                c.name
            ));
        }
        if let Err(e) = c.secret() {
            problems.push(format!("oidc_providers `{}`: {e}", c.name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> OidcProviderConfig {
        let mut c = OidcProviderConfig::new("kc");
        c.client_id = "tessera".into();
        c.discovery_url =
            Some("https://kc.example/realms/x/.well-known/openid-configuration".into());
        c
    }

    fn first_problem(c: &OidcProviderConfig) -> String {
        c.problems().first().cloned().unwrap_or_default()
    }

    #[test]
    fn a_good_provider_passes_and_defaults_apply() {
        let c = good();
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        assert_eq!(c.scopes(), vec!["openid", "email", "profile"]);
        assert_eq!(c.username_claim(), "preferred_username");
        assert_eq!(c.label(), "kc");
    }

    #[test]
    fn each_mistake_names_the_key() {
        let mut c = good();
        c.name = "Bad Name".into();
        assert!(first_problem(&c).contains("`name`"));
        let mut c = good();
        c.client_id.clear();
        assert!(first_problem(&c).contains("client_id"));
        let mut c = good();
        c.discovery_url = None;
        assert!(first_problem(&c).contains("discovery_url"));
        let mut c = good();
        c.discovery_url = Some("http://kc.example/.well-known/openid-configuration".into());
        assert!(first_problem(&c).contains("https"));
        c.allow_insecure_http = true;
        assert!(c.problems().is_empty());
        let mut c = good();
        c.scopes = vec!["email".into()];
        assert!(first_problem(&c).contains("openid"));
        let mut c = good();
        c.kind = ProviderKind::Entra;
        c.discovery_url = None;
        assert!(first_problem(&c).contains("tenant"));
        c.tenant = Some("common".into());
        assert!(first_problem(&c).contains("multi-tenant"));
        c.tenant = Some("2f1c2b7e-0000-4000-8000-000000000000".into());
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        assert!(c.discovery().unwrap().contains("2f1c2b7e-0000"));
        let mut c = good();
        c.kind = ProviderKind::Github;
        c.discovery_url = None;
        assert!(first_problem(&c).contains("client_secret"));
        c.client_secret = Some(Secret::new("s"));
        c.response_mode = ResponseMode::FormPost;
        assert!(first_problem(&c).contains("form_post"));
    }

    #[test]
    fn names_must_be_unique_and_not_an_issuer() {
        let mut p = Vec::new();
        validate(&[good(), good()], &["kc".into()], &mut p);
        assert!(p.iter().any(|m| m.contains("unique")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("[[issuers]]")), "{p:?}");
    }

    #[test]
    fn settings_round_trip_never_carries_the_secret() {
        let mut c = good();
        c.client_secret = Some(Secret::new("s3cret"));
        c.groups_claim = Some("/realm_access/roles".into());
        let s = c.to_settings("config");
        assert_eq!(s.client_secret, None);
        assert!(s.client_secret_set);
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("s3cret"));
        let back = OidcProviderConfig::from_settings(&s);
        assert_eq!(back.groups_claim.as_deref(), Some("/realm_access/roles"));
        assert_eq!(back.client_id, "tessera");
        assert!(
            back.client_secret.is_none(),
            "a null secret stays null here"
        );
        assert!(back.rp_logout, "RP-initiated logout is on by default");
        c.rp_logout = false;
        assert!(!OidcProviderConfig::from_settings(&c.to_settings("config")).rp_logout);
    }

    #[test]
    fn rp_logout_is_read_from_the_table_and_from_saved_settings() {
        let table = |extra: &str| -> OidcProviderConfig {
            use figment::providers::{Format, Toml};
            figment::Figment::from(Toml::string(&format!(
                "name = \"kc\"\nclient_id = \"t\"\ndiscovery_url = \"https://kc.example/.well-known/openid-configuration\"\n{extra}"
            )))
            .extract()
            .unwrap()
        };
        assert!(table("").rp_logout);
        assert!(!table("rp_logout = false").rp_logout);
        // settings saved before the key existed turn it on
        let old: OidcProviderSettings = serde_json::from_str(r#"{"name":"kc"}"#).unwrap();
        assert!(old.rp_logout);
    }
}
