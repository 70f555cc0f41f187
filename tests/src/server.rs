//! Starts the real `tessera` release binary with a fresh data folder and a
//! config written by the test, on `127.0.0.1:<ephemeral>`; stops it on drop.
use crate::postgres::PgServer;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running Tessera server.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Holds `tessera.toml`, `data/` and the server's logs.
    pub dir: TempDir,
    env: Vec<(String, String)>,
    child: Option<Child>,
    /// The PostgreSQL server the config points at, kept running while this
    /// server lives (dropped after it).
    _postgres: Option<Arc<PgServer>>,
}

/// The `tessera` binary built beside the test binaries (same target folder,
/// same profile): `TESSERA_BIN` overrides.
pub fn binary() -> PathBuf {
    if let Ok(bin) = std::env::var("TESSERA_BIN") {
        return PathBuf::from(bin);
    }
    // the test binary lives in <target>/<profile>/deps/
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(Path::parent)
        .map(|profile_dir| profile_dir.join("tessera"))
        .expect("target folder")
}

/// Which database a [`TestServer`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Database {
    /// The embedded default: `tessera.db` in the data folder.
    #[default]
    Sqlite,
    /// A new database on the process's shared [`PgServer`].
    Postgres,
}

/// Builder for a [`TestServer`].
#[derive(Default)]
pub struct Builder {
    toml: String,
    env: Vec<(String, String)>,
    postgres: Option<(Arc<PgServer>, String)>,
    data_dir: Option<PathBuf>,
}

impl Builder {
    /// Selects the database: with [`Database::Postgres`], a new database on
    /// the shared PostgreSQL server.
    pub fn database(self, database: Database) -> Self {
        match database {
            Database::Sqlite => self,
            Database::Postgres => {
                let pg = PgServer::shared();
                let url = pg.create_database();
                self.postgres(pg, &url)
            }
        }
    }

    /// Uses the PostgreSQL database at `url` on `pg` (several servers can
    /// share one).
    pub fn postgres(mut self, pg: Arc<PgServer>, url: &str) -> Self {
        self.postgres = Some((pg, url.to_owned()));
        self
    }

    /// Appends TOML to the config (other tables than `[server]`).
    pub fn toml(mut self, toml: &str) -> Self {
        self.toml.push_str(toml);
        self.toml.push('\n');
        self
    }

    /// Uses `dir` as the data folder instead of a fresh one: replicas that
    /// share it share the SQLite database and the generated secrets.
    pub fn data_dir(mut self, dir: &Path) -> Self {
        self.data_dir = Some(dir.to_path_buf());
        self
    }

    /// Sets an environment variable for the server.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Starts the server and waits until it listens.
    pub async fn start(self) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let dist = crate::workspace_root().join("dist");
        let mut config = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = {:?}\nstatic_dir = {:?}\n\n{}",
            self.data_dir
                .clone()
                .unwrap_or_else(|| dir.path().join("data")),
            dist,
            self.toml
        );
        if let Some((_, url)) = &self.postgres {
            config.push_str(&format!("\n[database]\nurl = {url:?}\n"));
        }
        std::fs::write(dir.path().join("tessera.toml"), config).expect("write config");
        let mut server = TestServer {
            url: String::new(),
            dir,
            env: self.env,
            child: None,
            _postgres: self.postgres.map(|(pg, _)| pg),
        };
        server.launch().await;
        if server._postgres.is_some() {
            assert!(
                !server.dir.path().join("data/tessera.db").exists(),
                "a server told to use PostgreSQL made a SQLite database"
            );
        }
        server
    }
}

impl Builder {
    /// Runs the server expecting it to refuse the config; returns what it printed.
    pub async fn start_expecting_failure(self) -> (i32, String) {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = {:?}\n\n{}",
            dir.path().join("data"),
            self.toml
        );
        std::fs::write(dir.path().join("tessera.toml"), config).expect("write config");
        let mut cmd = Command::new(binary());
        cmd.arg("--config")
            .arg(dir.path().join("tessera.toml"))
            .current_dir(dir.path())
            .env_remove("TESSERA_CONFIG")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let out = tokio::time::timeout(Duration::from_secs(20), cmd.output())
            .await
            .expect("tessera should exit on a bad config, not serve")
            .expect("run tessera");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned()
                + &String::from_utf8_lossy(&out.stdout),
        )
    }
}

