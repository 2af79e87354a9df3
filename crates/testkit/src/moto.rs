//! A real `moto_server` (the AWS emulator) on a free loopback port.
//!
//! ```no_run
//! let moto = testkit::moto::MotoServer::start();
//! // Point the AWS SDK at it: AWS_ENDPOINT_URL, fixed test credentials, us-east-1.
//! for (name, value) in moto.sdk_env() {
//!     println!("{name}={value}");
//! }
//! moto.reset();
//! ```
//!
//! The binary is found through `MOTO_SERVER`, then `<workspace>/.venv-moto/bin/moto_server`
//! (where `scripts/test` installs `requirements/moto.txt`), then `PATH`. A missing binary
//! panics with the install command: a test that needs the emulator never passes silently
//! without it.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{ChildGuard, free_port};

/// How long a fresh server may take to answer (it starts in well under a second, but the
/// machine is shared).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `moto_server`, killed on drop.
#[derive(Debug)]
pub struct MotoServer {
    port: u16,
    guard: ChildGuard,
}

/// Finds the `moto_server` binary, or explains how to install it.
pub fn moto_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("MOTO_SERVER={} is not a file", path.display()))
        };
    }
    let venv = workspace_root().join(".venv-moto/bin/moto_server");
    if venv.is_file() {
        return Ok(venv);
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join("moto_server");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(
        "moto_server not found (MOTO_SERVER, .venv-moto/bin, PATH); install it with \
         `python3 -m venv .venv-moto && .venv-moto/bin/pip install -r requirements/moto.txt` \
         in the workspace root, or run scripts/test"
            .to_owned(),
    )
}

/// The workspace root: two levels above this crate's manifest.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

impl MotoServer {
    /// Starts `moto_server -H 127.0.0.1 -p <free port>` and waits until `GET /moto-api/`
    /// answers 200. Panics when the binary is missing or the server does not come up.
    pub fn start() -> Self {
        let binary = moto_binary().unwrap_or_else(|message| panic!("{message}"));
        let port = free_port();
        let child = Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            // Every request is logged; nobody reads it, and a full pipe would block moto.
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        let mut server = Self {
            port,
            guard: ChildGuard::new(child),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if matches!(server.request("GET", "/moto-api/", ""), Ok((200, _))) {
                return server;
            }
            if Instant::now() > deadline {
                server.guard.kill();
                panic!("moto_server did not answer on 127.0.0.1:{port} within {START_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`, the value for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Environment variables that point the AWS SDK (or CLI) at this server with moto's
    /// fixed test credentials in `us-east-1`, and keep it away from any real profile.
    pub fn sdk_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("AWS_CONFIG_FILE", "/dev/null".to_owned()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_owned()),
        ]
    }

    /// Forgets every resource (`POST /moto-api/reset`). Panics if moto refuses.
    pub fn reset(&self) {
        self.post_ok("/moto-api/reset", "");
    }

    /// Sends `POST path` with a JSON body (e.g. `/moto-api/state-manager/set-transition`)
    /// and panics unless moto answers with a 2xx status.
    pub fn post_ok(&self, path: &str, json_body: &str) {
        match self.request("POST", path, json_body) {
            Ok((200..=299, _)) => {}
            Ok((status, body)) => panic!("moto POST {path}: HTTP {status}: {body}"),
            Err(e) => panic!("moto POST {path}: {e}"),
        }
    }

    /// One HTTP/1.0 request to the server: `(status, body)`.
    pub fn request(&self, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
        self.request_with(method, path, "Content-Type: application/json\r\n", body)
    }

    /// A call of an AWS JSON-protocol API (e.g. `secretsmanager`, `CreateSecret`) with a
    /// placeholder signature: moto routes on the credential scope and never checks it.
    pub fn aws_json(
        &self,
        service: &str,
        target: &str,
        body: &str,
    ) -> std::io::Result<(u16, String)> {
        let headers = format!(
            "Content-Type: application/x-amz-json-1.1\r\nX-Amz-Target: {target}\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, \
             SignedHeaders=host, Signature=00\r\n"
        );
        self.request_with("POST", "/", &headers, body)
    }

    fn request_with(
        &self,
        method: &str,
        path: &str,
        headers: &str,
        body: &str,
    ) -> std::io::Result<(u16, String)> {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n{headers}\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default();
        Ok((status, body))
    }

    /// Kills the server now (it is killed on drop anyway).
    pub fn stop(&mut self) {
        self.guard.kill();
    }
}
