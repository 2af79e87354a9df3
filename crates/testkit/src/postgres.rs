//! A throwaway PostgreSQL server: `initdb` into a temporary directory, `postgres` on a free
//! loopback port, stop (fast or immediate) and start again on the same port and data
//! directory, optional TLS with a freshly made CA.
//!
//! PostgreSQL refuses to run as root, so when the tests run as root the server runs as an
//! unprivileged user (`postgres` if it exists, otherwise `nobody`) and the temporary
//! directory is handed over to that user.
//!
//! ```no_run
//! let server = testkit::postgres::PostgresServer::start();
//! println!("{}", server.url());
//! ```

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{ChildGuard, free_port};

/// How long a start (including crash recovery after an immediate stop) may take.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Options for [`PostgresServer::start_with`].
#[derive(Debug, Clone, Default)]
pub struct PostgresOptions {
    /// Turn on `ssl=on` with a server certificate for `127.0.0.1` signed by a test CA.
    pub tls: bool,
    /// Extra `-c name=value` settings passed to `postgres`.
    pub settings: Vec<(String, String)>,
}

/// The unprivileged account the server runs as when we are root.
#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: u32,
    gid: u32,
}

/// A running (or stopped) PostgreSQL server owned by the test; killed and removed on drop.
#[derive(Debug)]
pub struct PostgresServer {
    // Field order matters: the child must die before the directory is removed.
    child: Option<ChildGuard>,
    dir: tempfile::TempDir,
    port: u16,
    run_as: Option<RunAs>,
    options: PostgresOptions,
    starts: u32,
}

impl PostgresServer {
    /// Starts a plain (no TLS) server with default options. Panics if it cannot.
    pub fn start() -> Self {
        Self::start_with(PostgresOptions::default())
    }

    /// Starts a server with TLS turned on (see [`PostgresServer::ca_cert_path`]).
    pub fn start_with_tls() -> Self {
        Self::start_with(PostgresOptions {
            tls: true,
            ..PostgresOptions::default()
        })
    }

    /// Runs `initdb` and starts the server with `options`. Panics (it is test code) with
    /// the server log when something fails.
    pub fn start_with(options: PostgresOptions) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("testkit-pg-")
            .tempdir()
            .expect("create temp dir for postgres");
        let run_as = unprivileged_account();
        if let Some(account) = run_as {
            chown(dir.path(), account);
        }
        let data = dir.path().join("data");
        let mut initdb = Command::new(pg_binary("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .arg("--no-instructions")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        run_as_account(&mut initdb, run_as);
        let out = initdb.output().expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if options.tls {
            make_tls_files(dir.path(), run_as);
        }
        let mut server = Self {
            child: None,
            dir,
            port: free_port(),
            run_as,
            options,
            starts: 0,
        };
        server.start_again();
        server
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for the `postgres` superuser and database, without `sslmode`.
    pub fn base_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// A connection URL with `sslmode=disable` (plain TCP; trust authentication).
    pub fn url(&self) -> String {
        format!("{}?sslmode=disable", self.base_url())
    }

    /// The PEM file of the CA that signed the server certificate, when TLS is on.
    pub fn ca_cert_path(&self) -> Option<PathBuf> {
        self.options.tls.then(|| self.dir.path().join("ca.crt"))
    }

    /// The temporary directory holding the data directory, logs and TLS files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Whether the server process is running (as far as this guard knows).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Fast shutdown (SIGINT): active sessions are terminated with `57P01 admin_shutdown`,
    /// then the server exits cleanly.
    pub fn stop_fast(&mut self) {
        self.stop_with_signal("-INT");
    }

    /// Immediate shutdown (SIGQUIT): like a crash; the next start runs crash recovery.
    pub fn stop_immediate(&mut self) {
        self.stop_with_signal("-QUIT");
    }

    /// Starts the server again on the same port and data directory, and waits until it
    /// accepts connections. Does nothing if it is already running.
    pub fn start_again(&mut self) {
        if self.child.is_some() {
            return;
        }
        self.starts += 1;
        let log_path = self
            .dir
            .path()
            .join(format!("postgres-{}.log", self.starts));
        let log = fs::File::create(&log_path).expect("create postgres log");
        if let Some(account) = self.run_as {
            chown(&log_path, account);
        }
        let data = self.dir.path().join("data");
        let mut cmd = Command::new(pg_binary("postgres"));
        cmd.arg("-D")
            .arg(&data)
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.dir.path().display()
            ))
            .args(["-c", "fsync=off"])
            .args(["-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off"])
            .args(["-c", "max_connections=100"]);
        if self.options.tls {
            let dir = self.dir.path();
            cmd.args(["-c", "ssl=on"])
                .arg("-c")
                .arg(format!(
                    "ssl_cert_file={}",
                    dir.join("server.crt").display()
                ))
                .arg("-c")
                .arg(format!("ssl_key_file={}", dir.join("server.key").display()));
        }
        for (name, value) in &self.options.settings {
            cmd.arg("-c").arg(format!("{name}={value}"));
        }
        cmd.stdout(Stdio::null())
            .stderr(log.try_clone().expect("clone log handle"));
        run_as_account(&mut cmd, self.run_as);
        let child = cmd.spawn().expect("spawn postgres");
        self.child = Some(ChildGuard::new(child));
        self.wait_ready(&log_path);
    }

