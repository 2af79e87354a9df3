//! What every handler shares: the database pool, the cache, the configuration and this
//! execution environment's identity.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aurora::AuroraPool;
use cache::Cache;
use vendors::Vendors;

use crate::config::AppConfig;
use crate::db::store::PgVendors;

/// The longest a cold start spends opening the pool's first connections; past it they
/// open on demand.
pub const WARM_UP_BUDGET: Duration = Duration::from_secs(2);

/// One execution environment (one Lambda sandbox, or one local server).
#[derive(Debug)]
pub struct Environment {
    /// Unique id, so the warmer can count distinct environments.
    pub id: String,
    /// When the environment started.
    pub started: Instant,
    cold: AtomicBool,
    invocations: AtomicU64,
}

impl Environment {
    /// A new environment with a fresh id.
    pub fn new() -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            started: Instant::now(),
            cold: AtomicBool::new(true),
            invocations: AtomicU64::new(0),
        }
    }

    /// Whether this is the environment's first invocation (and marks it warm).
    pub fn take_cold_start(&self) -> bool {
        self.cold.swap(false, Ordering::Relaxed)
    }

    /// Counts an invocation and returns the total.
    pub fn count_invocation(&self) -> u64 {
        self.invocations.fetch_add(1, Ordering::Relaxed) + 1
    }
}

impl Default for Environment {
    fn default() -> Self {
        Self::new()
    }
}

/// Why an environment could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database pool could not be built.
    #[error("database: {0}")]
    Database(#[source] aurora::AuroraError),
    /// The Redis client could not be built (on a strict start, [`AppState::connect`],
    /// cluster mode reads the slot map at start).
    #[error("redis: {0}")]
    Redis(#[source] cache::CacheError),
    /// The Redis AUTH password cannot be had: the secret (`REDIS_AUTH_SECRET_ARN`) has an
    /// unusable endpoint or, on a strict start ([`AppState::connect`]), gave no answer; or,
    /// on a strict start, no ElastiCache IAM token could be signed (`REDIS_IAM_AUTH`).
    #[error("redis AUTH token: {0}")]
    RedisSecret(#[source] aurora::auth::PasswordError),
}

/// The Redis configuration to connect with ([`crate::redis_auth::redis_config`]: an
/// ElastiCache IAM token, or the AUTH token from `REDIS_AUTH_SECRET_ARN`).
async fn redis_config(
    config: &AppConfig,
    strict: bool,
) -> Result<Option<cache::CacheConfig>, StartError> {
    crate::redis_auth::redis_config(config, strict)
        .await
        .map_err(StartError::RedisSecret)
}

/// The handlers' shared state: one reference count to clone, because axum clones the state
/// for every request and every layer that takes it (cloning the parts one by one, a dozen
/// reference counts, was an eighth of the server's CPU on a cached `GET /vendors/{id}`).
/// The parts are reached through `Deref`: `state.db`, `state.vendors`.
#[derive(Clone, Debug)]
pub struct AppState(Arc<AppParts>);

impl std::ops::Deref for AppState {
    type Target = AppParts;
    fn deref(&self) -> &AppParts {
        &self.0
    }
}

/// What [`AppState`] shares.
#[derive(Debug)]
pub struct AppParts {
    /// PostgreSQL, the source of truth.
    pub db: AuroraPool,
    /// Redis cache-aside, when configured.
    pub cache: Option<Cache>,
    /// The vendor wing: profiles, the geo index and search over PostgreSQL and (when
    /// configured) Redis.
    pub vendors: Vendors<PgVendors>,
    /// Creates incidents, batching the claims of concurrent requests.
    pub incidents: crate::db::incidents::IncidentMatcher,
    /// Configuration.
    pub config: Arc<AppConfig>,
    /// This execution environment.
    pub environment: Arc<Environment>,
}

impl AppState {
    /// Connects to PostgreSQL and (when configured) Redis, with the AUTH token from
    /// `REDIS_AUTH_SECRET_ARN` when one is named (a failed fetch is an error here). Redis
    /// being down is not an error: the cache connects lazily and answers `BYPASS` meanwhile. The vendor index is
    /// not touched here: the host starts its rebuild once the schema is known to exist
    /// ([`vendors::Vendors::start_rebuild`], never awaited).
    pub async fn connect(config: AppConfig) -> Result<Self, StartError> {
        let db = AuroraPool::connect(config.database.clone())
            .await
            .map_err(StartError::Database)?;
        let cache = match redis_config(&config, true).await? {
            Some(redis) => Some(Cache::connect(redis).await.map_err(StartError::Redis)?),
            None => None,
        };
        Ok(Self::with_parts(db, cache, config))
    }

    /// Start-up that survives its dependencies (a Lambda cold start): builds the pool
    /// without needing PostgreSQL to answer, opens the warm connections only if it does
    /// (within [`WARM_UP_BUDGET`]), and builds the cache client without needing Redis
    /// (standalone clients connect lazily; a cluster client that cannot read the slot map
    /// answers every read `BYPASS` and reads it in the background, at most once per
    /// `REDIS_CLUSTER_CONNECT_RETRY_MS`, until it can: [`Cache::connect_lazy`]). The Redis AUTH secret
    /// (`REDIS_AUTH_SECRET_ARN`) is fetched meanwhile, within the same budget; without an
    /// answer the cache starts without it and fetches again when Redis refuses. Only a
    /// configuration the pool (or the secret's client) cannot be built from is an error. Requests meet a database that is down
    /// with 503 and reconnect on their own once it is back.
    pub async fn start(config: AppConfig) -> Result<Self, StartError> {
        let db = AuroraPool::builder(config.database.clone())
            .build()
            .map_err(StartError::Database)?;
        // The Redis secret is fetched while the pool warms up: neither waits for the other.
        let (warm_up, redis) = tokio::join!(
            tokio::time::timeout(WARM_UP_BUDGET, db.warm_up()),
            redis_config(&config, false)
        );
        match warm_up {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "database not reachable at start-up; requests answer 503 until it is")
            }
            Err(_) => tracing::warn!("database warm-up took too long; connections open on demand"),
        }
        let cache = match redis? {
            Some(redis) => match Cache::connect_lazy(redis).await {
                Ok(cache) => Some(cache),
                Err(e) => {
                    tracing::warn!(error = %e, "redis client not usable; this environment reads from the database (BYPASS)");
                    None
                }
            },
            None => None,
        };
        Ok(Self::with_parts(db, cache, config))
    }

    /// State from an existing pool and cache (tests, the local server).
    pub fn with_parts(db: AuroraPool, cache: Option<Cache>, config: AppConfig) -> Self {
        let vendors = Vendors::new(PgVendors(db.clone()), cache.clone(), config.vendors.clone());
        Self(Arc::new(AppParts {
            incidents: crate::db::incidents::IncidentMatcher::new(
                db.clone(),
                config.incident_batch_max,
            ),
            db,
            cache,
            vendors,
            config: Arc::new(config),
            environment: Arc::new(Environment::new()),
        }))
    }
}
