//! Tessera's single-page app: mounts the Leptos root component on `<body>`.

mod api;
mod app;
mod auth;
mod components;
mod config;
mod injection;
mod jwt;
mod pages;
mod router;
mod routes;
mod tasks;
mod url;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
