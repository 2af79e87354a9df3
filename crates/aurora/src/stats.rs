//! Counters, pool statistics and the health report.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Monotonic counters shared by the pools and the connect hook.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub created: AtomicU64,
    pub errors: AtomicU64,
    pub evicted: AtomicU64,
    pub retries: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Size and activity of one pool (writer or reader).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Upper bound of open connections.
    pub max_size: usize,
    /// Open connections (idle and in use).
    pub size: usize,
    /// Idle connections ready to be handed out.
    pub available: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
}

impl From<deadpool_postgres::Status> for PoolStatus {
    fn from(status: deadpool_postgres::Status) -> Self {
        Self {
            max_size: status.max_size,
            size: status.size,
            available: status.available,
            waiting: status.waiting,
        }
    }
}

/// A snapshot of [`crate::AuroraPool::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// The writer pool.
    pub writer: PoolStatus,
    /// The reader pool, when a reader endpoint is configured.
    pub reader: Option<PoolStatus>,
    /// Connections opened since start (both pools).
    pub created: u64,
    /// Failed connects, password source failures and failed statements.
    pub errors: u64,
    /// Connections thrown away because they broke or turned read-only.
    pub evicted: u64,
    /// Retries performed (reads and transactions).
    pub retries: u64,
    /// Calls in progress.
    pub in_flight: usize,
}

/// The result of [`crate::AuroraPool::health`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Time of one round trip (checkout included).
    pub round_trip: Duration,
    /// Whether the writer endpoint accepts writes (not in recovery, not read-only).
    pub writable: bool,
    /// `server_version` of the writer.
    pub server_version: String,
}
