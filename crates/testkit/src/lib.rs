//! Test-only helpers that start real servers on free loopback ports.
//!
//! Every server this crate starts is a child process bound to `127.0.0.1`, owned by a
//! guard value that kills it (and removes its temporary directory) on drop, so tests can
//! stop and restart servers for fault injection without touching shared state.
//!
//! ```no_run
//! let port = testkit::free_port();
//! assert!(port > 0);
//! ```

#![warn(missing_docs)]

pub mod fleet;
pub mod moto;
pub mod postgres;
pub mod redis;

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::Child;
use std::time::{Duration, Instant};

/// Returns a TCP port on 127.0.0.1 that was free at the time of the call.
///
/// The port is found by binding port 0 and releasing it, so a race with another process
/// is possible but rare; servers started on it fail loudly if it was taken.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// Waits until something accepts TCP connections on `127.0.0.1:port`, or panics after
/// `timeout` naming `what`.
pub fn wait_for_port(port: u16, timeout: Duration, what: &str) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{what} did not accept connections on 127.0.0.1:{port} within {timeout:?}");
}

/// A child process that is killed and reaped when the guard is dropped.
#[derive(Debug)]
pub struct ChildGuard {
    child: Option<Child>,
}

impl ChildGuard {
    /// Takes ownership of a started child process.
    pub fn new(child: Child) -> Self {
        Self { child: Some(child) }
    }

    /// The operating-system id of the process, if it is still owned.
    pub fn id(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the process (SIGKILL) and waits for it to exit. Safe to call twice.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}
