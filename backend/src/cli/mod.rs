//! Client subcommands of the `tessera` binary (the server is `tessera serve`).
pub mod admin;
pub mod config_check;
pub mod login;
