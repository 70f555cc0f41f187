//! From verified claims to a Tessera account: the identity is linked only by
//! (provider, subject), or — with `merge_accounts_by_email` and
//! `email_verified` JSON `true` — to the local account with that e-mail;
//! never by a user name. Role from the groups (`RoleMapping`, case-
//! insensitive); groups are synced on every sign-in.
use crate::auth::idp::token::{claim, groups, printable_groups, NullGroups};
use crate::config::OidcProviderConfig;
use crate::domain::{external_id, ExternalUser, User};
use crate::error::{Error, Result};
use crate::store::users::Users;
use crate::store::Db;
use serde_json::{Map, Value};
use std::sync::Arc;
use tessera_shared::error::detail::ACCESS_PROHIBITED;
use tessera_shared::Role;

/// What the provider asserts about the person.
#[derive(Debug, Clone, PartialEq)]
pub struct Asserted {
    /// `sub`: with the provider's name, the identity's key.
    pub subject: String,
    /// The user name claim (shown, never used to link).
    pub username: Option<String>,
    /// E-mail (may be empty).
    pub email: String,
    /// Whether `email_verified` is JSON `true`.
    pub email_verified: bool,
    /// Display name.
    pub name: String,
    /// Avatar URL (http(s) only).
    pub picture: Option<String>,
    /// Groups.
    pub groups: Vec<String>,
}

fn string_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<String>, &'static str> {
    match claim(claims, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().any(char::is_control) => {
            Err("a claim contains control characters")
        }
        Some(Value::String(s)) => Ok(Some(s.clone()).filter(|s| !s.is_empty())),
        Some(_) => Err("a claim that should be a string is not"),
    }
}

/// Whether the configured claims are all present (else userinfo is read).
pub fn has_configured_claims(cfg: &OidcProviderConfig, claims: &Map<String, Value>) -> bool {
    let mut wanted = vec![cfg.email_claim(), cfg.name_claim()];
    if let Some(g) = &cfg.groups_claim {
        wanted.push(g);
    }
    if cfg.username_claim.is_some() {
        wanted.push(cfg.username_claim());
    }
    wanted.iter().all(|c| claim(claims, c).is_some())
}

/// Adds userinfo's claims that the ID token lacks. Userinfo's `sub` must
/// equal the ID token's (OIDC Core §5.3.2).
pub fn merge_userinfo(
    claims: &mut Map<String, Value>,
    userinfo: Map<String, Value>,
) -> Result<(), &'static str> {
    if userinfo.get("sub") != claims.get("sub") {
        return Err("userinfo's sub differs from the ID token's");
    }
    for (k, v) in userinfo {
        claims.entry(k).or_insert(v);
    }
    Ok(())
}

/// Reads the configured claims.
pub fn read_claims(
    cfg: &OidcProviderConfig,
    claims: &Map<String, Value>,
) -> Result<Asserted, &'static str> {
    let subject = match claims.get("sub") {
        Some(Value::String(s)) if !s.is_empty() && !s.chars().any(char::is_control) => s.clone(),
        _ => return Err("the sub claim is missing or unusable"),
    };
    let username = string_claim(claims, cfg.username_claim())?;
    let email = string_claim(claims, cfg.email_claim())?.unwrap_or_default();
    let email_verified = claims.get("email_verified") == Some(&Value::Bool(true));
    let name = string_claim(claims, cfg.name_claim())?
        .or_else(|| username.clone())
        .or_else(|| Some(email.clone()).filter(|e| !e.is_empty()))
        .unwrap_or_else(|| subject.clone());
    let picture = string_claim(claims, cfg.picture_claim())?
        .filter(|p| (p.starts_with("https://") || p.starts_with("http://")) && p.len() <= 2048);
    let groups = printable_groups(groups(
        claims,
        cfg.groups_claim.as_deref(),
        NullGroups::Empty,
    )?)?;
    Ok(Asserted {
        subject,
        username,
        email,
        email_verified,
        name: name.chars().take(200).collect(),
        picture,
        groups,
    })
}

/// The role the person gets; `Access prohibited` outside the allowed groups.
pub fn role(cfg: &OidcProviderConfig, a: &Asserted) -> Result<Role> {
    cfg.role_mapping()
        .role_for(&a.groups)
        .ok_or(Error::Forbidden(ACCESS_PROHIBITED))
}

/// The refusal when merging by e-mail is on and the provider did not verify
/// an e-mail that an existing account has.
pub const UNVERIFIED_EMAIL: &str =
    "The provider did not verify this e-mail address, which belongs to an existing account";

