//! Admins only: every user, with a selector to change their role and a
//! button that signs them out everywhere.
use crate::api;
use crate::auth::use_auth;
use crate::components::{AdminOnly, ErrorMessage, Loading, Notice, RoleBadge};
use crate::tasks::{Act, Load};
use leptos::prelude::*;
use tessera_shared::{Role, UpdateRoleForm, UserInfo};

const ROLES: [Role; 3] = [Role::Pending, Role::User, Role::Admin];

/// The user list, or a refusal for non-admins.
#[component]
pub fn Users() -> impl IntoView {
    view! {
        <AdminOnly title="Users" refusal="Only admins can manage users.">
            <UserTable />
        </AdminOnly>
    }
}

#[component]
fn UserTable() -> impl IntoView {
    let auth = use_auth();
    let users = Load::new(move || async move { auth.api()?.users().await });
    let update = Act::new(move |form: &UpdateRoleForm| {
        let form = form.clone();
        async move {
            let result = match auth.api() {
                Ok(api) => api.update_role(&form).await,
                Err(e) => Err(e),
            };
            users.refetch();
            result
        }
    });
    let sign_out = Act::new(move |(id, name): &(String, String)| {
        let (id, name) = (id.clone(), name.clone());
        async move {
            match auth.api() {
                Ok(api) => api.sign_out_user(&id).await.map(|()| name),
                Err(e) => Err(e),
            }
        }
    });
    let signed_out = move || {
        match sign_out.value().get() {
        Some(Ok(name)) => view! {
            <Notice
                id="signout-status"
                message=format!("{name} was signed out everywhere: every session, token and API key of theirs has stopped working.")
            />
        }
        .into_any(),
        Some(Err(e)) => view! { <ErrorMessage message=e.to_string() /> }.into_any(),
        None => ().into_any(),
    }
    };
    let saving = update.pending();
    let outcome = move || {
        match update.value().get() {
        Some(Ok(user)) => view! {
            <Notice id="role-status" message=format!("{}'s role is now {}.", user.name, user.role) />
        }
        .into_any(),
        Some(Err(e)) => view! { <ErrorMessage message=e.to_string() /> }.into_any(),
        None => ().into_any(),
    }
    };
    let me = auth.user().map(|u| u.id).unwrap_or_default();
    let rows = move || match users.get() {
        None => view! { <Loading label="Loading users…" /> }.into_any(),
        Some(Err(e)) => view! { <ErrorMessage message=e.to_string() id="load-error" /> }.into_any(),
        Some(Ok(list)) => {
            let count = list.len();
            let rows = list
                .into_iter()
                .map(|user| {
                    let is_me = user.id == me;
                    view! { <UserRow user is_me saving update sign_out /> }
                })
                .collect_view();
            view! {
                <p class="muted" id="user-count">
                    {count} {if count == 1 { " account" } else { " accounts" }}
                </p>
                <div class="table-wrap">
                    <table class="table" id="users">
                        <thead>
                            <tr>
                                <th scope="col">"Name"</th>
                                <th scope="col">"Email"</th>
                                <th scope="col">"Role"</th>
                                <th scope="col">"Source"</th>
                                <th scope="col">"Sessions"</th>
                            </tr>
                        </thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
            }
            .into_any()
        }
    };
    view! {
        <section class="card">
            <h1>"Users"</h1>
            {outcome}
            {signed_out}
            {rows}
        </section>
    }
}

#[component]
fn UserRow(
    user: UserInfo,
    is_me: bool,
    saving: Memo<bool>,
    update: Act<UpdateRoleForm, api::Result<UserInfo>>,
    sign_out: Act<(String, String), api::Result<String>>,
) -> impl IntoView {
    let sessions_cell = view! {
        <SessionsCell id=user.id.clone() name=user.name.clone() is_me sign_out />
    };
    let id = user.id.clone();
    let email = user.email.clone();
    let on_change = move |ev| {
        if let Some(role) = Role::parse(&event_target_value(&ev)) {
            update.dispatch(UpdateRoleForm {
                id: id.clone(),
                role,
            });
        }
    };
    let role_cell = if is_me {
        view! {
            <RoleBadge role=user.role />
            <span class="muted small">" (you)"</span>
        }
        .into_any()
    } else {
        view! {
            <select
                class="role-select"
                data-test="role-select"
                data-user=user.email.clone()
                aria-label=format!("Role of {}", user.name)
                disabled=move || saving.get()
                on:change=on_change
            >
                {ROLES
                    .map(|role| {
                        view! {
                            <option value=role.as_str() selected=role == user.role>
                                {role.as_str()}
                            </option>
                        }
                    })}
            </select>
        }
        .into_any()
    };
    view! {
        <tr data-test="user-row" data-user=email>
            <td>{user.name}</td>
            <td>{user.email}</td>
            <td>{role_cell}</td>
            <td>
                <span class="source">{user.source}</span>
            </td>
            <td>{sessions_cell}</td>
        </tr>
    }
}

/// The "Sign out everywhere" button with its confirmation; nothing for oneself.
#[component]
fn SessionsCell(
    id: String,
    name: String,
    is_me: bool,
    sign_out: Act<(String, String), api::Result<String>>,
) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let target = (id, name.clone());
    if is_me {
        view! { <span class="muted small">"—"</span> }.into_any()
    } else {
        view! {
            <Show
                when=move || confirming.get()
                fallback=move || {
                    view! {
                        <button
                            type="button"
                            class="button button-quiet button-small"
                            data-test="signout-user"
                            on:click=move |_| confirming.set(true)
                        >
                            "Sign out everywhere"
                        </button>
                    }
                }
            >
                <span class="confirm-row">
                <span class="confirm small">{format!("End every session of {name}?")}</span>
                <button
                    type="button"
                    class="button button-danger button-small"
                    data-test="signout-user-confirm"
                    disabled=move || sign_out.pending().get()
                    on:click={
                        let target = target.clone();
                        move |_| {
                            confirming.set(false);
                            sign_out.dispatch(target.clone());
                        }
                    }
                >
                    "Yes, sign out"
                </button>
                <button
                    type="button"
                    class="button button-quiet button-small"
                    on:click=move |_| confirming.set(false)
                >
                    "Cancel"
                </button>
                </span>
            </Show>
        }
        .into_any()
    }
}
