//! Local accounts and session tokens over the real HTTP API: every row of the
//! error table, each `expires_in` form, revocation across restarts, rate
//! limits, role changes and bad input.
use crate::support::{jwt_payload, token, PW};
use serde_json::{json, Value};
use std::time::Duration;
use tessera_tests::keyserver::b64;
use tessera_tests::server::{client, TestServer};

mod accounts;
mod bad_input;
mod config;
mod tokens;

fn assert_detail(res: (u16, Value), status: u16, detail: &str) {
    assert_eq!(res.0, status, "body: {}", res.1);
    assert_eq!(res.1["detail"], detail);
}
