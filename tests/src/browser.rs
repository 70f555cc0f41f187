//! Headless Chromium over WebDriver, for the browser tests.
//!
//! Each [`Browser`] starts its own chromedriver on a free loopback port and a
//! Chromium with a fresh profile. Every wait gives up after [`WAIT`]. Dropping
//! a `Browser` kills chromedriver's whole process group, Chromium included.
use anyhow::{anyhow, bail, Context, Result};
use fantoccini::elements::Element;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use std::future::Future;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::process::{Child, Command};

/// How long any wait for the page lasts before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);
/// The `localStorage` key under which the SPA keeps the signed-in user.
pub const STORAGE_KEY: &str = "tessera.user";
/// How long chromedriver and Chromium get to start.
const STARTUP: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);

/// Debian's chromedriver; `CHROMEDRIVER` overrides it.
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Debian's Chromium binary behind the `/usr/bin/chromium` wrapper; `CHROME_BIN` overrides it.
const CHROMIUM: &str = "/usr/lib/chromium/chromium";

/// The SPA build the server serves: `<repo>/dist`.
pub fn dist_dir() -> PathBuf {
    crate::workspace_root().join("dist")
}

/// Fails with instructions unless the SPA has been built into `dist/`.
pub fn require_dist() -> Result<()> {
    let index = dist_dir().join("index.html");
    if !index.is_file() {
        bail!(
            "the SPA is not built: {} is missing; run `trunk build --release --offline` at the repository root",
            index.display()
        );
    }
    Ok(())
}

/// A Chromium window driven through chromedriver, pointed at one site.
pub struct Browser {
    client: Client,
    driver: Driver,
    base_url: String,
}

/// chromedriver's process (the leader of a process group that includes
/// Chromium), its log and the profile directory.
struct Driver {
    child: Child,
    log: PathBuf,
    _profile: TempDir,
}

