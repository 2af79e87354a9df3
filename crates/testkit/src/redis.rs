//! Real `redis-server` processes for tests: standalone, TLS + AUTH, and a Redis Cluster.
//!
//! Each server runs as a child (`--daemonize no`) bound to 127.0.0.1 on a free port, with
//! persistence off and its files in a temporary directory. Guards kill the processes and
//! remove the directory on drop. [`RedisServer::stop`] and [`RedisServer::restart`] keep
//! the port, so a client configured with the old URL reconnects to the new process.
//!
//! ```no_run
//! let mut server = testkit::redis::RedisServer::start();
//! let url = server.url();
//! server.stop();
//! server.restart();
//! # let _ = url;
//! ```

use std::fs::File;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::{ChildGuard, wait_for_port};

const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Password used by [`RedisServer::start_tls_auth`] when none is given.
pub const TEST_PASSWORD: &str = "testkit-secret-token";

/// A free port whose cluster-bus companion (`port + 10000`) is free too.
fn free_port_with_bus() -> u16 {
    loop {
        let port = crate::free_port();
        if port < 55_000 && TcpListener::bind((Ipv4Addr::LOCALHOST, port + 10_000)).is_ok() {
            return port;
        }
    }
}

/// TLS material of a server started by [`RedisServer::start_tls_auth`].
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The CA certificate a client must trust, PEM.
    pub ca: PathBuf,
    /// The server certificate (signed by `ca`, valid for 127.0.0.1), PEM.
    pub cert: PathBuf,
    /// Private key of the certificate, PEM.
    pub key: PathBuf,
}

/// A standalone `redis-server` child process.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: TempDir,
    extra_args: Vec<String>,
    tls: Option<TlsFiles>,
    password: Option<String>,
    child: ChildGuard,
}

impl RedisServer {
    /// Starts a plain-TCP server without authentication on a free port.
    pub fn start() -> Self {
        Self::start_with(Vec::new(), None, None, crate::free_port())
    }

    /// Starts a server that only accepts TLS (a throw-away CA and a certificate for
    /// 127.0.0.1, made with `openssl`) and requires `password` (AUTH), like an ElastiCache node with
    /// in-transit encryption and an auth token.
    pub fn start_tls_auth(password: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir for redis tls");
        let tls = make_self_signed_cert(dir.path());
        let port = crate::free_port();
        Self::start_in(dir, Vec::new(), Some(tls), Some(password.to_owned()), port)
    }

    /// Starts a server with extra `redis-server` arguments (for example cluster options).
    pub fn start_with(
        extra_args: Vec<String>,
        tls: Option<TlsFiles>,
        password: Option<String>,
        port: u16,
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir for redis");
        Self::start_in(dir, extra_args, tls, password, port)
    }

    fn start_in(
        dir: TempDir,
        extra_args: Vec<String>,
        tls: Option<TlsFiles>,
        password: Option<String>,
        port: u16,
    ) -> Self {
        let child = spawn_server(
            dir.path(),
            port,
            &extra_args,
            tls.as_ref(),
            password.as_deref(),
        );
        Self {
            port,
            dir,
            extra_args,
            tls,
            password,
            child,
        }
    }

    /// The loopback port the server listens on (the TLS port in TLS mode).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL for the `redis` crate: `redis://127.0.0.1:PORT`, or
    /// `rediss://:PASSWORD@127.0.0.1:PORT` in TLS + AUTH mode.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        match &self.password {
            Some(pw) => format!("{scheme}://:{pw}@127.0.0.1:{}", self.port),
            None => format!("{scheme}://127.0.0.1:{}", self.port),
        }
    }

    /// TLS files when the server was started with TLS.
    pub fn tls(&self) -> Option<&TlsFiles> {
        self.tls.as_ref()
    }

    /// The password the server requires, if any.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// Whether the process is still owned (not stopped).
    pub fn is_running(&self) -> bool {
        self.child.id().is_some()
    }

    /// Kills the server (SIGKILL, like a crashed node). The port stays reserved by nobody,
    /// so [`RedisServer::restart`] may reuse it.
    pub fn stop(&mut self) {
        self.child.kill();
    }

    /// Freezes the server (SIGSTOP): connections stay open and commands queue unanswered,
    /// like a node that hangs. [`RedisServer::resume`] lets it run on.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Resumes a server frozen by [`RedisServer::pause`] (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("the server is running").to_string();
        let status = Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {pid} failed");
    }

    /// Starts a fresh, empty server on the same port with the same options.
    pub fn restart(&mut self) {
        self.stop();
        self.child = spawn_server(
            self.dir.path(),
            self.port,
            &self.extra_args,
            self.tls.as_ref(),
            self.password.as_deref(),
        );
    }

    /// Runs `redis-cli` against this server with `args` and returns its stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let mut cmd = Command::new("redis-cli");
        cmd.args(["-h", "127.0.0.1", "-p", &self.port.to_string()]);
        if let Some(tls) = &self.tls {
            cmd.arg("--tls").arg("--cacert").arg(&tls.ca);
        }
        if let Some(pw) = &self.password {
            cmd.env("REDISCLI_AUTH", pw);
        }
        let out = cmd.args(args).output().expect("run redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn spawn_server(
    dir: &Path,
    port: u16,
    extra_args: &[String],
    tls: Option<&TlsFiles>,
    password: Option<&str>,
) -> ChildGuard {
    let log = File::create(dir.join(format!("redis-{port}.log"))).expect("redis log file");
    let log_err = log.try_clone().expect("clone log handle");
    let mut cmd = Command::new("redis-server");
    if let Some(tls) = tls {
        cmd.args(["--port", "0", "--tls-port", &port.to_string()])
            .arg("--tls-cert-file")
            .arg(&tls.cert)
            .arg("--tls-key-file")
            .arg(&tls.key)
            .arg("--tls-ca-cert-file")
            .arg(&tls.ca)
            .args(["--tls-auth-clients", "no"]);
    } else {
        cmd.args(["--port", &port.to_string()]);
    }
    if let Some(pw) = password {
        cmd.args(["--requirepass", pw]);
    }
    cmd.args([
        "--bind",
        "127.0.0.1",
        "--daemonize",
        "no",
        "--save",
        "",
        "--appendonly",
        "no",
    ])
    .arg("--dir")
    .arg(dir)
    .args(extra_args)
    .stdin(Stdio::null())
    .stdout(Stdio::from(log))
    .stderr(Stdio::from(log_err));
    let child = cmd
        .spawn()
        .expect("spawn redis-server (is it installed? apt-get install redis-server)");
    let guard = ChildGuard::new(child);
    wait_for_port(port, START_TIMEOUT, "redis-server");
    guard
}

