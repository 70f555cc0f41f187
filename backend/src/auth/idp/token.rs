//! The strict parse of a compact JWS: canonical base64url, JSON without
//! duplicate keys, a header Tessera understands, and typed registered claims.
//! Nothing here checks a signature; `verify.rs` does.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::fmt;

pub use crate::config::issuer::algorithm;

/// Why a token was refused: logged at debug level, shown by the inspector.
pub type Reason = &'static str;

/// A compact JWS, split and decoded, its signature not yet checked.
#[derive(Debug, Clone)]
pub struct ParsedToken<'a> {
    /// `base64(header) "." base64(claims)`: the signed bytes.
    pub signing_input: &'a str,
    /// The signature, decoded.
    pub signature: Vec<u8>,
    /// The signature as sent (canonical base64url).
    pub signature_b64: &'a str,
    /// The header.
    pub header: JoseHeader,
    /// The claims, as JSON.
    pub claims: Map<String, Value>,
    /// The registered claims, typed.
    pub registered: Registered,
}

/// The header fields Tessera reads.
#[derive(Debug, Clone)]
pub struct JoseHeader {
    /// `alg`.
    pub alg: Algorithm,
    /// `kid`.
    pub kid: Option<String>,
    /// The whole header, for the inspector.
    pub raw: Map<String, Value>,
}

/// `aud`: one string or a list of strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audiences(pub Vec<String>);

/// The registered claims, each of its one JSON type; absent when absent.
#[derive(Debug, Clone, Default)]
pub struct Registered {
    /// `iss`.
    pub iss: Option<String>,
    /// `sub`.
    pub sub: Option<String>,
    /// `aud`.
    pub aud: Option<Audiences>,
    /// `exp` (Unix seconds, fractions dropped).
    pub exp: Option<i64>,
    /// `nbf`.
    pub nbf: Option<i64>,
    /// `iat`.
    pub iat: Option<i64>,
    /// `jti`.
    pub jti: Option<String>,
}

/// Decodes canonical unpadded base64url: no padding, no `+` or `/`, no
/// stray bits in the last character.
pub fn b64url(part: &str) -> Result<Vec<u8>, Reason> {
    if !part
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(
            "non-canonical base64url (padding or characters outside the URL-safe alphabet)",
        );
    }
    // The engine refuses padding and non-zero trailing bits.
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| "malformed base64url (bad length or stray bits)")
}

/// The `typ` values of access and ID tokens (or no `typ`).
pub const TOKEN_TYPES: &[&str] = &["JWT", "at+jwt", "application/jwt", "application/at+jwt"];
/// The `typ` values of a back-channel logout token (or no `typ`): never an
/// access token's.
pub const LOGOUT_TYPES: &[&str] = &["JWT", "logout+jwt", "application/logout+jwt"];

/// Splits and decodes `token`. `max_bytes` bounds its length; `typ`, when
/// present, is one of [`TOKEN_TYPES`].
pub fn parse(token: &str, max_bytes: usize) -> Result<ParsedToken<'_>, Reason> {
    parse_typed(token, max_bytes, TOKEN_TYPES)
}

/// [`parse`] with `typ`, when present, one of `types`.
pub fn parse_typed<'t>(
    token: &'t str,
    max_bytes: usize,
    types: &[&str],
) -> Result<ParsedToken<'t>, Reason> {
    if token.len() > max_bytes {
        return Err("token exceeds the size limit");
    }
    if token.starts_with('{') {
        return Err("JWS JSON serialisation where a compact JWS is expected");
    }
    let parts: Vec<&str> = token.split('.').collect();
    match parts.len() {
        3 => {}
        5 => return Err("JWE (encrypted token) where a compact JWS is expected"),
        _ => return Err("not a compact JWS (three dot-separated parts)"),
    }
    let (h, c, s) = (parts[0], parts[1], parts[2]);
    let header_bytes = b64url(h)?;
    let claim_bytes = b64url(c)?;
    if s.is_empty() {
        return Err("unsigned token (empty signature)");
    }
    let signature = b64url(s)?;
    let header_json = strict_object(&header_bytes).map_err(|e| match e {
        JsonProblem::Duplicate => "duplicate key in the header",
        JsonProblem::NotObject => "header is not a JSON object",
        JsonProblem::Malformed => "header is not valid JSON",
    })?;
    let header = parse_header(header_json, types)?;
    let claims = strict_object(&claim_bytes).map_err(|e| match e {
        JsonProblem::Duplicate => "duplicate key in the claims",
        JsonProblem::NotObject => "claims are not a JSON object",
        JsonProblem::Malformed => "claims are not valid JSON",
    })?;
    let registered = registered_claims(&claims)?;
    Ok(ParsedToken {
        signing_input: &token[..h.len() + 1 + c.len()],
        signature,
        signature_b64: s,
        header,
        claims,
        registered,
    })
}

