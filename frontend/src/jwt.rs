//! What the SPA reads from a JWT without checking it (the server checks
//! tokens): its header and claims for display, and an embed session's
//! grant, its `emb` claim.
use serde_json::Value;

/// What an embed session's ticket allows: its token's `emb` claim
/// (`origin`, `paths`, `scopes`, `params`), when it is one. Read here, not
/// from `SessionUser::embed`, which the SPA's build leaves out (its decoder
/// cost ~1.7 KB gzip; the JSON value reader is linked anyway).
pub fn embed_claim(token: &str) -> Option<Value> {
    let (_, mut claims) = decode_jwt(token)?;
    Some(claims.get_mut("emb")?.take()).filter(Value::is_object)
}

/// The header and claims of a compact JWT; `None` for anything else.
pub fn decode_jwt(token: &str) -> Option<(Value, Value)> {
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

    #[test]
    fn an_embed_sessions_grant_is_its_emb_claim() {
        // {"alg":"HS256"} . {"emb":{"origin":"https://p.example","paths":["/api/v1/groups/*"]}}
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJlbWIiOnsib3JpZ2luIjoiaHR0cHM6Ly9wLmV4YW1wbGUiLCJwYXRocyI6WyIvYXBpL3YxL2dyb3Vwcy8qIl19fQ.sig";
        let grant = embed_claim(token).unwrap_or_default();
        assert_eq!(grant["origin"], "https://p.example");
        assert_eq!(grant["paths"][0], "/api/v1/groups/*");
        assert_eq!(
            embed_claim("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiLDvCIsImlhdCI6MX0.sig"),
            None
        );
    }
}