fn openssl(args: &[&std::ffi::OsStr]) {
    let status = Command::new("openssl")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl");
    assert!(status.success(), "openssl {args:?} failed");
}

/// A throw-away CA and a server certificate it signed for 127.0.0.1. (rustls/webpki
/// refuse a single self-signed certificate that is both CA and server: CaUsedAsEndEntity.)
fn make_self_signed_cert(dir: &Path) -> TlsFiles {
    let ca = dir.join("ca.pem");
    let ca_key = dir.join("ca-key.pem");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let csr = dir.join("server.csr");
    let ext = dir.join("server.ext");
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write openssl extension file");
    let s = |x: &'static str| std::ffi::OsStr::new(x);
    openssl(&[
        s("req"),
        s("-x509"),
        s("-newkey"),
        s("rsa:2048"),
        s("-nodes"),
        s("-days"),
        s("2"),
        s("-subj"),
        s("/CN=testkit-ca"),
        s("-keyout"),
        ca_key.as_os_str(),
        s("-out"),
        ca.as_os_str(),
    ]);
    openssl(&[
        s("req"),
        s("-newkey"),
        s("rsa:2048"),
        s("-nodes"),
        s("-subj"),
        s("/CN=127.0.0.1"),
        s("-keyout"),
        key.as_os_str(),
        s("-out"),
        csr.as_os_str(),
    ]);
    openssl(&[
        s("x509"),
        s("-req"),
        s("-in"),
        csr.as_os_str(),
        s("-CA"),
        ca.as_os_str(),
        s("-CAkey"),
        ca_key.as_os_str(),
        s("-CAcreateserial"),
        s("-days"),
        s("2"),
        s("-extfile"),
        ext.as_os_str(),
        s("-out"),
        cert.as_os_str(),
    ]);
    TlsFiles { ca, cert, key }
}

/// A Redis Cluster of `masters` primaries (and optional replicas), created with
/// `redis-cli --cluster create`. All nodes die on drop.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `masters + masters * replicas_per_master` nodes and creates the cluster;
    /// returns once every node reports `cluster_state:ok`.
    pub fn start(masters: usize, replicas_per_master: usize) -> Self {
        let total = masters * (1 + replicas_per_master);
        let nodes: Vec<RedisServer> = (0..total)
            .map(|_| {
                let port = free_port_with_bus();
                let args = vec![
                    "--cluster-enabled".to_owned(),
                    "yes".to_owned(),
                    "--cluster-config-file".to_owned(),
                    format!("nodes-{port}.conf"),
                    "--cluster-node-timeout".to_owned(),
                    "2000".to_owned(),
                ];
                RedisServer::start_with(args, None, None, port)
            })
            .collect();
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for node in &nodes {
            create.arg(format!("127.0.0.1:{}", node.port()));
        }
        let out = create
            .args([
                "--cluster-replicas",
                &replicas_per_master.to_string(),
                "--cluster-yes",
            ])
            .output()
            .expect("run redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let cluster = Self { nodes };
        cluster.wait_until_ok(START_TIMEOUT);
        cluster
    }

    /// Polls every live node until it reports `cluster_state:ok`, or panics after `timeout`.
    pub fn wait_until_ok(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let all_ok = self
                .nodes
                .iter()
                .filter(|n| n.is_running())
                .all(|n| n.cli(&["cluster", "info"]).contains("cluster_state:ok"));
            if all_ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis cluster not ok within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `redis://127.0.0.1:PORT` of every node (seed list for a cluster client).
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// The nodes, in creation order (masters first).
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// Kills node `index` (SIGKILL).
    pub fn kill_node(&mut self, index: usize) {
        if let Some(node) = self.nodes.get_mut(index) {
            node.stop();
        }
    }

    /// Starts node `index` again on its port (after [`RedisCluster::kill_node`]), from
    /// its cluster configuration file: it rejoins with the slots it had, and no data.
    /// Follow with [`RedisCluster::wait_until_ok`] once the nodes wanted are back.
    pub fn restart_node(&mut self, index: usize) {
        if let Some(node) = self.nodes.get_mut(index) {
            node.restart();
        }
    }
}
