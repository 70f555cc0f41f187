//! The provider form's fields as signals, and the settings they make.
use crate::url;
use leptos::prelude::*;
use tessera_shared::{OidcProviderSettings, ProviderKind, ResponseMode, Role};

/// The form's fields, one signal each; lists and optional values as typed.
#[derive(Clone, Copy)]
pub(super) struct Draft {
    pub(super) name: RwSignal<String>,
    pub(super) display_name: RwSignal<String>,
    pub(super) kind: RwSignal<ProviderKind>,
    pub(super) discovery_url: RwSignal<String>,
    pub(super) tenant: RwSignal<String>,
    pub(super) client_id: RwSignal<String>,
    pub(super) client_secret: RwSignal<String>,
    pub(super) scopes: RwSignal<String>,
    pub(super) username_claim: RwSignal<String>,
    pub(super) email_claim: RwSignal<String>,
    pub(super) name_claim: RwSignal<String>,
    pub(super) picture_claim: RwSignal<String>,
    pub(super) groups_claim: RwSignal<String>,
    pub(super) admin_groups: RwSignal<String>,
    pub(super) user_groups: RwSignal<String>,
    pub(super) default_role: RwSignal<Role>,
    pub(super) merge_accounts_by_email: RwSignal<bool>,
    pub(super) response_mode: RwSignal<ResponseMode>,
    pub(super) verbose: RwSignal<bool>,
    pub(super) rp_logout: RwSignal<bool>,
}

impl Draft {
    pub(super) fn new(s: &OidcProviderSettings) -> Draft {
        let text = |v: &Option<String>| RwSignal::new(v.clone().unwrap_or_default());
        Draft {
            name: RwSignal::new(s.name.clone()),
            display_name: RwSignal::new(s.display_name.clone()),
            kind: RwSignal::new(s.kind),
            discovery_url: text(&s.discovery_url),
            tenant: text(&s.tenant),
            client_id: RwSignal::new(s.client_id.clone()),
            client_secret: RwSignal::new(String::new()),
            scopes: RwSignal::new(s.scopes.join(" ")),
            username_claim: text(&s.username_claim),
            email_claim: text(&s.email_claim),
            name_claim: text(&s.name_claim),
            picture_claim: text(&s.picture_claim),
            groups_claim: text(&s.groups_claim),
            admin_groups: RwSignal::new(s.admin_groups.join(", ")),
            user_groups: RwSignal::new(s.user_groups.join(", ")),
            default_role: RwSignal::new(s.default_role),
            merge_accounts_by_email: RwSignal::new(s.merge_accounts_by_email),
            response_mode: RwSignal::new(s.response_mode),
            verbose: RwSignal::new(s.verbose),
            rp_logout: RwSignal::new(s.rp_logout),
        }
    }

    /// The settings to save or test; `loaded` supplies the read-only fields.
    pub(super) fn settings(self, loaded: &OidcProviderSettings) -> OidcProviderSettings {
        let text = |s: RwSignal<String>| optional(&s.get_untracked());
        let secret = self.client_secret.get_untracked();
        OidcProviderSettings {
            name: self.name.get_untracked().trim().to_owned(),
            display_name: self.display_name.get_untracked().trim().to_owned(),
            kind: self.kind.get_untracked(),
            discovery_url: text(self.discovery_url),
            tenant: text(self.tenant),
            client_id: self.client_id.get_untracked().trim().to_owned(),
            client_secret: (!secret.is_empty()).then_some(secret),
            client_secret_set: loaded.client_secret_set,
            scopes: url::split_list(&self.scopes.get_untracked()),
            username_claim: text(self.username_claim),
            email_claim: text(self.email_claim),
            name_claim: text(self.name_claim),
            picture_claim: text(self.picture_claim),
            groups_claim: text(self.groups_claim),
            admin_groups: url::split_list(&self.admin_groups.get_untracked()),
            user_groups: url::split_list(&self.user_groups.get_untracked()),
            default_role: self.default_role.get_untracked(),
            merge_accounts_by_email: self.merge_accounts_by_email.get_untracked(),
            response_mode: self.response_mode.get_untracked(),
            verbose: self.verbose.get_untracked(),
            rp_logout: self.rp_logout.get_untracked(),
            source: loaded.source.clone(),
        }
    }
}

fn optional(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_is_none() {
        assert_eq!(optional("  "), None);
        assert_eq!(optional(" email "), Some("email".to_owned()));
    }
}
