//! The signed-in person (role, groups, the issuer that vouched for them and
//! the claims it mapped) and their token: issuer, expiry and, for a JWT, its
//! decoded header and claims (display only: the server validates tokens).
use crate::auth::use_auth;
use crate::components::{RoleBadge, Shell, TokenExpiry};
use leptos::prelude::*;
use serde_json::Value;
use tessera_shared::{AuthMethod, Role, SessionUser};

/// Who is signed in, and until when.
#[component]
pub fn Dashboard() -> impl IntoView {
    let auth = use_auth();
    view! { <Shell>{move || auth.user().map(|user| view! { <Profile user /> })}</Shell> }
}

#[component]
fn Profile(user: SessionUser) -> impl IntoView {
    let auth = use_auth();
    let pending = (user.role == Role::Pending).then(|| {
        view! {
            <section class="alert alert-warning" id="pending-notice" role="status">
                <strong>"Your account awaits approval by an admin."</strong>
                " Until then you can only see this page."
                <button class="button button-quiet" id="recheck" on:click=move |_| auth.revalidate()>
                    "Check again"
                </button>
            </section>
        }
    });
    let signed_in_with = method(&user);
    let issuer = user.issuer.clone().map(|issuer| {
        view! {
            <dt>"Vouched for by"</dt>
            <dd id="user-issuer">{issuer}</dd>
        }
    });
    let subject = user.subject.clone().map(|subject| {
        view! {
            <dt>"Subject"</dt>
            <dd id="user-subject">{subject}</dd>
        }
    });
    let claims = (!user.metadata.is_empty()).then(|| {
        let rows = user
            .metadata
            .iter()
            .map(|(key, value)| {
                view! {
                    <dt>{key.clone()}</dt>
                    <dd data-claim=key.clone()>{value.clone()}</dd>
                }
            })
            .collect_view();
        view! {
            <section class="card" id="mapped-claims">
                <h2>"Mapped claims"</h2>
                <dl class="facts">{rows}</dl>
            </section>
        }
    });
    let token = view! { <TokenCard user=user.clone() /> };
    let groups = (!user.groups.is_empty()).then(|| {
        view! {
            <dt>"Groups"</dt>
            <dd id="user-groups">{user.groups.join(", ")}</dd>
        }
    });
    view! {
        {pending}
        <section class="card">
            <h1>"Welcome, " {user.name.clone()}</h1>
            <dl class="facts">
                <dt>"Name"</dt>
                <dd id="user-name">{user.name}</dd>
                <dt>"Email"</dt>
                <dd id="user-email">{user.email}</dd>
                <dt>"Role"</dt>
                <dd id="user-role">
                    <RoleBadge role=user.role />
                </dd>
                {groups}
                <dt>"Signed in with"</dt>
                <dd id="auth-method">{signed_in_with}</dd>
                {issuer}
                {subject}
            </dl>
        </section>
        {claims}
        {token}
    }
}

/// The token: where it comes from, when it expires and what it says.
#[component]
fn TokenCard(user: SessionUser) -> impl IntoView {
    let decoded = decode_jwt(&user.token);
    let token_issuer = decoded
        .as_ref()
        .and_then(|(_, claims)| claims.get("iss"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let kind = match (user.auth_method, &decoded) {
        (AuthMethod::ApiKey, _) => "API key (not a JWT)",
        (_, Some(_)) => "JWT",
        (_, None) => "opaque token",
    };
    let issuer_row = token_issuer.map(|iss| {
        view! {
            <dt>"Issuer"</dt>
            <dd id="token-issuer">{iss}</dd>
        }
    });
    let parts = decoded.map(|(header, claims)| {
        view! {
            <h3>"Header"</h3>
            <pre class="json" id="token-header">{pretty(&header)}</pre>
            <h3>"Claims"</h3>
            <pre class="json" id="token-claims">{pretty(&claims)}</pre>
            <p class="hint">"Decoded here for display; the signature is not shown."</p>
        }
    });
    view! {
        <section class="card" id="token">
            <h2>"Your token"</h2>
            <dl class="facts">
                <dt>"Kind"</dt>
                <dd id="token-kind">{kind}</dd>
                {issuer_row}
                <dt>"Expires"</dt>
                <dd id="token-expiry">
                    <TokenExpiry expires_at=user.expires_at />
                </dd>
            </dl>
            {parts}
        </section>
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// The header and claims of a compact JWT; `None` for anything else.
fn decode_jwt(token: &str) -> Option<(Value, Value)> {
    let mut parts = token.split('.');
    let (header, claims, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header = json_object(header)?;
    let claims = json_object(claims)?;
    Some((header, claims))
}

/// The JSON object that `part` (unpadded base64url) encodes. Read as text
/// (JSON is UTF-8), with the parser the rest of the SPA uses.
fn json_object(part: &str) -> Option<Value> {
    let text = String::from_utf8(base64url(part)?).ok()?;
    serde_json::from_str::<Value>(&text)
        .ok()
        .filter(Value::is_object)
}

/// Decodes unpadded base64url.
fn base64url(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// How the token was obtained, in words.
fn method(user: &SessionUser) -> &'static str {
    match user.auth_method {
        AuthMethod::Session => "a Tessera session",
        AuthMethod::Jwt => "an identity provider's token",
        AuthMethod::ApiKey => "an API key",
        AuthMethod::TrustedHeader => "a trusted proxy's headers",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jwt_is_decoded_for_display() {
        // {"alg":"HS256"} . {"sub":"ü","iat":1}
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiLDvCIsImlhdCI6MX0.sig";
        let (header, claims) = decode_jwt(token).unwrap_or_default();
        assert_eq!(header["alg"], "HS256");
        assert_eq!(claims["sub"], "ü");
        assert_eq!(claims["iat"], 1);
    }

    #[test]
    fn anything_else_is_not_a_jwt() {
        for token in [
            "sk-abc",
            "a.b",
            "a.b.c.d",
            // [1] and {} : not an object
            "WzFd.e30.sig",
            // {} and {"a":"<byte 0xff>"}: not UTF-8
            "e30.eyJhIjoi_yJ9.sig",
            "e30.!!!.sig",
        ] {
            assert_eq!(decode_jwt(token), None, "{token}");
        }
    }
}
