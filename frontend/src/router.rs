//! Client-side navigation: the current path and query as signals, `<A>`
//! links, and navigation through the History API. It does what the SPA used
//! of `leptos_router` — the same history entries, link clicks, back and
//! forward, scrolling and `aria-current` — in far less code (the SPA's size;
//! docs/benchmarks.md, "SPA size").
use crate::url;
use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{HtmlAnchorElement, MouseEvent};

/// Where the app is: read it with [`use_location`].
#[derive(Debug, Clone, Copy)]
pub struct Location {
    /// The path, as the address bar has it.
    pub path: RwSignal<String>,
    /// The query, without the `?`.
    pub search: RwSignal<String>,
    /// The path, query and fragment of the last history entry this router made.
    entry: StoredValue<String>,
    /// Counts navigations: a history entry is written only for the last one.
    navigations: StoredValue<u32>,
}

/// Provides the [`Location`] from the address bar and follows it: link clicks
/// on this origin navigate without a page load, and back and forward update it.
pub fn provide_location() -> Location {
    let (path, search, hash) = address_bar();
    let location = Location {
        entry: StoredValue::new(full_path(&path, &search, &hash)),
        path: RwSignal::new(path),
        search: RwSignal::new(search),
        navigations: StoredValue::new(0),
    };
    provide_context(location);
    let _ = window_event_listener(ev::click, move |e| location.follow_link(e));
    let _ = window_event_listener(ev::popstate, move |_| {
        let (path, search, hash) = address_bar();
        location.entry.set_value(full_path(&path, &search, &hash));
        location.show(path, search);
    });
    location
}

/// The [`Location`] provided by the app root.
pub fn use_location() -> Location {
    expect_context()
}

/// Navigates to `path` (a new history entry) at once.
pub fn redirect(path: &str) {
    use_location().navigate(path, false);
}

impl Location {
    /// The last value of `key` in the query, decoded.
    pub fn query(self, key: &str) -> Option<String> {
        self.search.with(|search| query_value(search, key))
    }

    /// The last value of `key` in the query, decoded, without tracking.
    pub fn query_untracked(self, key: &str) -> Option<String> {
        self.search
            .with_untracked(|search| query_value(search, key))
    }

    /// Shows the page at `to` (a path on this site, with query and fragment
    /// if any) and, once it has rendered, writes the history entry (replacing
    /// the current one when `replace`) and scrolls to the top or the fragment.
    /// A navigation that starts meanwhile (a redirect) writes its own instead.
    pub fn navigate(self, to: &str, replace: bool) {
        let Ok(origin) = window().location().origin() else {
            return;
        };
        let url = match web_sys::Url::new_with_base(to, &origin) {
            Ok(url) => url,
            Err(e) => return leptos::logging::error!("Error parsing URL: {e:?}"),
        };
        if url.origin() != origin {
            let _ = window().location().set_href(to);
            return;
        }
        let (path, search, hash) = (url.pathname(), url.search(), url.hash());
        let search = search.strip_prefix('?').unwrap_or(&search).to_owned();
        let entry = full_path(&path, &search, &hash);
        let same_path = self.path.with_untracked(|p| *p == path);
        let navigation = self.navigations.get_value().wrapping_add(1);
        self.navigations.set_value(navigation);
        self.show(path, search);
        if same_path {
            self.write_entry(&entry, replace);
        } else {
            // After the new page has rendered: its own redirect, if any, wins.
            spawn_local(async move {
                if self.navigations.get_value() == navigation {
                    self.write_entry(&entry, replace);
                }
            });
        }
    }

    fn show(self, path: String, search: String) {
        if self.path.with_untracked(|p| *p != path) {
            self.path.set(path);
        }
        if self.search.with_untracked(|s| *s != search) {
            self.search.set(search);
        }
    }

    fn write_entry(self, entry: &str, replace: bool) {
        if let Ok(history) = window().history() {
            let written = if replace {
                history.replace_state_with_url(&JsValue::NULL, "", Some(entry))
            } else if self.entry.with_value(|e| e != entry) {
                history.push_state_with_url(&JsValue::NULL, "", Some(entry))
            } else {
                Ok(())
            };
            if let Err(e) = written {
                web_sys::console::error_1(&e);
            }
        }
        let (path, search, hash) = address_bar();
        self.entry.set_value(full_path(&path, &search, &hash));
        scroll_to_fragment();
    }

