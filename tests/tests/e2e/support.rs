//! What many end-to-end tests share: the passwords they sign up with, the
//! token of a signed-in user, and a JWT's payload.
use base64::Engine;
use serde_json::Value;

/// The password the API tests sign their accounts up with.
pub const PW: &str = "correct horse";
/// The password of the browser tests' accounts and of the bootstrap admin.
pub const PASSWORD: &str = "correct horse battery";

/// The session token of a `SessionUser` (or of any answer carrying one).
pub fn token(user: &Value) -> &str {
    user["token"].as_str().expect("a token")
}

/// A JWT's payload, decoded without checking anything, for assertions.
pub fn jwt_payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("a payload part");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("payload json")
}
