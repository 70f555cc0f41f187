//! End-to-end tests: one binary, a module per feature.
mod api_auth;
