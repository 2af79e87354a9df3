//! Retention of idempotency keys (payments' and incidents'): a key answers retries for
//! [`RETENTION`], then it is deleted, so the tables do not grow without bound.
//!
//! Pruning is opportunistic: the writers call [`prune_now_and_then`] after their work, and
//! at most one prune per [`PRUNE_INTERVAL`] runs per process, in the background, deleting
//! at most [`PRUNE_BATCH`] rows per table (the next run takes the rest). A retry after
//! the retention is a new request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aurora::{AuroraError, AuroraPool};

/// How long a key answers retries.
pub const RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// The least time between two prunes in one process.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(10 * 60);

/// The most rows one prune deletes per table (short statements, short locks).
pub const PRUNE_BATCH: i64 = 10_000;

/// Keys deleted by one [`prune`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// From `idempotency_keys` (payments).
    pub payments: u64,
    /// From `incident_idempotency_keys`.
    pub incidents: u64,
}

/// Deletes keys created more than `retention` ago (up to [`PRUNE_BATCH`] per table).
pub async fn prune(pool: &AuroraPool, retention: Duration) -> Result<Pruned, AuroraError> {
    let seconds = retention.as_secs_f64();
    let delete = |table: &str| {
        format!(
            "DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table} \
             WHERE created_at < now() - make_interval(secs => $1) LIMIT $2))"
        )
    };
    Ok(Pruned {
        payments: pool
            .execute(&delete("idempotency_keys"), &[&seconds, &PRUNE_BATCH])
            .await?,
        incidents: pool
            .execute(
                &delete("incident_idempotency_keys"),
                &[&seconds, &PRUNE_BATCH],
            )
            .await?,
    })
}

/// When this process last started a prune (seconds since the epoch).
static LAST_PRUNE: AtomicU64 = AtomicU64::new(0);

/// Starts a background [`prune`] with [`RETENTION`] unless one started in this process
/// less than [`PRUNE_INTERVAL`] ago. Never waits and never fails the caller.
pub fn prune_now_and_then(pool: &AuroraPool) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST_PRUNE.load(Ordering::Relaxed);
    if now < last.saturating_add(PRUNE_INTERVAL.as_secs())
        || LAST_PRUNE
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    let pool = pool.clone();
    tokio::spawn(async move {
        match prune(&pool, RETENTION).await {
            Ok(pruned) => tracing::debug!(?pruned, "idempotency keys pruned"),
            Err(e) => tracing::warn!(error = %e, "pruning idempotency keys failed"),
        }
    });
}
