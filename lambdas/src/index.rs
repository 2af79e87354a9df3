//! Whether the Redis geo index holds every vendor.
//!
//! The geo index only holds vendors whose profile is cached, and profiles expire: a search
//! of the index alone would silently miss idle vendors. So the whole vendor table is
//! loaded into the cache at once, and a marker key with a TTL shorter than the profiles'
//! says the index is complete. While the marker is absent, searches go to PostgreSQL
//! (`X-Cache: MISS`) and one background task reloads the index.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aurora::AuroraPool;
use cache::{Cache, SetCondition, VendorCache};

use crate::db;

/// The marker key.
pub const READY_KEY: &str = "roadcall:vendor-index:ready";

/// Tracks and restores the completeness of the geo index.
#[derive(Clone, Debug)]
pub struct VendorIndex {
    cache: Option<Cache>,
    marker_ttl: Duration,
    /// Milliseconds since `epoch` until which the marker was last seen (saves a GET).
    ready_until_ms: Arc<AtomicU64>,
    epoch: Instant,
    reloading: Arc<tokio::sync::Mutex<()>>,
}

/// Why a reload failed.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The database could not be read.
    #[error("reading vendors: {0}")]
    Database(#[from] aurora::AuroraError),
    /// Redis could not be written.
    #[error("writing the index: {0}")]
    Cache(#[from] cache::CacheError),
}

impl VendorIndex {
    /// An index tracker; `profile_ttl` is the vendor profiles' TTL.
    pub fn new(cache: Option<Cache>, profile_ttl: Duration) -> Self {
        Self {
            cache,
            // Stop trusting the index well before the profiles loaded with it expire.
            marker_ttl: profile_ttl
                .saturating_sub(Duration::from_secs(30))
                .max(Duration::from_secs(5)),
            ready_until_ms: Arc::new(AtomicU64::new(0)),
            epoch: Instant::now(),
            reloading: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether searches may trust the index: `Some(true)` ready, `Some(false)` incomplete,
    /// `None` when Redis cannot say (down or not configured).
    pub async fn readiness(&self) -> Option<bool> {
        let cache = self.cache.as_ref()?;
        let now = self.now_ms();
        if now < self.ready_until_ms.load(Ordering::Relaxed) {
            return Some(true);
        }
        match cache.client().exists(READY_KEY).await {
            Ok(true) => {
                // Trust a positive answer for one second.
                self.ready_until_ms.store(now + 1000, Ordering::Relaxed);
                Some(true)
            }
            Ok(false) => Some(false),
            Err(_) => None,
        }
    }

    /// Whether searches may trust the index.
    pub async fn is_ready(&self) -> bool {
        self.readiness().await == Some(true)
    }

    /// Forgets the local memo (after Redis restarts, for example).
    pub fn forget(&self) {
        self.ready_until_ms.store(0, Ordering::Relaxed);
    }

    /// Loads every vendor from PostgreSQL into the cache and sets the marker; waits for a
    /// reload already running. Returns the number of vendors loaded.
    pub async fn reload(
        &self,
        pool: &AuroraPool,
        vendors: &VendorCache,
    ) -> Result<usize, ReloadError> {
        let _guard = self.reloading.lock().await;
        self.load(pool, vendors).await
    }

    async fn load(&self, pool: &AuroraPool, vendors: &VendorCache) -> Result<usize, ReloadError> {
        let Some(cache) = &self.cache else {
            return Ok(0);
        };
        let started = db::vendors::now_epoch(pool).await?;
        let all = db::vendors::all(pool).await?;
        vendors.put_profiles(&all).await?;
        // Writes that raced with the load (a vendor claimed meanwhile) are applied again,
        // so the index never keeps an availability older than the database's.
        let changed = db::vendors::changed_since(pool, started - 1.0).await?;
        vendors.put_profiles(&changed).await?;
        cache
            .client()
            .set(READY_KEY, &1u8, Some(self.marker_ttl), SetCondition::Always)
            .await?;
        Ok(all.len())
    }

    /// Starts a background reload unless one is running.
    pub fn reload_in_background(&self, pool: AuroraPool, vendors: VendorCache) {
        let Ok(guard) = self.reloading.clone().try_lock_owned() else {
            return;
        };
        let index = self.clone();
        tokio::spawn(async move {
            let _guard = guard;
            match index.load(&pool, &vendors).await {
                Ok(n) => tracing::info!(vendors = n, "vendor index reloaded"),
                Err(e) => tracing::warn!(error = %e, "vendor index reload failed"),
            }
        });
    }
}
