//! `[audit]`: the audit log of security events — kept in the database for
//! `keep`, optionally also written to stdout as JSON lines for a SIEM.
use super::values::duration_str;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The longest `keep` (ten years).
const MAX_KEEP: Duration = Duration::from_secs(10 * 366 * 86_400);

/// `[audit]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// How long events are kept (default 90 days); older ones are deleted
    /// hourly.
    #[serde(with = "duration_str")]
    pub keep: Duration,
    /// Also write each event to stdout as one JSON object per line.
    pub stdout: bool,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            keep: Duration::from_secs(90 * 86_400),
            stdout: false,
        }
    }
}

impl AuditConfig {
    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        if self.keep < Duration::from_secs(3600) || self.keep > MAX_KEEP {
            problems.push(format!(
                "audit.keep must be from 1h to 10 years, e.g. 90d; it is {}",
                humantime::format_duration(self.keep)
            ));
        }
    }
}
