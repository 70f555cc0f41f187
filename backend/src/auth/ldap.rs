//! LDAP / Active Directory sign-in: find the person with the service bind
//! (input escaped per RFC 4515), bind as the found DN with their password,
//! read their groups (`memberOf` or a group search) and map them to a role.
//!
//! The account's subject (`users.subject`, source `ldap`) is the value of
//! `username_attribute` as the directory stores it, not the DN: a DN changes
//! when an entry moves between OUs, the user name does not.
use crate::clock::Clock;
use crate::config::LdapConfig;
use crate::domain::{ExternalUser, RoleMapping, User};
use crate::error::{Error, Result};
use crate::store::users::Users;
use ldap3::{
    ldap_escape, Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry, SearchOptions,
};
use std::sync::Arc;

/// The `detail` of the 503 answered when the directory cannot be reached.
pub const UNAVAILABLE: &str = "LDAP server unavailable: try again later or ask an administrator";

/// LDAP result code: wrong DN or password.
const INVALID_CREDENTIALS: u32 = 49;
/// LDAP result code: e.g. an unauthenticated bind refused.
const UNWILLING_TO_PERFORM: u32 = 53;
/// LDAP result code: the size limit stopped the search (more than one entry).
const SIZE_LIMIT_EXCEEDED: u32 = 4;
/// Longest user name accepted, in bytes.
const MAX_USER_BYTES: usize = 256;

/// A person the directory vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapAccount {
    /// The entry's DN.
    pub dn: String,
    /// The `username_attribute` value as stored: the account's subject.
    pub username: String,
    /// E-mail address.
    pub email: String,
    /// Display name (the user name when the entry has none).
    pub name: String,
    /// Group names (`cn`s).
    pub groups: Vec<String>,
}

/// `users.source` of directory accounts.
pub use crate::domain::LDAP_SOURCE as SOURCE;

/// Sign-in against the directory: whom it vouches for is mapped to a role
/// and provisioned to the user directory.
pub struct LdapSignIn {
    /// The directory.
    pub directory: LdapDirectory,
    /// The user directory.
    pub users: Users,
    /// The source of "now".
    pub clock: Arc<dyn Clock>,
}

impl LdapSignIn {
    /// The account `user` and `password` sign in to: 401 for wrong
    /// credentials, 403 when the role mapping keeps them out.
    pub async fn sign_in(&self, user: &str, password: &str) -> Result<Arc<User>> {
        let account = self
            .directory
            .authenticate(user, password)
            .await?
            .ok_or(Error::InvalidCredentials)?;
        let role = self.directory.mapping().admit(&account.groups)?;
        self.users
            .upsert_external(
                &ExternalUser {
                    source: SOURCE,
                    subject: &account.username,
                    email: &account.email,
                    name: &account.name,
                    role,
                    groups: &account.groups,
                    create_groups: self.directory.create_groups(),
                },
                self.clock.now(),
            )
            .await
    }
}

/// The configured directory.
pub struct LdapDirectory {
    config: LdapConfig,
    settings: LdapConnSettings,
    mapping: RoleMapping,
}

impl LdapDirectory {
    /// Prepares connection settings: TLS trusts the CAs of `ca_file`, else
    /// the system's.
    pub fn new(config: &LdapConfig) -> anyhow::Result<Self> {
        let url = config.url.to_ascii_lowercase();
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(config.connect_timeout)
            .set_starttls(config.starttls);
        if config.starttls || url.starts_with("ldaps://") {
            settings = settings.set_config(tls_config(config.ca_file.as_deref())?);
        }
        Ok(Self {
            mapping: config.role_mapping(),
            config: config.clone(),
            settings,
        })
    }

    /// The role mapping of `[ldap]`.
    pub fn mapping(&self) -> &RoleMapping {
        &self.mapping
    }

    /// Whether groups unknown to Tessera are created.
    pub fn create_groups(&self) -> bool {
        self.config.create_groups
    }

    /// Checks `user` and `password` against the directory. `Ok(None)`: no such
    /// user, ambiguous user, or wrong password; `Err(Unavailable)`: the
    /// directory could not be asked. An empty password is refused before any
    /// bind (an empty-password simple bind is an anonymous bind).
    #[tracing::instrument(skip_all)]
    pub async fn authenticate(&self, user: &str, password: &str) -> Result<Option<LdapAccount>> {
        let user = user.trim();
        if user.is_empty()
            || user.len() > MAX_USER_BYTES
            || user.chars().any(char::is_control)
            || password.is_empty()
            || password.len() > super::password::MAX_PASSWORD_BYTES
        {
            return Ok(None);
        }
        let mut ldap = self.connect().await?;
        let result = self.authenticate_on(&mut ldap, user, password).await;
        let _ = tokio::time::timeout(self.config.operation_timeout, ldap.unbind()).await;
        result
    }

