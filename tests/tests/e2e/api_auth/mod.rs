//! Local accounts and session tokens over the real HTTP API: every row of the
//! error table, each `expires_in` form, revocation across restarts, rate
//! limits, role changes and bad input.
use serde_json::{json, Value};
use std::time::Duration;
use tessera_tests::server::{client, TestServer};

mod accounts;
mod bad_input;
mod config;
mod tokens;

const PW: &str = "correct horse";

fn token(user: &Value) -> &str {
    user["token"].as_str().expect("token")
}

/// Decodes a JWT's payload (unverified) for assertions.
fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("payload part");
    let bytes = base64_url_decode(part);
    serde_json::from_slice(&bytes).expect("payload json")
}

fn base64_url_decode(s: &str) -> Vec<u8> {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = ALPHA.iter().position(|&a| a == c).expect("base64url") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn base64_url_encode(bytes: &[u8]) -> String {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |a, &b| (a << 8) | b as u32) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(ALPHA[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn assert_detail(res: (u16, Value), status: u16, detail: &str) {
    assert_eq!(res.0, status, "body: {}", res.1);
    assert_eq!(res.1["detail"], detail);
}
