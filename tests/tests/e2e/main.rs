//! End-to-end tests: one binary, a module per feature.
mod api_auth;
mod api_edge;
mod api_idp;
mod api_injection;
mod api_keys;
mod api_ldap;
mod api_oidc;
mod api_trusted_header;
mod browser;
mod browser_api_key;
mod browser_injection;
mod browser_inspector;
mod browser_oidc;
mod credentials;
mod oidc_harness;
mod postgres;
mod replicas;