    async fn connect(&self) -> Result<Ldap> {
        let connecting = LdapConnAsync::with_settings(self.settings.clone(), &self.config.url);
        // The TLS handshake is not covered by the connect time-out: bound it all.
        let limit = self.config.connect_timeout + self.config.operation_timeout;
        let (conn, ldap) = match tokio::time::timeout(limit, connecting).await {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => return Err(unavailable("connecting", &e)),
            Err(_) => return Err(unavailable("connecting", &"timed out")),
        };
        ldap3::drive!(conn);
        Ok(ldap)
    }

    async fn authenticate_on(
        &self,
        ldap: &mut Ldap,
        user: &str,
        password: &str,
    ) -> Result<Option<LdapAccount>> {
        let op = self.config.operation_timeout;
        if let (Some(dn), Some(pw)) = (&self.config.bind_dn, &self.config.bind_password) {
            let res = ldap
                .with_timeout(op)
                .simple_bind(dn, pw.expose())
                .await
                .map_err(|e| unavailable("service bind", &e))?;
            if res.rc != 0 {
                tracing::error!(rc = res.rc, text = %res.text, "the LDAP service bind was refused: check [ldap] bind_dn and bind_password");
                return Err(Error::Unavailable(UNAVAILABLE));
            }
        }
        let Some(entry) = self.find_user(ldap, user).await? else {
            return Ok(None);
        };
        let first = |attr: &str| {
            entry
                .attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(attr))
                .and_then(|(_, v)| v.first())
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let Some(username) = first(&self.config.username_attribute) else {
            tracing::warn!(dn = %entry.dn, "LDAP entry found has no username attribute value");
            return Ok(None);
        };
        let email = first(&self.config.mail_attribute);
        let name = first(&self.config.name_attribute).unwrap_or_else(|| username.clone());
        let groups = match &self.config.group_search_base {
            Some(base) => self.search_groups(ldap, base, &entry.dn, &username).await?,
            None => entry
                .attrs
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(&self.config.group_attribute))
                .flat_map(|(_, v)| v.iter())
                .filter_map(|dn| group_name(dn))
                .collect(),
        };
        let res = ldap
            .with_timeout(op)
            .simple_bind(&entry.dn, password)
            .await
            .map_err(|e| unavailable("user bind", &e))?;
        match res.rc {
            0 => {}
            INVALID_CREDENTIALS | UNWILLING_TO_PERFORM => return Ok(None),
            rc => {
                tracing::warn!(rc, text = %res.text, "LDAP user bind failed");
                return Ok(None);
            }
        }
        let Some(email) = email else {
            tracing::warn!(dn = %entry.dn, attribute = %self.config.mail_attribute, "LDAP account has no e-mail address");
            return Err(Error::Forbidden(
                "Your directory account has no e-mail address",
            ));
        };
        Ok(Some(LdapAccount {
            dn: entry.dn,
            username,
            email,
            name,
            groups: dedup(groups),
        }))
    }

    /// The one entry whose `username_attribute` equals `user`.
    async fn find_user(&self, ldap: &mut Ldap, user: &str) -> Result<Option<SearchEntry>> {
        let filter = format!(
            "(&({}={}){})",
            self.config.username_attribute,
            ldap_escape(user),
            self.config.search_filter.as_deref().unwrap_or("")
        );
        let attrs = [
            self.config.username_attribute.as_str(),
            self.config.mail_attribute.as_str(),
            self.config.name_attribute.as_str(),
            self.config.group_attribute.as_str(),
        ];
        let found = ldap
            .with_timeout(self.config.operation_timeout)
            .with_search_options(SearchOptions::new().sizelimit(2))
            .search(&self.config.search_base, Scope::Subtree, &filter, attrs)
            .await
            .map_err(|e| unavailable("searching the user", &e))?;
        let (entries, res) = (found.0, found.1);
        if res.rc != 0 && res.rc != SIZE_LIMIT_EXCEEDED {
            tracing::error!(rc = res.rc, text = %res.text, "LDAP user search failed: check [ldap] search_base and search_filter");
            return Err(Error::Unavailable(UNAVAILABLE));
        }
        if entries.len() > 1 || res.rc == SIZE_LIMIT_EXCEEDED {
            tracing::warn!("LDAP user search matched several entries: refused");
            return Ok(None);
        }
        Ok(entries.into_iter().next().map(SearchEntry::construct))
    }

    /// Names of the groups found by `group_search_filter` under `base`.
    async fn search_groups(
        &self,
        ldap: &mut Ldap,
        base: &str,
        dn: &str,
        username: &str,
    ) -> Result<Vec<String>> {
        let filter = self
            .config
            .group_search_filter
            .replace("{dn}", &ldap_escape(dn))
            .replace("{username}", &ldap_escape(username));
        let found = ldap
            .with_timeout(self.config.operation_timeout)
            .search(
                base,
                Scope::Subtree,
                &filter,
                [self.config.group_name_attribute.as_str()],
            )
            .await
            .map_err(|e| unavailable("searching groups", &e))?;
        if found.1.rc != 0 {
            tracing::error!(rc = found.1.rc, text = %found.1.text, "LDAP group search failed: check [ldap] group_search_base and group_search_filter");
            return Err(Error::Unavailable(UNAVAILABLE));
        }
        Ok(found
            .0
            .into_iter()
            .map(SearchEntry::construct)
            .filter_map(|e| {
                e.attrs
                    .into_iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(&self.config.group_name_attribute))
                    .and_then(|(_, v)| v.into_iter().next())
            })
            .collect())
    }
}