impl TestServer {
    /// A builder for a server with extra config.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A server with the default config.
    pub async fn start() -> TestServer {
        Builder::default().start().await
    }

    async fn launch(&mut self) {
        let bin = binary();
        assert!(
            bin.exists(),
            "{} is missing: build it first with `cargo build --release -p tessera` (scripts/test.sh does)",
            bin.display()
        );
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .expect("log file");
        let mut cmd = Command::new(&bin);
        cmd.arg("--config")
            .arg(self.dir.path().join("tessera.toml"))
            .current_dir(self.dir.path())
            .env("RUST_LOG", "tessera=debug")
            .env_remove("TESSERA_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn tessera");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix("Tessera is listening on ") {
                    return Some(url.trim().to_owned());
                }
            }
            None
        })
        .await
        .ok()
        .flatten();
        let Some(url) = url else {
            let _ = child.kill().await;
            panic!("tessera did not start; its log:\n{}", self.log());
        };
        // keep draining stdout so the server never blocks on a full pipe;
        // what it prints (the audit log's JSON lines) is kept in stdout.log
        let out_path = self.dir.path().join("stdout.log");
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                use std::io::Write;
                if let Ok(mut f) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&out_path)
                {
                    let _ = writeln!(f, "{line}");
                }
            }
        });
        self.url = url;
        self.child = Some(child);
    }

    /// The server's config file (`tessera.toml` in its folder): for running
    /// other `tessera` commands against the same configuration.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("tessera.toml")
    }

    /// Stops the server (SIGKILL: nothing is flushed on the way out) and starts
    /// it again on the same data folder and the same port.
    pub async fn restart(&mut self) {
        self.stop().await;
        let port = self.url.rsplit(':').next().unwrap_or("0").to_owned();
        let path = self.dir.path().join("tessera.toml");
        let config = std::fs::read_to_string(&path).expect("read config");
        let config = config.replacen(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"127.0.0.1:{port}\""),
            1,
        );
        std::fs::write(&path, config).expect("write config");
        self.launch().await;
    }

    /// Stops the server.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
            let _ = child.wait().await;
        }
    }

    /// What the server printed on stdout so far, after its start line.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// `url + path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// Signs up an account; panics unless it works. Returns the SessionUser JSON.
    pub async fn signup(&self, name: &str, email: &str, password: &str) -> Value {
        let res = client()
            .post(self.at("/api/v1/auths/signup"))
            .json(&serde_json::json!({"name": name, "email": email, "password": password}))
            .send()
            .await
            .expect("signup request");
        assert_eq!(res.status(), 200, "signup of {email} failed");
        res.json().await.expect("signup body")
    }

    /// Signs in; returns the status and the JSON body.
    pub async fn signin(&self, email: &str, password: &str) -> (u16, Value) {
        let res = client()
            .post(self.at("/api/v1/auths/signin"))
            .json(&serde_json::json!({"email": email, "password": password}))
            .send()
            .await
            .expect("signin request");
        status_and_json(res).await
    }

    /// `POST path` with a JSON body and an optional bearer token.
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        send(client().post(self.at(path)).json(body), token, &[]).await
    }

    /// `GET path` with a bearer token; returns the status and the JSON body.
    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        send(client().get(self.at(path)), token, &[]).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}

/// An HTTP client for tests: no proxies, short timeouts.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// Sends `req` with, when given, a bearer token and with `headers`: the
/// status and the JSON body (null when it is not JSON).
pub async fn send(
    mut req: reqwest::RequestBuilder,
    bearer: Option<&str>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let res = req.send().await.expect("request");
    status_and_json(res).await
}

/// A response's status and JSON body (null when it is not JSON).
pub async fn status_and_json(res: reqwest::Response) -> (u16, Value) {
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}
