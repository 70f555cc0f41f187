//! A real PostgreSQL server (Debian's `postgresql` package) on
//! `127.0.0.1:<free port>`, in a temp folder: `initdb` with password
//! (SCRAM) authentication, `postgres` in the foreground with its Unix socket
//! inside the temp folder; stopped (immediate shutdown) and removed on drop.
//!
//! PostgreSQL refuses to run as root, so when the tests run as root both
//! programs run as `nobody` through `setpriv`, which execs (no fork), so the
//! child's pid is the postmaster's and stopping it stops the server.
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The superuser's password (the tests check it never reaches a log).
pub const PASSWORD: &str = "pg-Secret-4711";

/// A running PostgreSQL.
pub struct PgServer {
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    bin: PathBuf,
    owner: Option<(u32, u32)>,
    dir: TempDir,
    child: Mutex<Option<Child>>,
}

/// Debian's binaries: `/usr/lib/postgresql/<newest>/bin`, or `PG_BIN`.
fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed: apt-get install postgresql (scripts/setup.sh does)")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .expect("no /usr/lib/postgresql/<version>/bin/postgres: apt-get install postgresql")
}

/// `(uid, gid)` to run PostgreSQL as: `nobody` when we are root, else ourselves.
fn run_as() -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata("/proc/self").expect("/proc/self").uid();
    if me != 0 {
        return None;
    }
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, "nobody"])
            .output()
            .expect("id nobody");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("numeric id of nobody")
    };
    Some((id("-u"), id("-g")))
}

/// A command for `program`, as `nobody` when we are root.
fn command(program: PathBuf, owner: Option<(u32, u32)>) -> Command {
    match owner {
        Some((uid, gid)) => {
            let mut cmd = Command::new("setpriv");
            cmd.arg(format!("--reuid={uid}"))
                .arg(format!("--regid={gid}"))
                .arg("--clear-groups")
                .arg("--")
                .arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

impl PgServer {
    /// One server shared by every test of this process that holds it; a new
    /// one once all have let go (so none outlives the tests).
    pub fn shared() -> Arc<PgServer> {
        static SHARED: Mutex<Weak<PgServer>> = Mutex::new(Weak::new());
        let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pg) = shared.upgrade() {
            return pg;
        }
        let pg = Arc::new(PgServer::start());
        *shared = Arc::downgrade(&pg);
        pg
    }

    /// Initialises a cluster in a temp folder and starts it; blocks until it
    /// accepts connections.
    pub fn start() -> PgServer {
        let bin = bin_dir();
        let icu = Command::new(bin.join("initdb"))
            .arg("--help")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("--locale-provider"))
            .unwrap_or(false);
        let owner = run_as();
        let dir = tempfile::Builder::new()
            .prefix("tessera-pg")
            .tempdir()
            .expect("temp dir");
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, PASSWORD).expect("write pwfile");
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown temp dir");
            std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid)).expect("chown pwfile");
        }
        let data = dir.path().join("data");
        let out = command(bin.join("initdb"), owner)
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8"])
            // a linguistic default collation (alpha < beta < Zeta), as on
            // most production servers: the schema's COLLATE "C" must win
            // (initdb has the ICU provider since PostgreSQL 15)
            .args(if icu {
                &["--locale-provider=icu", "--icu-locale=en-US"][..]
            } else {
                &[]
            })
            .args(["--auth=scram-sha-256", "--no-sync"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let pg = PgServer {
            port: crate::free_port(),
            bin,
            owner,
            dir,
            child: Mutex::new(None),
        };
        pg.launch();
        pg
    }

    /// Starts the postmaster on the cluster and waits until it answers.
    fn launch(&self) {
        let log = self.dir.path().join("postgres.log");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        if let Some((uid, gid)) = self.owner {
            std::os::unix::fs::chown(&log, Some(uid), Some(gid)).expect("chown log");
        }
        let child = command(self.bin.join("postgres"), self.owner)
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .arg("-k")
            .arg(self.dir.path())
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=200"])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file)
            .spawn()
            .expect("spawn postgres");
        *self.child.lock().unwrap_or_else(|e| e.into_inner()) = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.psql("postgres", "SELECT 1").is_err() {
            assert!(
                Instant::now() < deadline,
                "postgres did not start; its log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server (fast shutdown: clients are cut off, committed data
    /// kept); [`PgServer::restart`] brings it back on the same port.
    pub fn stop(&self) {
        self.shutdown("-INT");
    }

    /// Sends the postmaster `signal`; SIGKILL if it has not gone within 10 s.
    fn shutdown(&self, signal: &str) {
        let child = self.child.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut child) = child {
            let _ = Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the stopped server again.
    pub fn restart(&self) {
        self.stop();
        self.launch();
    }

    /// Runs one SQL command with `psql` as the superuser.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "postgres", "-d", database, "-X", "-A", "-t", "-q"])
            .args(["-v", "ON_ERROR_STOP=1", "-c", sql])
            .env("PGPASSWORD", PASSWORD)
            .env("PGCONNECT_TIMEOUT", "5")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Creates a new, empty database; returns its URL (with the password).
    pub fn create_database(&self) -> String {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!("tessera_{}", NEXT.fetch_add(1, Ordering::Relaxed));
        self.psql("postgres", &format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        self.url(&name)
    }

    /// `postgres://postgres:<password>@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        // SIGQUIT: immediate shutdown (nothing is kept), shared memory released
        self.shutdown("-QUIT");
    }
}
