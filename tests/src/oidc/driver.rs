//! Drives the provider's pages without a browser: a reqwest client that
//! keeps cookies and never follows redirects on its own walks from Tessera's
//! `/oauth/{p}/login` (or any authorization URL) through the provider's
//! login and consent forms to the final redirect, and through its logout
//! form (RP-initiated logout).
use anyhow::{anyhow, bail, Context, Result};
use reqwest::header::LOCATION;
use reqwest::{Method, StatusCode, Url};
use std::time::Duration;

/// Redirects and form posts followed before a sign-in is declared looping.
const MAX_HOPS: usize = 25;

/// A client that behaves like one browser for [`sign_in_via_provider`]:
/// keeps cookies, follows no redirect by itself, no proxies.
pub fn driver_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Whether Tessera's sign-in goes on at `url`: its login and callback paths.
fn is_tessera_oauth_step(url: &Url) -> bool {
    let path = url.path();
    path.starts_with("/oauth/") && (path.ends_with("/login") || path.ends_with("/callback"))
}

/// Drives a sign-in from `start_url` — Tessera's `/oauth/{p}/login[?next=]`,
/// or a provider authorization URL such as the one `tessera login` prints —
/// through the provider's login (as `login` / `password`) and consent forms,
/// a `form_post` response page, and Tessera's callback, with `client` (see
/// [`driver_client`]). Returns the first redirect that leaves the flow: on
/// Tessera anything but `/oauth/*/login|callback` (e.g.
/// `/oauth/complete#code=...` or `/signin?error=...`); elsewhere anything
/// off the provider (e.g. a CLI's loopback callback). Errors if the provider
/// refuses the password or any step answers something unexpected.
pub async fn sign_in_via_provider(
    client: &reqwest::Client,
    start_url: &str,
    login: &str,
    password: &str,
) -> Result<String> {
    drive(client, start_url, login, password, false).await
}

/// Like [`sign_in_via_provider`] from Tessera's `/oauth/{p}/login`, but stops
/// at the provider's redirect to Tessera's callback and returns that URL
/// (`.../oauth/{p}/callback?code=...&state=...`) without visiting it, so a
/// test can tamper with it, replay it or deliver it from another client.
/// Query response mode only.
pub async fn drive_to_callback(
    client: &reqwest::Client,
    start_url: &str,
    login: &str,
    password: &str,
) -> Result<String> {
    drive(client, start_url, login, password, true).await
}

async fn drive(
    client: &reqwest::Client,
    start_url: &str,
    login: &str,
    password: &str,
    stop_at_callback: bool,
) -> Result<String> {
    let start = Url::parse(start_url).with_context(|| format!("start URL {start_url}"))?;
    let tessera = is_tessera_oauth_step(&start).then(|| origin(&start));
    let mut provider: Option<String> = None;
    let mut method = Method::GET;
    let mut url = start;
    let mut form: Vec<(String, String)> = Vec::new();
    let mut logged_in = false;
    for _ in 0..MAX_HOPS {
        let here = origin(&url);
        if tessera.as_deref() != Some(here.as_str()) && provider.is_none() {
            provider = Some(here.clone());
        }
        let mut req = client.request(method.clone(), url.clone());
        if method == Method::POST {
            req = req.form(&form);
        }
        let res = req
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = res.status();
        if status.is_redirection() {
            let location = res
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .with_context(|| format!("{status} without Location from {url}"))?
                .to_owned();
            let next = url
                .join(&location)
                .with_context(|| format!("Location {location}"))?;
            let next_origin = origin(&next);
            let on_tessera = tessera.as_deref() == Some(next_origin.as_str());
            if !on_tessera && provider.is_none() {
                // Tessera's login sends the browser to the provider
                provider = Some(next_origin.clone());
            }
            let on_provider = provider.as_deref() == Some(next_origin.as_str());
            if on_tessera && stop_at_callback && next.path().ends_with("/callback") {
                return Ok(next.to_string());
            }
            let go_on = if on_tessera {
                is_tessera_oauth_step(&next)
            } else {
                on_provider
            };
            if !go_on {
                return Ok(next.to_string());
            }
            method = Method::GET;
            form.clear();
            url = next;
            continue;
        }
        let body = res.text().await.unwrap_or_default();
        if status != StatusCode::OK {
            bail!("{method} {url} answered {status}: {}", snippet(&body));
        }
        if body.contains("id=\"login-form\"") {
            if logged_in || body.contains("id=\"error\"") {
                bail!("the provider refused the login of {login:?}");
            }
            logged_in = true;
            url = form_action(&url, &body, "login-form")?;
            method = Method::POST;
            form = vec![
                ("login".into(), login.into()),
                ("password".into(), password.into()),
            ];
        } else if body.contains("id=\"consent-form\"") {
            url = form_action(&url, &body, "consent-form")?;
            method = Method::POST;
            form.clear();
        } else if body.contains("<title>Submitting Callback</title>") {
            // response_mode=form_post: what the page's script would submit
            let (action, fields) = auto_post_form(&body)?;
            let next = url.join(&action).context("form_post action")?;
            let next_origin = origin(&next);
            if tessera.as_deref() != Some(next_origin.as_str()) && tessera.is_some() {
                bail!("form_post to {next}, not to Tessera");
            }
            url = next;
            method = Method::POST;
            form = fields;
        } else {
            bail!("{method} {url}: unexpected page: {}", snippet(&body));
        }
    }
    Err(anyhow!("no end to the sign-in after {MAX_HOPS} steps"))
}

