//! `tessera config check`: the effective configuration, validated, printed
//! as TOML with every secret masked (`********`), so an operator sees what
//! the file, the `TESSERA_*` variables and the flags add up to without
//! exposing a secret in a terminal or a ticket.
use crate::config::{masked, Config};
use std::process::ExitCode;

/// The configuration as TOML, secrets masked.
pub fn render(config: &Config) -> Result<String, String> {
    masked(|| toml::to_string_pretty(config)).map_err(|e| e.to_string())
}

/// Prints [`render`] and a last line saying the configuration is valid.
pub fn print(config: &Config) -> ExitCode {
    match render(config) {
        Ok(text) => {
            println!("{text}");
            eprintln!("tessera: the configuration is valid");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tessera: the configuration is valid but cannot be shown: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn secrets_are_masked_and_the_rest_shown() {
        let mut c = Config::default();
        c.session.secret = Some(Secret::new("session-secret-value-0123456789abcdef"));
        c.admin.password = Some(Secret::new("admin-password-value"));
        c.admin.email = Some("root@example.com".into());
        let text = render(&c).unwrap();
        assert!(!text.contains("session-secret-value"), "{text}");
        assert!(!text.contains("admin-password-value"), "{text}");
        assert!(text.contains("********"), "{text}");
        assert!(text.contains("root@example.com"), "{text}");
        assert!(text.contains("[server]"), "{text}");
        // outside `masked`, secrets serialize as themselves (the loader needs them)
        let plain = serde_json::to_string(&c.session.secret).unwrap();
        assert!(plain.contains("session-secret-value"));
    }
}