/// Parses the header: `alg` (never `none`), `typ`, `kid`, no `crit`, no `enc`.
/// `jku`, `x5u`, `jwk` and `x5c` are never read.
fn parse_header(raw: Map<String, Value>, types: &[&str]) -> Result<JoseHeader, Reason> {
    if raw.contains_key("crit") {
        return Err("crit header present (no extensions are understood)");
    }
    if raw.contains_key("enc") || raw.contains_key("zip") {
        return Err("JWE header where a JWS is expected");
    }
    let alg = match raw.get("alg") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err("header alg is not a string"),
        None => return Err("header has no alg"),
    };
    if alg.eq_ignore_ascii_case("none") {
        return Err("alg none is never accepted");
    }
    let alg = algorithm(alg).ok_or("unknown alg")?;
    match raw.get("typ") {
        None => {}
        Some(Value::String(t)) if types.iter().any(|ok| t.eq_ignore_ascii_case(ok)) => {}
        Some(_) if types == LOGOUT_TYPES => return Err("typ is not JWT or logout+jwt"),
        Some(_) => return Err("typ is not JWT, at+jwt or application/jwt"),
    }
    let kid = match raw.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err("header kid is not a string"),
    };
    Ok(JoseHeader { alg, kid, raw })
}

/// Reads the registered claims with their types; a claim of another type
/// refuses the token whether or not it is required.
fn registered_claims(c: &Map<String, Value>) -> Result<Registered, Reason> {
    fn string(c: &Map<String, Value>, k: &str, bad: Reason) -> Result<Option<String>, Reason> {
        match c.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad),
        }
    }
    fn date(c: &Map<String, Value>, k: &str, bad: Reason) -> Result<Option<i64>, Reason> {
        match c.get(k) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                if let Some(i) = n.as_i64() {
                    Ok(Some(i))
                } else {
                    match n.as_f64() {
                        Some(f) if f.is_finite() && f.abs() < 1e15 => Ok(Some(f.floor() as i64)),
                        _ => Err(bad),
                    }
                }
            }
            Some(_) => Err(bad),
        }
    }
    let aud = match c.get("aud") {
        None => None,
        Some(Value::String(s)) => Some(Audiences(vec![s.clone()])),
        Some(Value::Array(items)) => Some(Audiences(
            items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or("aud is a list with a non-string element")?,
        )),
        Some(_) => return Err("aud is neither a string nor a list of strings"),
    };
    Ok(Registered {
        iss: string(c, "iss", "iss is not a string")?,
        sub: string(c, "sub", "sub is not a string")?,
        aud,
        exp: date(c, "exp", "exp is not a number")?,
        nbf: date(c, "nbf", "nbf is not a number")?,
        iat: date(c, "iat", "iat is not a number")?,
        jti: string(c, "jti", "jti is not a string")?,
    })
}

#[derive(Debug, PartialEq, Eq)]
enum JsonProblem {
    Duplicate,
    NotObject,
    Malformed,
}