/// Logs why the directory could not be asked; the 503 for the caller.
fn unavailable(during: &str, e: &dyn std::fmt::Display) -> Error {
    tracing::warn!(error = %e, during, "LDAP server unavailable");
    Error::Unavailable(UNAVAILABLE)
}

/// A group's name from its DN: the value of the first RDN when it is a `cn`
/// (`cn=admins,ou=groups,...` → `admins`, RFC 4514 escapes decoded); a value
/// that is no DN is a name.
pub fn group_name(dn: &str) -> Option<String> {
    let dn = dn.trim();
    let Some((attr, rest)) = dn.split_once('=') else {
        return (!dn.is_empty()).then(|| dn.to_owned());
    };
    if !attr.trim().eq_ignore_ascii_case("cn") {
        return None;
    }
    let mut value = Vec::new();
    let mut bytes = rest.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'\\' => {
                let first = bytes.next()?;
                let hex = |c: u8| (c as char).to_digit(16);
                match hex(first) {
                    Some(hi) => {
                        let lo = hex(bytes.next()?)?;
                        value.push((hi * 16 + lo) as u8);
                    }
                    None => value.push(first),
                }
            }
            b',' | b'+' => break,
            _ => value.push(b),
        }
    }
    let value = String::from_utf8(value).ok()?.trim().to_owned();
    (!value.is_empty()).then_some(value)
}

fn dedup(mut groups: Vec<String>) -> Vec<String> {
    groups.sort();
    groups.dedup();
    groups
}

/// A rustls client configuration trusting the CAs in `ca_file` (PEM), or the
/// system's trust store. Built here with an explicit provider: ldap3's own
/// default would need a process-wide one.
fn tls_config(ca_file: Option<&std::path::Path>) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(ca_file) => {
            let bad = |e: &dyn std::fmt::Display| {
                anyhow::anyhow!("ldap.ca_file {}: {e}", ca_file.display())
            };
            for cert in CertificateDer::pem_file_iter(ca_file).map_err(|e| bad(&e))? {
                roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
            }
            anyhow::ensure!(
                !roots.is_empty(),
                "ldap.ca_file {} holds no PEM certificate",
                ca_file.display()
            );
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            for e in &native.errors {
                tracing::warn!(error = %e, "reading the system's CA certificates");
            }
            let (added, _) = roots.add_parsable_certificates(native.certs);
            if added == 0 {
                tracing::warn!(
                    "no system CA certificate found: set [ldap] ca_file for ldaps:// or StartTLS"
                );
            }
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_from_dns() {
        assert_eq!(
            group_name("cn=admins,ou=groups,dc=example,dc=org").as_deref(),
            Some("admins")
        );
        assert_eq!(
            group_name("CN=Domain Users,CN=Users,DC=corp").as_deref(),
            Some("Domain Users")
        );
        assert_eq!(
            group_name(r"cn=a\2cb\,c,ou=groups").as_deref(),
            Some("a,b,c"),
            "escaped commas stay in the name"
        );
        assert_eq!(group_name("ou=groups,dc=example").as_deref(), None);
        assert_eq!(group_name("plain").as_deref(), Some("plain"));
        assert_eq!(group_name("  ").as_deref(), None);
    }

    #[tokio::test]
    async fn empty_password_or_user_is_refused_before_connecting() {
        let dir = LdapDirectory::new(&LdapConfig {
            // nothing listens there: any connection attempt would be a 503
            url: "ldap://127.0.0.1:1".into(),
            search_base: "dc=example,dc=org".into(),
            ..LdapConfig::default()
        })
        .unwrap();
        assert_eq!(dir.authenticate("alice", "").await.unwrap(), None);
        assert_eq!(dir.authenticate("  ", "pw").await.unwrap(), None);
        assert!(matches!(
            dir.authenticate("alice", "pw").await,
            Err(Error::Unavailable(_))
        ));
    }
}
