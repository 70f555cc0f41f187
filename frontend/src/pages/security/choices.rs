//! The choices of the provider form's selects, as the wire names them, and
//! their labels.
use tessera_shared::{ProviderKind, ResponseMode, Role};

pub(super) const KINDS: [ProviderKind; 4] = [
    ProviderKind::Oidc,
    ProviderKind::Entra,
    ProviderKind::Google,
    ProviderKind::Github,
];
pub(super) const ROLES: [Role; 3] = [Role::Pending, Role::User, Role::Admin];

pub(super) fn kind_value(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Oidc => "oidc",
        ProviderKind::Github => "github",
        ProviderKind::Entra => "entra",
        ProviderKind::Google => "google",
    }
}

pub(super) fn kind_from(value: &str) -> ProviderKind {
    KINDS
        .into_iter()
        .find(|k| kind_value(*k) == value)
        .unwrap_or_default()
}

pub(super) fn kind_label(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Oidc => "OpenID Connect",
        ProviderKind::Github => "GitHub",
        ProviderKind::Entra => "Microsoft Entra ID",
        ProviderKind::Google => "Google",
    }
}

pub(super) fn response_mode_from(value: &str) -> ResponseMode {
    if value == "form_post" {
        ResponseMode::FormPost
    } else {
        ResponseMode::Query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_values_match_the_wire_names() {
        for kind in KINDS {
            let wire = serde_json::to_value(kind).unwrap_or_default();
            assert_eq!(wire.as_str(), Some(kind_value(kind)));
            assert_eq!(kind_from(kind_value(kind)), kind);
        }
        assert_eq!(kind_from("nonsense"), ProviderKind::Oidc);
    }

    #[test]
    fn response_modes_match_the_wire_names() {
        for mode in [ResponseMode::Query, ResponseMode::FormPost] {
            let wire = serde_json::to_value(mode).unwrap_or_default();
            assert_eq!(response_mode_from(wire.as_str().unwrap_or_default()), mode);
        }
    }
}
