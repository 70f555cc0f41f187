//! A real OpenLDAP server (Debian's `slapd`) on `127.0.0.1:<free port>`,
//! configured by the test in a temp folder: mdb back end, the `memberof`
//! overlay (users get `memberOf`), a test directory loaded with `ldapadd`.
//! Runs as the current user, in the foreground; killed on drop.
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::process::{Child, Command};

/// Debian's slapd; `SLAPD` overrides it.
const SLAPD: &str = "/usr/sbin/slapd";
/// The directory's suffix.
pub const BASE: &str = "dc=example,dc=org";
/// Where the users are.
pub const PEOPLE: &str = "ou=people,dc=example,dc=org";
/// Where the groups are.
pub const GROUPS: &str = "ou=groups,dc=example,dc=org";
/// The service account (slapd's root DN).
pub const ADMIN_DN: &str = "cn=admin,dc=example,dc=org";
/// Its password.
pub const ADMIN_PASSWORD: &str = "admin-secret";

/// A person in the test directory.
pub struct Person<'a> {
    /// `uid`.
    pub uid: &'a str,
    /// `cn`.
    pub name: &'a str,
    /// `mail`; `None` for none.
    pub mail: Option<&'a str>,
    /// `userPassword` (clear text: slapd compares it on bind).
    pub password: &'a str,
    /// `cn`s of the groups (`groupOfNames` under `ou=groups`) they are in.
    pub groups: &'a [&'a str],
}

/// A running slapd.
pub struct Slapd {
    /// `ldap://127.0.0.1:<port>` (StartTLS offered when started with TLS).
    pub url: String,
    /// `ldaps://127.0.0.1:<port>`, when started with TLS.
    pub ldaps_url: Option<String>,
    /// The PEM file of the test CA that signed the server's certificate
    /// (for `127.0.0.1`), when started with TLS.
    pub ca_file: Option<PathBuf>,
    dir: TempDir,
    child: Option<Child>,
}