    fn wait_ready(&mut self, log_path: &Path) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let log = fs::read_to_string(log_path).unwrap_or_default();
            if log.contains("database system is ready to accept connections") {
                return;
            }
            if let Some(guard) = self.child.as_mut()
                && has_exited(guard)
            {
                self.child = None;
                panic!("postgres exited during start-up; log:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "postgres not ready within {START_TIMEOUT:?}; log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop_with_signal(&mut self, signal: &str) {
        let Some(mut guard) = self.child.take() else {
            return;
        };
        if let Some(pid) = guard.id() {
            let _ = Command::new("kill")
                .args([signal, &pid.to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while !has_exited(&mut guard) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        // Reaps the process, or kills it if it ignored the signal.
        guard.kill();
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        // Immediate stop: nothing in the data directory needs to survive.
        self.stop_immediate();
    }
}

/// Whether the guarded process has exited (reaping it if so), without blocking.
fn has_exited(guard: &mut ChildGuard) -> bool {
    match guard.child.as_mut() {
        Some(child) => !matches!(child.try_wait(), Ok(None)),
        None => true,
    }
}

/// Finds a PostgreSQL binary: on PATH first, then Debian's versioned directory.
fn pg_binary(name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        versions.sort();
        if let Some(newest) = versions.last() {
            return newest.join("bin").join(name);
        }
    }
    PathBuf::from(name)
}

/// `None` when we are not root (the server can run as ourselves).
fn unprivileged_account() -> Option<RunAs> {
    if current_uid() != Some(0) {
        return None;
    }
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    for wanted in ["postgres", "nobody"] {
        for line in passwd.lines() {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.len() >= 4
                && fields[0] == wanted
                && let (Ok(uid), Ok(gid)) = (fields[2].parse(), fields[3].parse())
            {
                return Some(RunAs { uid, gid });
            }
        }
    }
    panic!("running as root but neither a `postgres` nor a `nobody` user exists");
}

fn current_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn run_as_account(cmd: &mut Command, run_as: Option<RunAs>) {
    if let Some(account) = run_as {
        cmd.gid(account.gid).uid(account.uid);
        // initdb and postgres look at HOME only for optional files; keep them off /root.
        cmd.env("HOME", "/tmp");
    }
}

fn chown(path: &Path, account: RunAs) {
    std::os::unix::fs::chown(path, Some(account.uid), Some(account.gid))
        .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
}

/// Makes a CA and a server certificate for `IP:127.0.0.1` with the `openssl` command.
/// A separate CA (rather than one self-signed leaf) because webpki rejects a CA
/// certificate presented as an end-entity certificate.
fn make_tls_files(dir: &Path, run_as: Option<RunAs>) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=testkit test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("write server.ext");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    let key = dir.join("server.key");
    // postgres refuses a key file readable by others, or not owned by its user.
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).expect("chmod server.key");
    if let Some(account) = run_as {
        chown(&key, account);
        chown(&dir.join("server.crt"), account);
    }
}
