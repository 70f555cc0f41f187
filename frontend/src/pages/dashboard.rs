//! The signed-in person (role, groups, the issuer that vouched for them and
//! the claims it mapped) and their token: issuer, expiry and, for a JWT, its
//! decoded header and claims (display only: the server validates tokens).
//! An embed session also shows what its ticket allows and the data it may
//! reach.
use crate::auth::use_auth;
use crate::components::{RoleBadge, Shell, TokenExpiry};
use crate::jwt::{self, decode_jwt};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;
use std::collections::BTreeMap;
use tessera_shared::{routes, AuthMethod, Role, SessionUser};

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
    let grant = jwt::embed_claim(&user.token);
    let data = (grant.as_ref())
        .filter(|g| reaches(&g["paths"], routes::GROUPS))
        .map(|_| view! { <GroupsCard /> });
    // an embed session (which has no mapped claims) shows its ticket's grant there
    let (id, title, claims) = match &grant {
        Some(grant) => ("embed-grant", "Embed ticket", grant_claims(grant)),
        None => ("mapped-claims", "Mapped claims", user.metadata.clone()),
    };
    let claims = (!claims.is_empty()).then(|| {
        let rows = claims
            .iter()
            .map(|(key, value)| {
                view! {
                    <dt>{key.clone()}</dt>
                    <dd data-claim=key.clone()>{value.clone()}</dd>
                }
            })
            .collect_view();
        view! {
            <section class="card" id=id>
                <h2>{title}</h2>
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
        {data}
        {token}
    }
}

/// What an embed session's ticket allows (its token's `emb` claim), as
/// claims to show: `origin`, `paths`, `scopes` and the locked `params`
/// (JSON but for the origin; a `<dd>` shows pretty JSON on one line).
fn grant_claims(grant: &Value) -> BTreeMap<String, String> {
    let show = |key: &str| match &grant[key] {
        Value::String(text) => text.clone(),
        other => pretty(other),
    };
    let mut claims = BTreeMap::new();
    for key in ["origin", "paths", "scopes", "params"] {
        claims.insert(key.to_owned(), show(key));
    }
    claims
}

/// `GET /api/v1/groups/`: each group with its member count, loaded once
/// for each embed session (a new session builds the page anew).
#[component]
fn GroupsCard() -> impl IntoView {
    let auth = use_auth();
    let text = RwSignal::new("Loading…".to_owned());
    spawn_local(async move {
        let groups = match auth.api() {
            Ok(api) => api.groups().await,
            Err(e) => Err(e),
        };
        text.try_set(groups.unwrap_or_else(|e| e.to_string()));
    });
    view! {
        <section class="card" id="embed-data">
            <h2>"Groups"</h2>
            <p id="embed-groups">{text}</p>
        </section>
    }
}

/// Whether one of an embed ticket's path patterns names `path`: exactly,
/// or as `/prefix/*` (the prefix and below), as the server checks.
fn reaches(patterns: &Value, path: &str) -> bool {
    let mut patterns = patterns
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    patterns.any(|p| match p.strip_suffix("/*") {
        Some(prefix) => path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
        None => p == path,
    })
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
    fn ticket_paths_reach_like_the_server_checks() {
        let paths = |p: &[&str]| serde_json::json!(p);
        assert!(reaches(&paths(&["/api/v1/groups/*"]), "/api/v1/groups/"));
        assert!(reaches(&paths(&["/api/v1/*"]), "/api/v1/groups/"));
        assert!(reaches(&paths(&["/api/v1/groups/"]), "/api/v1/groups/"));
        assert!(!reaches(&paths(&["/api/v1/group/*"]), "/api/v1/groups/"));
        assert!(!reaches(&paths(&["/api/v1/groups"]), "/api/v1/groups/"));
        assert!(!reaches(&paths(&["/api/v1/users/*"]), "/api/v1/groups/"));
    }
}
