//! Readable words for the SSO settings endpoints' failures.
use crate::api;

/// Readable words for the settings endpoints' failures: a server without
/// them answers 404.
pub(super) fn explain(e: api::Error) -> api::Error {
    match e {
        api::Error::Api {
            status: status @ (404 | 405),
            detail,
        } => api::Error::Api {
            status,
            detail: format!(
                "This server does not offer single sign-on settings ({status} {detail}). Is it a version without SSO support?"
            ),
        },
        e => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_endpoints_are_explained() {
        let e = explain(api::Error::Api {
            status: 404,
            detail: "Not found".into(),
        });
        assert!(e
            .to_string()
            .contains("does not offer single sign-on settings"));
        let other = api::Error::Api {
            status: 422,
            detail: "discovery_url: required".into(),
        };
        assert_eq!(explain(other.clone()), other);
    }
}
