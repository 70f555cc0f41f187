//! A real Redis (Debian's `redis-server`) on `127.0.0.1:<free port>` with a
//! temp folder and no persistence; killed on drop. It can be killed and
//! started again on the same port, to test replicas losing it.
use std::process::Stdio;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// Debian's redis-server; `REDIS_SERVER` overrides it.
const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// A running redis-server.
pub struct RedisServer {
    /// `redis://127.0.0.1:<port>` (with a password when started with one).
    pub url: String,
    /// The port.
    pub port: u16,
    /// With TLS: the PEM file of the test CA that signed its certificate.
    pub ca_file: Option<std::path::PathBuf>,
    password: Option<String>,
    dir: TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts redis-server on a free loopback port.
    pub async fn start() -> RedisServer {
        Self::launch(None, false).await
    }

    /// As [`RedisServer::start`], requiring `password` (`requirepass`).
    pub async fn start_with_password(password: &str) -> RedisServer {
        Self::launch(Some(password.to_owned()), false).await
    }

    /// As [`RedisServer::start`], speaking TLS only (`rediss://`), with a
    /// certificate for `127.0.0.1` from a CA made for the test.
    pub async fn start_with_tls() -> RedisServer {
        Self::launch(None, true).await
    }

    async fn launch(password: Option<String>, tls: bool) -> RedisServer {
        let dir = tempfile::Builder::new()
            .prefix("tessera-redis-")
            .tempdir()
            .expect("temp dir");
        let port = crate::free_port();
        let scheme = if tls { "rediss" } else { "redis" };
        let url = match &password {
            Some(pw) => format!("{scheme}://:{pw}@127.0.0.1:{port}"),
            None => format!("{scheme}://127.0.0.1:{port}"),
        };
        if tls {
            crate::slapd::make_certificates(dir.path()).await;
        }
        let mut server = RedisServer {
            url,
            port,
            ca_file: tls.then(|| dir.path().join("ca.pem")),
            password,
            dir,
            child: None,
        };
        server.run().await;
        server
    }

    /// (Re)starts the process on the same port; it comes back empty.
    pub async fn run(&mut self) {
        let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| REDIS_SERVER.into());
        assert!(
            std::path::Path::new(&bin).is_file(),
            "{bin} is missing: install Debian's `redis-server` package (scripts/setup.sh does)"
        );
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("redis.log"))
            .expect("log file");
        let mut cmd = Command::new(bin);
        if self.ca_file.is_some() {
            let d = self.dir.path();
            cmd.args(["--port", "0", "--tls-port"])
                .arg(self.port.to_string())
                .arg("--tls-cert-file")
                .arg(d.join("server.pem"))
                .arg("--tls-key-file")
                .arg(d.join("server.key"))
                .arg("--tls-ca-cert-file")
                .arg(d.join("ca.pem"))
                .args(["--tls-auth-clients", "no"]);
        } else {
            cmd.arg("--port").arg(self.port.to_string());
        }
        cmd.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--databases", "1"])
            .arg("--dir")
            .arg(self.dir.path());
        if let Some(pw) = &self.password {
            cmd.arg("--requirepass").arg(pw);
        }
        cmd.current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn redis-server");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.ping().await {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("redis-server exited ({status}); its log:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer; its log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.child = Some(child);
    }

    /// Whether it answers PING (after AUTH when it has a password); with
    /// TLS, whether it accepts connections.
    async fn ping(&self) -> bool {
        let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await else {
            return false;
        };
        if self.ca_file.is_some() {
            return true;
        }
        let mut cmd = String::new();
        if let Some(pw) = &self.password {
            cmd.push_str(&format!("AUTH {pw}\r\n"));
        }
        cmd.push_str("PING\r\n");
        if s.write_all(cmd.as_bytes()).await.is_err() {
            return false;
        }
        let mut buf = vec![0u8; 256];
        let mut got = String::new();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => {
                    got.push_str(&String::from_utf8_lossy(&buf[..n]));
                    if got.contains("+PONG") {
                        return true;
                    }
                    if got.contains("-LOADING") || got.contains("-ERR") {
                        return false;
                    }
                }
                _ => return false,
            }
        }
        false
    }

    /// Pauses every write command for `ms` milliseconds (`CLIENT PAUSE ms
    /// WRITE`): `PUBLISH` and scripts wait while subscriptions and `PING`
    /// go on — an announcement fails while every replica stays in step, as
    /// when one replica is cut off from Redis. Plain TCP only.
    pub async fn pause_writes(&self, ms: u64) {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect to redis-server");
        let mut cmd = String::new();
        if let Some(pw) = &self.password {
            cmd.push_str(&format!("AUTH {pw}\r\n"));
        }
        cmd.push_str(&format!("CLIENT PAUSE {ms} WRITE\r\n"));
        s.write_all(cmd.as_bytes())
            .await
            .expect("send CLIENT PAUSE");
        let mut buf = vec![0u8; 256];
        let mut got = String::new();
        while !got.ends_with("+OK\r\n") {
            let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf))
                .await
                .expect("redis-server answers CLIENT PAUSE")
                .expect("read");
            assert!(n > 0, "redis-server closed the connection: {got}");
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
            assert!(!got.contains("-ERR"), "CLIENT PAUSE refused: {got}");
        }
    }

    /// Kills the process (SIGKILL); the port stays reserved for [`RedisServer::run`].
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
            let _ = child.wait().await;
        }
    }

    /// What redis-server logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}
