//! GitHub: plain OAuth 2.0 without ID tokens. The user comes from
//! `GET {api}/user`, the e-mail from `GET {api}/user/emails` — only the
//! primary address, and only when GitHub marks it verified.
use super::flow::get_with_token;
use serde_json::{Map, Value};

/// Claims in OIDC shape built from GitHub's API: `sub` (the numeric user id,
/// stable across renames), `preferred_username` (the login), `name`,
/// `picture`, `email` and `email_verified`.
pub async fn claims(
    http: &reqwest::Client,
    api: &str,
    access_token: &str,
) -> Result<Map<String, Value>, String> {
    let user = get_with_token(http, &format!("{api}/user"), access_token).await?;
    let emails = get_with_token(http, &format!("{api}/user/emails"), access_token).await?;
    from_api(user, &emails)
}

/// The claims from the two API answers.
pub fn from_api(user: Value, emails: &Value) -> Result<Map<String, Value>, String> {
    let Value::Object(mut claims) = user else {
        return Err("GitHub's /user answer is not an object".into());
    };
    let sub = match claims.get("id") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err("GitHub's /user answer has no id".into()),
    };
    claims.insert("sub".into(), Value::String(sub));
    if let Some(login) = claims.get("login").cloned() {
        claims.insert("preferred_username".into(), login);
    }
    if let Some(avatar) = claims.get("avatar_url").cloned() {
        claims.insert("picture".into(), avatar);
    }
    // `/user`'s own `email` is the public profile address, unverified.
    claims.remove("email");
    let verified_primary = emails.as_array().and_then(|list| {
        list.iter().find(|e| {
            e.get("primary") == Some(&Value::Bool(true))
                && e.get("verified") == Some(&Value::Bool(true))
        })
    });
    match verified_primary
        .and_then(|e| e.get("email"))
        .and_then(Value::as_str)
    {
        Some(email) => {
            claims.insert("email".into(), Value::String(email.into()));
            claims.insert("email_verified".into(), Value::Bool(true));
        }
        None => {
            claims.insert("email_verified".into(), Value::Bool(false));
        }
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_verified_primary_email_counts() {
        let user = json!({"id": 42, "login": "octo", "name": "Octo Cat", "email": "public@example.com", "avatar_url": "https://a/x.png"});
        let emails = json!([
            {"email": "other@example.com", "primary": false, "verified": true},
            {"email": "octo@example.com", "primary": true, "verified": true}
        ]);
        let c = from_api(user.clone(), &emails).unwrap();
        assert_eq!(c["sub"], "42");
        assert_eq!(c["preferred_username"], "octo");
        assert_eq!(c["email"], "octo@example.com");
        assert_eq!(c["email_verified"], true);
        assert_eq!(c["picture"], "https://a/x.png");
        let unverified = json!([{"email": "octo@example.com", "primary": true, "verified": false}]);
        let c = from_api(user, &unverified).unwrap();
        assert!(c.get("email").is_none(), "no unverified or public address");
        assert_eq!(c["email_verified"], false);
        assert!(from_api(json!({"login": "x"}), &json!([])).is_err());
    }
}