impl Browser {
    /// Starts chromedriver and Chromium; relative paths resolve against `base_url`.
    pub async fn start(base_url: &str) -> Result<Self> {
        let chromedriver = std::env::var_os("CHROMEDRIVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| CHROMEDRIVER.into());
        if !chromedriver.is_file() {
            bail!(
                "chromedriver not found at {}: install Debian's `chromium-driver` or set CHROMEDRIVER",
                chromedriver.display()
            );
        }
        let profile = tempfile::Builder::new()
            .prefix("tessera-chromium-")
            .tempdir()
            .context("creating a Chromium profile directory")?;
        let capabilities = capabilities(profile.path())?;
        let log = profile.path().join("chromedriver.log");
        let port = free_port()?;
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", chromedriver.display()))?;
        let mut driver = Driver {
            child,
            log,
            _profile: profile,
        };
        let webdriver = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + STARTUP;
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        let client = loop {
            let connect = builder.connect(&webdriver);
            let left = deadline.saturating_duration_since(Instant::now());
            let attempt = match tokio::time::timeout(left, connect).await {
                Ok(attempt) => attempt.map_err(anyhow::Error::from),
                Err(_) => Err(anyhow!("session creation timed out")),
            };
            match attempt {
                Ok(client) => break client,
                Err(e) => {
                    if let Some(status) = driver.child.try_wait()? {
                        bail!(
                            "chromedriver exited ({status}) before a session started: {e}\n{}",
                            driver.log_tail()
                        );
                    }
                    if Instant::now() >= deadline {
                        bail!(
                            "no WebDriver session within {STARTUP:?}: {e}\n{}",
                            driver.log_tail()
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        Ok(Browser {
            client,
            driver,
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// The fantoccini client, for anything the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens `path` (relative to the site) or an absolute URL.
    pub async fn goto(&self, path: &str) -> Result<()> {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base_url)
        };
        timed(&format!("opening {url}"), self.client.goto(&url)).await
    }

    /// Reloads the page.
    pub async fn reload(&self) -> Result<()> {
        timed("reloading", self.client.refresh()).await
    }

    /// The path of the current URL, e.g. `/dashboard`.
    pub async fn path(&self) -> Result<String> {
        let url = timed("reading the URL", self.client.current_url()).await?;
        Ok(url.path().to_owned())
    }

    /// Waits until the current path is `path`.
    pub async fn wait_for_path(&self, path: &str) -> Result<()> {
        let mut last = String::new();
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            last = self.path().await?;
            if last == path {
                return Ok(());
            }
            tokio::time::sleep(POLL).await;
        }
        bail!("expected to be at {path} within {WAIT:?}, still at {last}")
    }

    /// Waits for the first element matching the CSS selector.
    pub async fn find(&self, css: &str) -> Result<Element> {
        let deadline = Instant::now() + WAIT;
        loop {
            let found = timed(
                &format!("looking for `{css}`"),
                self.client.find_all(Locator::Css(css)),
            )
            .await?;
            if let Some(element) = found.into_iter().next() {
                return Ok(element);
            }
            if Instant::now() > deadline {
                bail!("no element `{css}` within {WAIT:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Whether an element matching the CSS selector exists right now.
    pub async fn exists(&self, css: &str) -> Result<bool> {
        let found = timed(
            &format!("looking for `{css}`"),
            self.client.find_all(Locator::Css(css)),
        )
        .await?;
        Ok(!found.is_empty())
    }

    /// Clicks the element matching the CSS selector.
    pub async fn click(&self, css: &str) -> Result<()> {
        let element = self.find(css).await?;
        timed(&format!("clicking `{css}`"), element.click()).await
    }

    /// Replaces the value of the input matching the CSS selector by typing `text`.
    pub async fn fill(&self, css: &str, text: &str) -> Result<()> {
        let element = self.find(css).await?;
        timed(&format!("clearing `{css}`"), element.clear()).await?;
        timed(&format!("typing into `{css}`"), element.send_keys(text)).await
    }

    /// Chooses the option with `value` in the `<select>` matching the CSS selector.
    pub async fn select(&self, css: &str, value: &str) -> Result<()> {
        let element = self.find(css).await?;
        timed(
            &format!("choosing {value} in `{css}`"),
            element.select_by_value(value),
        )
        .await
    }

    /// The visible text of the element matching the CSS selector.
    pub async fn text(&self, css: &str) -> Result<String> {
        let element = self.find(css).await?;
        timed(&format!("reading `{css}`"), element.text()).await
    }

    /// Waits until the element matching the CSS selector shows `needle`; returns its text.
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> Result<String> {
        let mut last = None;
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            let found = timed(
                &format!("looking for `{css}`"),
                self.client.find_all(Locator::Css(css)),
            )
            .await?;
            if let Some(element) = found.first() {
                // The element may be replaced between finding and reading it.
                if let Ok(text) = element.text().await {
                    if text.contains(needle) {
                        return Ok(text);
                    }
                    last = Some(text);
                }
            }
            tokio::time::sleep(POLL).await;
        }
        match last {
            Some(text) => {
                bail!("`{css}` did not show {needle:?} within {WAIT:?}; it shows {text:?}")
            }
            None => bail!("no element `{css}` within {WAIT:?} (waiting for {needle:?})"),
        }
    }

    /// Whether the element matching the CSS selector is enabled.
    pub async fn is_enabled(&self, css: &str) -> Result<bool> {
        let element = self.find(css).await?;
        timed(&format!("checking `{css}`"), element.is_enabled()).await
    }

    /// Runs JavaScript in the page and returns its result.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        timed("running a script", self.client.execute(script, args)).await
    }

    /// The `localStorage` entry `key` of the current origin.
    pub async fn local_storage(&self, key: &str) -> Result<Option<String>> {
        let value = self
            .execute(
                "return window.localStorage.getItem(arguments[0]);",
                vec![json!(key)],
            )
            .await?;
        Ok(value.as_str().map(str::to_owned))
    }

    /// The token of the user the SPA has stored.
    pub async fn stored_token(&self) -> Result<String> {
        let stored = self
            .local_storage(STORAGE_KEY)
            .await?
            .context("no user in localStorage")?;
        let user: Value = serde_json::from_str(&stored).context("stored user is not JSON")?;
        user["token"]
            .as_str()
            .map(str::to_owned)
            .context("stored user has no token")
    }

    /// Saves a PNG of the window.
    pub async fn screenshot(&self, path: impl AsRef<Path>) -> Result<()> {
        let png = timed("taking a screenshot", self.client.screenshot()).await?;
        std::fs::write(path.as_ref(), png)
            .with_context(|| format!("writing {}", path.as_ref().display()))
    }

    /// Signs in through the form and waits for the dashboard to show `email`.
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<()> {
        self.goto("/login").await?;
        self.fill("#email", email).await?;
        self.fill("#password", password).await?;
        self.click("#signin-submit").await?;
        self.wait_for_path("/dashboard").await?;
        self.wait_for_text("#user-email", email).await.map(drop)
    }

    /// Ends the WebDriver session (Chromium exits), then stops chromedriver.
    pub async fn close(self) -> Result<()> {
        timed("closing the browser", self.client.clone().close()).await
    }

    /// The last lines chromedriver logged, for failure messages.
    pub fn driver_log(&self) -> String {
        self.driver.log_tail()
    }

    /// Everything chromedriver has logged so far (every WebDriver command,
    /// the URLs it opened, the scripts it ran and their results).
    pub fn driver_log_all(&self) -> String {
        std::fs::read_to_string(&self.driver.log).unwrap_or_default()
    }
}

impl Driver {
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("chromedriver log ({}):\n{tail}", self.log.display())
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Chromium runs in chromedriver's process group: take both down.
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.start_kill();
    }
}

fn capabilities(profile: &Path) -> Result<Capabilities> {
    let mut options = json!({
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            format!("--user-data-dir={}", profile.join("chromium").display()),
            "--window-size=1200,900",
        ],
    });
    let binary = std::env::var_os("CHROME_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| CHROMIUM.into());
    if binary.is_file() {
        options["binary"] = json!(binary);
    }
    let capabilities = json!({ "goog:chromeOptions": options });
    match capabilities {
        Value::Object(map) => Ok(map),
        _ => bail!("capabilities must be a JSON object"),
    }
}

fn free_port() -> Result<u16> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// Bounds one WebDriver command by [`WAIT`].
async fn timed<T, E>(what: &str, command: impl Future<Output = Result<T, E>>) -> Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match tokio::time::timeout(WAIT, command).await {
        Ok(result) => result.with_context(|| what.to_owned()),
        Err(_) => bail!("{what}: no answer from the browser within {WAIT:?}"),
    }
}
