//! Size limits that hold everywhere.

/// Largest request body accepted, in bytes.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Longest bearer credential accepted, in bytes.
pub const MAX_CREDENTIAL_BYTES: usize = 16 * 1024;