impl Slapd {
    /// Starts slapd with an empty `dc=example,dc=org`, then adds `people` and
    /// their groups (online, so the memberof overlay fills `memberOf`).
    pub async fn start(people: &[Person<'_>]) -> Slapd {
        Self::launch(people, false).await
    }

    /// As [`Slapd::start`], also serving `ldaps://` and StartTLS with a
    /// certificate for `127.0.0.1` from a CA made for the test (`openssl`).
    pub async fn start_with_tls(people: &[Person<'_>]) -> Slapd {
        Self::launch(people, true).await
    }

    async fn launch(people: &[Person<'_>], tls: bool) -> Slapd {
        let slapd = std::env::var("SLAPD").unwrap_or_else(|_| SLAPD.into());
        assert!(
            std::path::Path::new(&slapd).is_file(),
            "{slapd} is missing: install Debian's `slapd` and `ldap-utils` packages"
        );
        let dir = tempfile::Builder::new()
            .prefix("tessera-slapd-")
            .tempdir()
            .expect("temp dir");
        let d = dir.path();
        std::fs::create_dir_all(d.join("db")).expect("db dir");
        let tls_conf = if tls {
            make_certificates(d).await;
            format!(
                "TLSCACertificateFile {0}/ca.pem\nTLSCertificateFile {0}/server.pem\nTLSCertificateKeyFile {0}/server.key\n",
                d.display()
            )
        } else {
            String::new()
        };
        let conf = format!(
            r#"{tls_conf}include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile {pid}
argsfile {args}
database mdb
maxsize 10485760
suffix "{BASE}"
rootdn "{ADMIN_DN}"
rootpw {ADMIN_PASSWORD}
directory {db}
overlay memberof
access to attrs=userPassword by anonymous auth by * none
access to * by * read
"#,
            pid = d.join("slapd.pid").display(),
            args = d.join("slapd.args").display(),
            db = d.join("db").display(),
        );
        std::fs::write(d.join("slapd.conf"), conf).expect("write slapd.conf");
        let port = crate::free_port();
        let url = format!("ldap://127.0.0.1:{port}");
        let ldaps_url = tls.then(|| format!("ldaps://127.0.0.1:{}", crate::free_port()));
        let listen = match &ldaps_url {
            Some(ldaps) => format!("{url}/ {ldaps}/"),
            None => format!("{url}/"),
        };
        let log = std::fs::File::create(d.join("slapd.log")).expect("log file");
        let child = Command::new(&slapd)
            .arg("-f")
            .arg(d.join("slapd.conf"))
            .arg("-h")
            .arg(listen)
            // stay in the foreground; log nothing but errors
            .args(["-d", "0"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn slapd");
        let mut server = Slapd {
            url,
            ldaps_url,
            ca_file: tls.then(|| d.join("ca.pem")),
            dir,
            child: Some(child),
        };
        server.wait_until_up().await;
        server.ldapadd(&directory_ldif(people)).await;
        server
    }

    async fn wait_until_up(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ok = Command::new("ldapsearch")
                .args(["-x", "-LLL", "-o", "nettimeout=2", "-s", "base", "-b", ""])
                .args(["-H", &self.url])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("slapd exited ({status}); its log:\n{}", self.log());
                }
            }
            assert!(
                Instant::now() < deadline,
                "slapd did not answer; its log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Adds entries (LDIF) as the root DN.
    pub async fn ldapadd(&self, ldif: &str) {
        self.ldap_tool("ldapadd", ldif).await;
    }

    /// Modifies entries (LDIF with `changetype: modify`) as the root DN.
    pub async fn ldapmodify(&self, ldif: &str) {
        self.ldap_tool("ldapmodify", ldif).await;
    }

    /// Runs `ldapadd` or `ldapmodify` on `ldif`, bound as the root DN.
    async fn ldap_tool(&self, tool: &str, ldif: &str) {
        let path = self.dir.path().join(format!("{tool}.ldif"));
        std::fs::write(&path, ldif).expect("write ldif");
        let out = Command::new(tool)
            .args([
                "-x",
                "-H",
                &self.url,
                "-D",
                ADMIN_DN,
                "-w",
                ADMIN_PASSWORD,
                "-f",
            ])
            .arg(&path)
            .output()
            .await
            .unwrap_or_else(|e| panic!("run {tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The folder holding the config, database and log.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// slapd's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default()
    }

    /// Stops slapd now.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
            let _ = child.wait().await;
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}

/// Writes `ca.pem` (a test CA) and `server.pem` / `server.key` (a certificate
/// it signed for `127.0.0.1`) into `dir`.
/// A test CA (`ca.pem`) and a certificate for `127.0.0.1` it signed
/// (`server.pem`, `server.key`) in `dir`, made with `openssl`.
pub(crate) async fn make_certificates(dir: &std::path::Path) {
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write server.ext");
    const EC_KEY: &str = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    let steps = [
        format!(
            "req -x509 {EC_KEY} -keyout ca.key -out ca.pem -days 2 -subj /CN=tessera-test-ca \
             -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign"
        ),
        format!("req {EC_KEY} -keyout server.key -out server.csr -subj /CN=127.0.0.1"),
        "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
         -days 2 -extfile server.ext"
            .to_owned(),
    ];
    for step in steps {
        let out = Command::new("openssl")
            .args(step.split_whitespace())
            .current_dir(dir)
            .output()
            .await
            .expect("run openssl (Debian's `openssl` package)");
        assert!(
            out.status.success(),
            "openssl {step} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The base entries, the people and every group any of them is in.
fn directory_ldif(people: &[Person<'_>]) -> String {
    let mut ldif = format!(
        "dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n\
         dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n\n"
    );
    for p in people {
        let sn = p.name.rsplit(' ').next().unwrap_or(p.name);
        ldif.push_str(&format!(
            "dn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {cn}\nsn: {sn}\nuserPassword: {pw}\n",
            uid = p.uid,
            cn = p.name,
            pw = p.password,
        ));
        if let Some(mail) = p.mail {
            ldif.push_str(&format!("mail: {mail}\n"));
        }
        ldif.push('\n');
    }
    let mut groups: Vec<&str> = people
        .iter()
        .flat_map(|p| p.groups.iter().copied())
        .collect();
    groups.sort_unstable();
    groups.dedup();
    for g in groups {
        ldif.push_str(&format!(
            "dn: cn={g},{GROUPS}\nobjectClass: groupOfNames\ncn: {g}\n"
        ));
        for p in people.iter().filter(|p| p.groups.contains(&g)) {
            ldif.push_str(&format!("member: uid={},{PEOPLE}\n", p.uid));
        }
        ldif.push('\n');
    }
    ldif
}