/// Parses a JSON object, refusing a duplicate key at any depth.
fn strict_object(bytes: &[u8]) -> Result<Map<String, Value>, JsonProblem> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = match NoDup::deserialize(&mut de) {
        Ok(NoDup(v)) => v,
        Err(e) if e.to_string().starts_with(DUPLICATE) => return Err(JsonProblem::Duplicate),
        Err(_) => return Err(JsonProblem::Malformed),
    };
    de.end().map_err(|_| JsonProblem::Malformed)?;
    match value {
        Value::Object(m) => Ok(m),
        _ => Err(JsonProblem::NotObject),
    }
}

const DUPLICATE: &str = "duplicate key";

/// A `serde_json::Value` whose objects may not repeat a key.
struct NoDup(Value);

impl<'de> Deserialize<'de> for NoDup {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoDupVisitor)
    }
}

struct NoDupVisitor;

impl<'de> Visitor<'de> for NoDupVisitor {
    type Value = NoDup;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<NoDup, E> {
        Ok(NoDup(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<NoDup, E> {
        Ok(NoDup(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<NoDup, E> {
        Ok(NoDup(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<NoDup, E> {
        Ok(NoDup(
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }
    fn visit_str<E>(self, v: &str) -> Result<NoDup, E> {
        Ok(NoDup(Value::String(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<NoDup, E> {
        Ok(NoDup(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<NoDup, E> {
        Ok(NoDup(Value::Null))
    }
    fn visit_none<E>(self) -> Result<NoDup, E> {
        Ok(NoDup(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<NoDup, D::Error> {
        NoDup::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NoDup, A::Error> {
        let mut out = Vec::new();
        while let Some(NoDup(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(NoDup(Value::Array(out)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NoDup, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let NoDup(v) = map.next_value()?;
            if out.insert(key, v).is_some() {
                return Err(de::Error::custom(DUPLICATE));
            }
        }
        Ok(NoDup(Value::Object(out)))
    }
}

/// Looks a claim up by a top-level name, or by a JSON Pointer when it starts with `/`.
pub fn claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(pointer) = name.strip_prefix('/') {
        let mut cur: Option<&Value> = None;
        for (i, raw) in pointer.split('/').enumerate() {
            let token = raw.replace("~1", "/").replace("~0", "~");
            cur = if i == 0 {
                claims.get(&token)
            } else {
                match cur? {
                    Value::Object(m) => m.get(&token),
                    Value::Array(a) => token.parse::<usize>().ok().and_then(|i| a.get(i)),
                    _ => None,
                }
            };
        }
        cur
    } else {
        claims.get(name)
    }
}

/// What [`groups`] makes of a groups claim of JSON `null`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NullGroups {
    /// No groups, as if the claim were absent.
    Empty,
    /// Refused, like any other claim that is neither a string nor a list.
    Refused,
}

/// The groups in claim `name` (looked up as by [`claim`]): a string is one
/// group, a list of strings several; no claim configured, or none in the
/// token, is no groups. Refused: a list with a non-string element, any other
/// type (`null` as `null` says).
pub fn groups(
    claims: &Map<String, Value>,
    name: Option<&str>,
    null: NullGroups,
) -> Result<Vec<String>, Reason> {
    match name.and_then(|n| claim(claims, n)) {
        None => Ok(Vec::new()),
        Some(Value::Null) if null == NullGroups::Empty => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or("the groups claim has a non-string element"),
        Some(_) => Err("the groups claim is neither a string nor a list"),
    }
}

/// `groups`, refused when one is empty or holds a control character.
pub fn printable_groups(groups: Vec<String>) -> Result<Vec<String>, Reason> {
    if groups
        .iter()
        .any(|g| g.is_empty() || g.chars().any(char::is_control))
    {
        return Err("the groups claim has an empty or unprintable group");
    }
    Ok(groups)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    pub fn raw_token(header: &str, claims: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(claims), b64("sig"))
    }

    const H: &str = r#"{"alg":"RS256","kid":"k1"}"#;
    const C: &str = r#"{"iss":"https://idp","sub":"u","exp":2000000000}"#;

    #[test]
    fn a_plain_token_parses() {
        let t = raw_token(H, C);
        let p = parse(&t, 16384).unwrap();
        assert_eq!(p.header.alg, Algorithm::RS256);
        assert_eq!(p.header.kid.as_deref(), Some("k1"));
        assert_eq!(p.registered.iss.as_deref(), Some("https://idp"));
        assert_eq!(p.registered.exp, Some(2_000_000_000));
        assert_eq!(p.signature, b"sig");
    }

    #[test]
    fn base64_must_be_canonical() {
        let t = raw_token(H, C);
        let (h, rest) = t.split_once('.').unwrap();
        assert!(parse(&format!("{h}=.{rest}"), 16384).is_err(), "padding");
        let plus = t.replacen('-', "+", 1).replacen('_', "/", 1);
        if plus != t {
            assert!(parse(&plus, 16384).is_err(), "+ and /");
        }
        // "si" encodes to c2k; c2l carries a stray low bit
        assert!(parse(&format!("{}.{}.c2k", b64(H), b64(C)), 16384).is_ok());
        let stray = format!("{}.{}.c2l", b64(H), b64(C));
        assert_eq!(
            parse(&stray, 16384).unwrap_err(),
            "malformed base64url (bad length or stray bits)"
        );
        assert!(
            parse(&format!("{}.{}.a", b64(H), b64(C)), 16384).is_err(),
            "bad length"
        );
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        let dup_h = raw_token(r#"{"alg":"RS256","alg":"HS256"}"#, C);
        assert_eq!(
            parse(&dup_h, 16384).unwrap_err(),
            "duplicate key in the header"
        );
        let dup_c = raw_token(H, r#"{"iss":"a","sub":"u","sub":"admin"}"#);
        assert_eq!(
            parse(&dup_c, 16384).unwrap_err(),
            "duplicate key in the claims"
        );
        let nested = raw_token(H, r#"{"iss":"a","realm":{"roles":[],"roles":["admin"]}}"#);
        assert_eq!(
            parse(&nested, 16384).unwrap_err(),
            "duplicate key in the claims"
        );
    }

    #[test]
    fn malformed_json_and_shapes() {
        assert!(parse(&raw_token(H, "{not json"), 16384).is_err());
        assert!(parse(&raw_token(H, "[1,2]"), 16384).is_err());
        assert!(parse(&raw_token(H, r#"{"a":1} x"#), 16384).is_err());
        assert!(parse("a.b", 16384).is_err());
        assert_eq!(
            parse("a.b.c.d.e", 16384).unwrap_err(),
            "JWE (encrypted token) where a compact JWS is expected"
        );
        assert!(parse(r#"{"payload":"x","signatures":[]}"#, 16384).is_err());
        let t = raw_token(H, C);
        assert_eq!(
            parse(&t, t.len() - 1).unwrap_err(),
            "token exceeds the size limit"
        );
        let unsigned = format!("{}.{}.", b64(H), b64(C));
        assert!(parse(&unsigned, 16384).is_err());
    }

    #[test]
    fn header_rules() {
        for none in ["none", "None", "NONE", "nOnE"] {
            let t = raw_token(&format!(r#"{{"alg":"{none}"}}"#), C);
            assert_eq!(parse(&t, 16384).unwrap_err(), "alg none is never accepted");
        }
        let crit = raw_token(r#"{"alg":"RS256","crit":["exp"],"exp":1}"#, C);
        assert!(parse(&crit, 16384).is_err());
        for typ in ["JWT", "jwt", "at+jwt", "application/jwt"] {
            let t = raw_token(&format!(r#"{{"alg":"RS256","typ":"{typ}"}}"#), C);
            assert!(parse(&t, 16384).is_ok(), "{typ}");
        }
        for typ in [r#""JOSE""#, r#""dpop+jwt""#, r#""logout+jwt""#, "1"] {
            let t = raw_token(&format!(r#"{{"alg":"RS256","typ":{typ}}}"#), C);
            assert!(parse(&t, 16384).is_err(), "{typ}");
        }
        assert!(parse(&raw_token(r#"{"alg":"rs256"}"#, C), 16384).is_err());
        assert!(parse(&raw_token(r#"{"alg":256}"#, C), 16384).is_err());
        assert!(parse(&raw_token(r#"{"alg":"RS256","kid":7}"#, C), 16384).is_err());
        assert!(parse(&raw_token(r#"{"alg":"RS256","enc":"A128GCM"}"#, C), 16384).is_err());
    }

    #[test]
    fn claim_types_are_enforced() {
        for (claims, why) in [
            (r#"{"exp":"2000000000"}"#, "exp is not a number"),
            (r#"{"nbf":true}"#, "nbf is not a number"),
            (r#"{"iat":null}"#, "iat is not a number"),
            (r#"{"iss":42}"#, "iss is not a string"),
            (r#"{"sub":["a"]}"#, "sub is not a string"),
            (
                r#"{"aud":{"a":1}}"#,
                "aud is neither a string nor a list of strings",
            ),
            (
                r#"{"aud":["a",1]}"#,
                "aud is a list with a non-string element",
            ),
            (r#"{"jti":1}"#, "jti is not a string"),
        ] {
            assert_eq!(parse(&raw_token(H, claims), 16384).unwrap_err(), why);
        }
        let t = raw_token(H, r#"{"aud":["a","b"],"exp":1.9}"#);
        let p = parse(&t, 16384).unwrap();
        assert_eq!(
            p.registered.aud,
            Some(Audiences(vec!["a".into(), "b".into()]))
        );
        assert_eq!(p.registered.exp, Some(1));
    }

    #[test]
    fn groups_from_a_string_a_list_null_or_nothing() {
        let c = serde_json::json!({"one": "admins", "many": ["a", "b"], "none": null,
            "mixed": ["a", 1], "number": 7, "ra": {"roles": ["r"]}, "blank": ["a", ""],
            "control": ["a\nb"]})
        .as_object()
        .cloned()
        .unwrap();
        let read = |name: &str, null| groups(&c, Some(name), null);
        for null in [NullGroups::Empty, NullGroups::Refused] {
            assert_eq!(read("one", null).unwrap(), vec!["admins"]);
            assert_eq!(read("many", null).unwrap(), vec!["a", "b"]);
            assert_eq!(read("/ra/roles", null).unwrap(), vec!["r"]);
            assert!(read("absent", null).unwrap().is_empty());
            assert!(
                groups(&c, None, null).unwrap().is_empty(),
                "none configured"
            );
            assert_eq!(
                read("mixed", null).unwrap_err(),
                "the groups claim has a non-string element"
            );
            assert_eq!(
                read("number", null).unwrap_err(),
                "the groups claim is neither a string nor a list"
            );
        }
        assert!(read("none", NullGroups::Empty).unwrap().is_empty());
        assert_eq!(
            read("none", NullGroups::Refused).unwrap_err(),
            "the groups claim is neither a string nor a list"
        );
        // only printable_groups refuses empty and unprintable groups
        for name in ["blank", "control"] {
            let g = read(name, NullGroups::Refused).unwrap();
            assert_eq!(
                printable_groups(g).unwrap_err(),
                "the groups claim has an empty or unprintable group"
            );
        }
        let g = read("many", NullGroups::Empty).unwrap();
        assert_eq!(printable_groups(g).unwrap(), vec!["a", "b"]);
    }

    #[test]
    fn json_pointer_claims() {
        let m: Map<String, Value> = serde_json::from_str(
            r#"{"realm_access":{"roles":["a","b"]},"a/b":{"c~d":1},"top":"x"}"#,
        )
        .unwrap();
        assert_eq!(claim(&m, "/realm_access/roles/1"), Some(&Value::from("b")));
        assert_eq!(claim(&m, "/a~1b/c~0d"), Some(&Value::from(1)));
        assert_eq!(claim(&m, "top"), Some(&Value::from("x")));
        assert_eq!(claim(&m, "/top"), Some(&Value::from("x")));
        assert_eq!(claim(&m, "/missing/x"), None);
    }
}