/// Creates or updates the account of `a` at provider `cfg`.
/// `db` holds the identity links, `users` the accounts.
pub async fn provision(
    db: &Db,
    users: &Users,
    cfg: &OidcProviderConfig,
    a: &Asserted,
    now: i64,
) -> Result<Arc<User>> {
    let role = role(cfg, a)?;
    let linked = match db.oidc_link(&cfg.name, &a.subject).await? {
        Some(id) => Some(id),
        None if users
            .get(&external_id(&cfg.name, &a.subject))
            .await?
            .is_some() =>
        {
            None
        }
        None if cfg.merge_accounts_by_email && a.email_verified && !a.email.is_empty() => {
            let email = crate::auth::password::normalise_local_email(&a.email);
            match users.find_local_credentials(&email).await? {
                Some((user, _)) => {
                    db.link_oidc(&cfg.name, &a.subject, &user.id, now).await?;
                    tracing::info!(provider = %cfg.name, user = %user.id, "SSO identity linked to a local account by verified e-mail");
                    Some(user.id.clone())
                }
                None => None,
            }
        }
        // Merging is on but the provider does not vouch for the e-mail: an
        // account with it exists, so this is either its owner at an IdP that
        // does not verify e-mails or someone claiming it. Refuse rather than
        // create a look-alike account with the same address.
        None if cfg.merge_accounts_by_email && !a.email.is_empty() => {
            let email = crate::auth::password::normalise_local_email(&a.email);
            if users.find_local_credentials(&email).await?.is_some() {
                tracing::debug!(provider = %cfg.name, "SSO e-mail matches a local account but is not verified: refused");
                return Err(Error::Forbidden(UNVERIFIED_EMAIL));
            }
            None
        }
        None => None,
    };
    let user = match linked {
        Some(id) => users
            .sync_linked(&id, role, &a.groups, true, now)
            .await?
            .ok_or(Error::Forbidden("The linked account no longer exists"))?,
        None => {
            users
                .upsert_external(
                    &ExternalUser {
                        source: &cfg.name,
                        subject: &a.subject,
                        email: &a.email,
                        name: &a.name,
                        role,
                        groups: &a.groups,
                        create_groups: true,
                    },
                    now,
                )
                .await?
        }
    };
    if let Some(p) = &a.picture {
        if user.profile_image_url != *p {
            users.set_profile_image(&user.id, p).await?;
            return Ok(users.get(&user.id).await?.unwrap_or(user));
        }
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg() -> OidcProviderConfig {
        let mut c = OidcProviderConfig::new("kc");
        c.groups_claim = Some("/realm_access/roles".into());
        c
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn claims_are_read_with_pointers_and_fallbacks() {
        let a = read_claims(
            &cfg(),
            &obj(
                json!({"sub": "s1", "preferred_username": "ann", "email": "a@x.io",
                "email_verified": true, "realm_access": {"roles": ["Admin", "trusted"]},
                "picture": "javascript:alert(1)"}),
            ),
        )
        .unwrap();
        assert_eq!(a.subject, "s1");
        assert_eq!(a.name, "ann", "no name claim: the user name");
        assert!(a.email_verified);
        assert_eq!(a.groups, vec!["Admin", "trusted"]);
        assert_eq!(a.picture, None, "only http(s) avatars");
        let a = read_claims(
            &cfg(),
            &obj(json!({"sub": "s1", "email": "a@x.io", "email_verified": "true"})),
        )
        .unwrap();
        assert!(!a.email_verified, "only JSON true counts as verified");
        assert!(read_claims(&cfg(), &obj(json!({"email": "a@x.io"}))).is_err());
        assert!(read_claims(
            &cfg(),
            &obj(json!({"sub": "s", "realm_access": {"roles": [1]}}))
        )
        .is_err());
    }

    #[test]
    fn userinfo_fills_gaps_only_for_the_same_subject() {
        let mut c = obj(json!({"sub": "s1", "name": "Token Name"}));
        merge_userinfo(
            &mut c,
            obj(json!({"sub": "s1", "name": "Other", "email": "a@x.io"})),
        )
        .unwrap();
        assert_eq!(c["name"], "Token Name");
        assert_eq!(c["email"], "a@x.io");
        let mut c = obj(json!({"sub": "s1"}));
        assert!(merge_userinfo(&mut c, obj(json!({"sub": "s2", "email": "x"}))).is_err());
        assert!(!has_configured_claims(
            &cfg(),
            &obj(json!({"sub": "s1", "email": "e", "name": "n"}))
        ));
    }

    #[test]
    fn roles_compare_case_insensitively_and_refuse_outsiders() {
        let mut c = cfg();
        c.admin_groups = vec!["admin".into()];
        c.user_groups = vec!["trusted".into()];
        let a = |g: &[&str]| Asserted {
            subject: "s".into(),
            username: None,
            email: String::new(),
            email_verified: false,
            name: "n".into(),
            picture: None,
            groups: g.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(role(&c, &a(&["ADMIN"])).unwrap(), Role::Admin);
        assert_eq!(role(&c, &a(&["Trusted"])).unwrap(), Role::User);
        assert!(matches!(
            role(&c, &a(&["untrusted"])),
            Err(Error::Forbidden(ACCESS_PROHIBITED))
        ));
    }
}