    /// A plain left click on a link to this origin, without `target`,
    /// `download` or `rel="external"`, navigates here instead of loading a page.
    fn follow_link(self, e: MouseEvent) {
        if e.default_prevented()
            || e.button() != 0
            || e.meta_key()
            || e.alt_key()
            || e.ctrl_key()
            || e.shift_key()
        {
            return;
        }
        // the outermost link the click is in
        let path = e.composed_path();
        let Some(a) = (0..path.length())
            .rev()
            .find_map(|i| path.get(i).dyn_into::<HtmlAnchorElement>().ok())
        else {
            return;
        };
        let external = a
            .get_attribute("rel")
            .is_some_and(|rel| rel.split([' ', '\t']).any(|p| p == "external"));
        if !a.target().is_empty() || a.href().is_empty() || a.has_attribute("download") || external
        {
            return;
        }
        if window().location().origin().ok() != Some(a.origin()) {
            return;
        }
        e.prevent_default();
        let path = js_sys::decode_uri(&a.pathname())
            .map(String::from)
            .unwrap_or_else(|_| a.pathname());
        let search = a.search();
        self.navigate(&format!("{path}{search}{}", a.hash()), false);
    }
}

/// The address bar's path, query (without `?`) and fragment.
fn address_bar() -> (String, String, String) {
    let location = window().location();
    let search = location.search().unwrap_or_default();
    (
        location.pathname().unwrap_or_default(),
        search.strip_prefix('?').unwrap_or(&search).to_owned(),
        location.hash().unwrap_or_default(),
    )
}

fn full_path(path: &str, search: &str, hash: &str) -> String {
    let query = if search.is_empty() { "" } else { "?" };
    format!("{path}{query}{search}{hash}")
}

/// The element the fragment names comes into view, else the top of the page.
fn scroll_to_fragment() {
    let hash = window().location().hash().unwrap_or_default();
    if let Some(id) = hash.strip_prefix('#') {
        let id = js_sys::decode_uri(id)
            .map(String::from)
            .unwrap_or_else(|_| hash.clone());
        if let Some(element) = document().get_element_by_id(&id) {
            return element.scroll_into_view();
        }
    }
    window().scroll_to_with_x_and_y(0.0, 0.0);
}

/// The last value of `key` in `search`, form-decoded and then
/// URI-component-decoded once more, as `leptos_router` read queries.
fn query_value(search: &str, key: &str) -> Option<String> {
    let value = url::params(search)
        .into_iter()
        .rev()
        .find_map(|(k, v)| (k == key).then_some(v))?;
    Some(
        js_sys::decode_uri_component(&value)
            .map(String::from)
            .unwrap_or(value),
    )
}

/// A link within the SPA: `aria-current="page"` while the path is `href`
/// or below it.
#[component]
pub fn A(href: &'static str, children: Children) -> impl IntoView {
    let location = use_location();
    let current = move || location.path.with(|path| is_active_for(href, path));
    view! {
        <a href=href aria-current=move || current().then_some("page")>
            {children()}
        </a>
    }
}

/// Whether `location` is `href` or below it; both start with `/`.
fn is_active_for(href: &str, location: &str) -> bool {
    let mut href = href.split('/');
    std::iter::zip(location.split('/'), href.by_ref())
        .enumerate()
        .all(|(i, (loc, href))| loc == href || href.is_empty() && i > 1)
        && matches!(href.next(), None | Some(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_active_on_their_page_and_below() {
        assert!(is_active_for("/dashboard", "/dashboard"));
        assert!(is_active_for("/dashboard", "/dashboard/"));
        assert!(is_active_for(
            "/settings/security",
            "/settings/security/test"
        ));
        assert!(!is_active_for("/settings/security", "/settings"));
        assert!(!is_active_for("/users", "/dashboard"));
        assert!(is_active_for("/", "/"));
        assert!(!is_active_for("/", "/dashboard"));
    }
}
