//! The signed-in person, their role and their token's expiry.
use crate::auth::use_auth;
use crate::components::{RoleBadge, Shell, TokenExpiry};
use leptos::prelude::*;
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
                <dt>"Token expires"</dt>
                <dd id="token-expiry">
                    <TokenExpiry expires_at=user.expires_at />
                </dd>
            </dl>
        </section>
    }
}

/// How the token was obtained, in words.
fn method(user: &SessionUser) -> String {
    match (user.auth_method, &user.issuer) {
        (AuthMethod::Session, _) => "a Tessera session".to_owned(),
        (AuthMethod::Jwt, Some(issuer)) => format!("a token from {issuer}"),
        (AuthMethod::Jwt, None) => "an identity provider's token".to_owned(),
        (AuthMethod::ApiKey, _) => "an API key".to_owned(),
        (AuthMethod::TrustedHeader, _) => "a trusted proxy's headers".to_owned(),
    }
}
