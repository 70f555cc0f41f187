//! Size limits that hold everywhere.

/// Longest bearer credential accepted, in bytes.
pub const MAX_CREDENTIAL_BYTES: usize = 16 * 1024;
