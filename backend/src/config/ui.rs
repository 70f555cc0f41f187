//! `[ui]`: how the SPA keeps an open page's session in view — the banner
//! before the token expires and how often an open page asks whether its
//! session still holds. Both reach the SPA in `GET /api/config`.
use super::values::duration_str;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The longest either `[ui]` duration may be: a day.
const MAX: Duration = Duration::from_secs(24 * 3600);

/// `[ui]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UiConfig {
    /// How long before the token expires the SPA shows the banner that
    /// offers "Stay signed in"; `0s` shows none.
    #[serde(with = "duration_str")]
    pub expiry_warning: Duration,
    /// How often an open, visible page asks the server whether its session
    /// still holds (it also asks whenever the page becomes visible again);
    /// `0s` turns the periodic check off.
    #[serde(with = "duration_str")]
    pub session_check_interval: Duration,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            expiry_warning: Duration::from_secs(120),
            session_check_interval: Duration::from_secs(60),
        }
    }
}

impl UiConfig {
    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        for (key, value) in [
            ("expiry_warning", self.expiry_warning),
            ("session_check_interval", self.session_check_interval),
        ] {
            if value.subsec_nanos() != 0 || value > MAX {
                problems.push(format!(
                    "ui.{key} must be whole seconds from 0s (off) to 24h, e.g. 2m or 30s; it is {}",
                    humantime::format_duration(value)
                ));
            }
        }
    }
}
