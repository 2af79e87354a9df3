//! Settings of the vendor wing, as a plain struct with defaults that suit one Lambda
//! environment in front of ElastiCache.

use std::time::Duration;

/// Settings of [`crate::Vendors`].
#[derive(Debug, Clone)]
pub struct VendorsConfig {
    /// Region (market) name: every index key of a region shares the hash tag
    /// `{vendors:<region>}`, so a region lives in one cluster slot and its scripts are atomic.
    pub region: String,
    /// TTL of a cached vendor profile (`GET /vendors/{id}`).
    pub profile_ttl: Duration,
    /// How long past its TTL a profile may be served (`STALE`) while one refresh runs.
    pub profile_stale_window: Option<Duration>,
    /// How long this process reuses a profile it read from Redis without asking again:
    /// the bound on how much older than another environment's committed write a
    /// `GET /vendors/{id}` may be (writes in this environment evict at once). Searches
    /// never use it. `Duration::ZERO` turns the tier off.
    pub profile_local_ttl: Duration,
    /// Profiles this process keeps at most.
    pub profile_local_capacity: usize,
    /// How long this process keeps a search answer; each reuse is still checked against the
    /// index's change counters, so this bounds memory, not staleness.
    pub result_ttl: Duration,
    /// Search answers kept in this process at most.
    pub result_capacity: usize,
    /// Index searches (or pipelined batches of the incident path's index calls, one turn
    /// each) this process sends to Redis at once; more wait here for a turn. The
    /// wait happens before the command is sent, so a burst of concurrent requests queues
    /// in this process instead of on the connection, where it would count against the
    /// per-command timeout and trip the circuit breaker.
    pub searches_in_flight: usize,
    /// Candidate searches (or cache updates after writes) of concurrent incidents sent in
    /// one round trip at most: calls that arrive while earlier ones are in flight share a
    /// pipeline, which holds one of the `searches_in_flight` turns. 1 sends each alone.
    pub index_batch_max: usize,
    /// Radius of the first step of the nearest-first walk, in miles; each further step
    /// doubles it. 2 miles holds ten vendors around most of central Los Angeles in the
    /// benchmark's fleet, so most searches take one step (docs/PERFORMANCE.md, "Session 4").
    pub first_radius_miles: f64,
    /// Vendors read from the database per page during a rebuild.
    pub build_page: usize,
    /// Vendors written to Redis per script call during a rebuild.
    pub build_chunk: usize,
    /// Script calls of a rebuild in flight at once.
    pub build_parallelism: usize,
    /// Time allowed for one rebuild script call (the rebuild's own deadline, independent
    /// of the per-request command timeout).
    pub build_command_timeout: Duration,
    /// How long a rebuild may hold the fleet-wide lease; a builder that dies frees it then.
    pub build_lease: Duration,
    /// Shortest time between two rebuild attempts started by this process.
    pub rebuild_interval: Duration,
    /// An index older than this is rebuilt in the background while it keeps serving (heals
    /// a write whose cache update was lost for good).
    pub max_index_age: Duration,
    /// Attempts to re-apply a committed write whose cache update failed.
    pub repair_attempts: u32,
}

impl Default for VendorsConfig {
    fn default() -> Self {
        Self {
            region: "default".to_owned(),
            profile_ttl: Duration::from_secs(300),
            profile_stale_window: Some(Duration::from_secs(30)),
            profile_local_ttl: Duration::from_millis(250),
            profile_local_capacity: 10_000,
            result_ttl: Duration::from_secs(60),
            result_capacity: 4096,
            searches_in_flight: 8,
            index_batch_max: 16,
            first_radius_miles: 2.0,
            build_page: 5000,
            build_chunk: 500,
            build_parallelism: 2,
            build_command_timeout: Duration::from_secs(5),
            build_lease: Duration::from_secs(120),
            rebuild_interval: Duration::from_secs(10),
            max_index_age: Duration::from_secs(3600),
            repair_attempts: 6,
        }
    }
}