/// RP-initiated logout with `client` (the browser whose cookies hold the
/// provider session): opens `end_session_url` (the provider's
/// `end_session_endpoint` with the query the caller built), submits the
/// provider's logout form, and returns where it ended: the first redirect
/// off the provider (the `post_logout_redirect_uri`), or the provider's
/// signed-out page. The provider has posted its logout tokens by then.
pub async fn end_session(client: &reqwest::Client, end_session_url: &str) -> Result<String> {
    let mut url = Url::parse(end_session_url).context("end_session URL")?;
    let provider = origin(&url);
    let mut method = Method::GET;
    let mut form: Vec<(String, String)> = Vec::new();
    for _ in 0..MAX_HOPS {
        let mut req = client.request(method.clone(), url.clone());
        if method == Method::POST {
            req = req.form(&form);
        }
        let res = req
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = res.status();
        if status.is_redirection() {
            let location = res
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .with_context(|| format!("{status} without Location from {url}"))?;
            let next = url.join(location).context("Location")?;
            if origin(&next) != provider {
                return Ok(next.to_string());
            }
            (method, url) = (Method::GET, next);
            form.clear();
            continue;
        }
        let body = res.text().await.unwrap_or_default();
        if status != StatusCode::OK {
            bail!("{method} {url} answered {status}: {}", snippet(&body));
        }
        if body.contains("id=\"signed-out\"") {
            return Ok(url.to_string());
        }
        let at = body
            .find("id=\"logout-form\"")
            .with_context(|| format!("{url}: no logout form: {}", snippet(&body)))?;
        let start = body[..at].rfind("<form").context("form tag")?;
        let (action, fields) = auto_post_form(&body[start..])?;
        (method, url) = (Method::POST, url.join(&action).context("form action")?);
        form = fields;
    }
    Err(anyhow!("no end to the logout after {MAX_HOPS} steps"))
}

fn snippet(body: &str) -> String {
    body.chars().take(600).collect()
}

fn form_action(base: &Url, body: &str, form_id: &str) -> Result<Url> {
    let at = body
        .find(&format!("id=\"{form_id}\""))
        .context("form not found")?;
    let rest = &body[at..];
    let action = attribute(rest, "action").context("form without action")?;
    base.join(&action).context("form action")
}

/// The value of the first `name="..."` attribute in `tag`, unescaped.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(html_unescape(&tag[start..end]))
}

fn html_unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The action and hidden fields of oidc-provider's form_post page.
fn auto_post_form(body: &str) -> Result<(String, Vec<(String, String)>)> {
    let form_at = body.find("<form").context("no form")?;
    let form_end = body[form_at..].find('>').context("form tag")? + form_at;
    let action = attribute(&body[form_at..=form_end], "action").context("no action")?;
    let mut fields = Vec::new();
    let mut rest = &body[form_end..];
    while let Some(at) = rest.find("<input") {
        let end = rest[at..].find('>').context("input tag")? + at;
        let tag = &rest[at..=end];
        if let (Some(name), Some(value)) = (attribute(tag, "name"), attribute(tag, "value")) {
            fields.push((name, value));
        }
        rest = &rest[end..];
    }
    Ok((action, fields))
}

#[cfg(test)]
mod tests {
    use super::super::pkce_challenge;
    use super::*;

    #[test]
    fn reads_the_form_post_page() {
        let page = r#"<form method="post" action="http://127.0.0.1:1/oauth/p/callback">
    <input type="hidden" name="code" value="a&amp;b"/>
<input type="hidden" name="state" value="&quot;s&#39;"/>"#;
        let (action, fields) = auto_post_form(page).expect("parsed");
        assert_eq!(action, "http://127.0.0.1:1/oauth/p/callback");
        assert_eq!(
            fields,
            vec![
                ("code".to_owned(), "a&b".to_owned()),
                ("state".to_owned(), "\"s'".to_owned())
            ]
        );
    }

    #[test]
    fn pkce_challenge_is_rfc7636_s256() {
        // RFC 7636, appendix B
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
