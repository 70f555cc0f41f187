//! A real reverse proxy (Debian's `nginx`) on `127.0.0.1:<free port>` in
//! front of a test server, with a config written by the test: one
//! `location /` that proxies to the upstream, plus the test's own directives
//! (`proxy_set_header ...`). Runs in the foreground with every path in a temp
//! folder; killed on drop.
use std::process::Stdio;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::process::{Child, Command};

/// Debian's nginx; `NGINX` overrides it.
const NGINX: &str = "/usr/sbin/nginx";
/// The loopback address nginx connects to upstreams from (`proxy_bind`), so an
/// upstream can tell the proxy (127.0.0.2) from direct clients (127.0.0.1).
pub const PROXY_SOURCE: &str = "127.0.0.2";

/// A running nginx.
pub struct Nginx {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    dir: TempDir,
    child: Option<Child>,
}

impl Nginx {
    /// Starts nginx proxying `location /` to `upstream_url` (e.g.
    /// `http://127.0.0.1:8080`) from [`PROXY_SOURCE`], with `X-Forwarded-For`
    /// appended and `extra_location_directives` (nginx syntax, e.g.
    /// `proxy_set_header X-Forwarded-Email $http_x_test_user;`) in the location.
    pub async fn start(upstream_url: &str, extra_location_directives: &str) -> Nginx {
        let nginx = std::env::var("NGINX").unwrap_or_else(|_| NGINX.into());
        assert!(
            std::path::Path::new(&nginx).is_file(),
            "{nginx} is missing: install Debian's `nginx-light` package"
        );
        let dir = tempfile::Builder::new()
            .prefix("tessera-nginx-")
            .tempdir()
            .expect("temp dir");
        let d = dir.path();
        std::fs::create_dir_all(d.join("tmp")).expect("tmp dir");
        let port = crate::free_port();
        let conf = format!(
            r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass {upstream_url};
            proxy_bind {PROXY_SOURCE};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            {extra_location_directives}
        }}
    }}
}}
"#,
            d = d.display(),
        );
        std::fs::write(d.join("nginx.conf"), conf).expect("write nginx.conf");
        let child = Command::new(&nginx)
            .arg("-p")
            .arg(d)
            .arg("-e")
            .arg(d.join("error.log"))
            .arg("-c")
            .arg(d.join("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn nginx");
        let mut proxy = Nginx {
            url: format!("http://127.0.0.1:{port}"),
            dir,
            child: Some(child),
        };
        proxy.wait_until_up(port).await;
        proxy
    }

    async fn wait_until_up(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return;
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("nginx exited ({status}); its log:\n{}", self.log());
                }
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not listen; its log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `url + path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// nginx's error log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}
