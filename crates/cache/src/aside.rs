//! Cache-aside: `get_or_load` with single-flight, TTL jitter, negative caching,
//! stale-while-revalidate, a circuit breaker, and family-wide invalidation.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::Rng;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::breaker::{BreakerState, CircuitBreaker};
use crate::client::{RedisClient, ttl_millis};
use crate::config::CacheConfig;
use crate::error::CacheError;
use crate::metrics::{CacheMetrics, Counters};

/// Where an answer came from; the value of the `X-Cache` response header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CacheOutcome {
    /// Fresh value (or fresh "not found") from Redis.
    Hit,
    /// Not in Redis: loaded (by this caller or a concurrent one) and stored.
    Miss,
    /// Expired value served while one background refresh runs.
    Stale,
    /// Redis was skipped (down, slow, or breaker open): answer straight from the loader.
    Bypass,
}

impl CacheOutcome {
    /// `HIT`, `MISS`, `STALE` or `BYPASS`.
    pub fn as_header(self) -> &'static str {
        match self {
            Self::Hit => "HIT",
            Self::Miss => "MISS",
            Self::Stale => "STALE",
            Self::Bypass => "BYPASS",
        }
    }
}

impl std::fmt::Display for CacheOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_header())
    }
}

/// A value from [`KeyFamily::get_or_load`] and how it was obtained.
#[derive(Debug, Clone, PartialEq)]
pub struct Cached<T> {
    /// The value; `None` when the loader said "not found" (possibly cached negatively).
    pub value: Option<T>,
    /// For the `X-Cache` header and metrics.
    pub outcome: CacheOutcome,
}

// Envelope written in front of every cached value: 1 tag byte, then the soft expiry in
// Unix milliseconds (big endian), then the codec's bytes. The soft expiry lets a reader
// tell fresh from stale while the Redis TTL keeps the entry for the stale window.
const TAG_NOT_FOUND: u8 = 0;
const TAG_VALUE: u8 = 1;
const HEADER_LEN: usize = 9;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

type FlightResult = Option<Arc<dyn Any + Send + Sync>>;

struct Flight {
    done: watch::Sender<Option<FlightResult>>,
}

struct GenerationCell {
    value: AtomicU64,
    // Milliseconds since `CacheInner::epoch` when `value` was read; 0 = never.
    fetched_at: AtomicU64,
}

pub(crate) struct CacheInner {
    pub(crate) client: RedisClient,
    pub(crate) config: CacheConfig,
    pub(crate) breaker: CircuitBreaker,
    /// Request-path calls Redis answered (any reply, even an error one): a timeout while
    /// this count moves was spent queueing behind this process's own commands.
    answers: AtomicU64,
    pub(crate) metrics: CacheMetrics,
    flights: Mutex<HashMap<String, Arc<Flight>>>,
    generations: Mutex<HashMap<String, Arc<GenerationCell>>>,
    epoch: Instant,
}

/// Entry point: a Redis client plus the cache-aside machinery shared by all families.
/// Cheap to clone; create one per process (outside the Lambda handler).
#[derive(Clone)]
pub struct Cache {
    pub(crate) inner: Arc<CacheInner>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("client", &self.inner.client)
            .field("breaker", &self.inner.breaker.state())
            .finish()
    }
}

impl Cache {
    /// Connects with `config` (see [`RedisClient::connect`]).
    pub async fn connect(config: CacheConfig) -> Result<Self, CacheError> {
        let client = RedisClient::connect(&config).await?;
        Ok(Self::with_client(client, config))
    }

    /// Like [`Cache::connect`], but a Redis Cluster that cannot be reached yet is not an
    /// error: reads answer `BYPASS` until a background attempt reads its slot map
    /// ([`RedisClient::connect_lazy`]). What a Lambda cold start uses.
    pub async fn connect_lazy(config: CacheConfig) -> Result<Self, CacheError> {
        let client = RedisClient::connect_lazy(&config).await?;
        Ok(Self::with_client(client, config))
    }

    /// Wraps an existing client.
    pub fn with_client(client: RedisClient, config: CacheConfig) -> Self {
        Self {
            inner: Arc::new(CacheInner {
                client,
                breaker: CircuitBreaker::new(
                    config.breaker_failure_threshold,
                    config.breaker_cool_off,
                ),
                answers: AtomicU64::new(0),
                config,
                metrics: CacheMetrics::default(),
                flights: Mutex::new(HashMap::new()),
                generations: Mutex::new(HashMap::new()),
                epoch: Instant::now(),
            }),
        }
    }

    /// The underlying client, for typed operations outside cache-aside.
    pub fn client(&self) -> &RedisClient {
        &self.inner.client
    }

    /// Outcome counters per family.
    pub fn metrics(&self) -> &CacheMetrics {
        &self.inner.metrics
    }

    /// The circuit breaker's state.
    pub fn breaker_state(&self) -> BreakerState {
        self.inner.breaker.state()
    }

    /// The configuration in use.
    pub fn config(&self) -> &CacheConfig {
        &self.inner.config
    }

    /// A handle for one key family (`"vendor-profile"`, `"payment-methods"`...). Its keys
    /// are `<prefix>:<family>:<generation>:<id>`.
    pub fn family(&self, name: &str) -> KeyFamily {
        let generation = self
            .inner
            .generations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(name.to_owned())
            .or_insert_with(|| {
                Arc::new(GenerationCell {
                    value: AtomicU64::new(0),
                    fetched_at: AtomicU64::new(0),
                })
            })
            .clone();
        KeyFamily {
            cache: self.clone(),
            name: Arc::from(name),
            counters: self.inner.metrics.family(name),
            generation,
            stale_window: None,
        }
    }

    /// Runs `op` against Redis unless the breaker is open, and reports the result to it.
    /// Every request-path Redis call goes through here, so an unreachable Redis costs one
    /// timeout per breaker window instead of one per request.
    ///
    /// A timeout counts as a failure only when Redis answered no other call of this
    /// process while `op` waited. A burst that queues this process's own commands (on the
    /// connection, in Redis, or for a CPU) makes some of them overrun the command timeout
    /// while the others keep getting answers: that is load, not an unreachable Redis, and
    /// opening the breaker would send the whole burst to the database. The caller still
    /// gets the timeout (and takes its fallback for this one call).
    pub async fn guarded<T, F>(&self, op: F) -> Result<T, CacheError>
    where
        F: Future<Output = Result<T, CacheError>>,
    {
        if !self.inner.breaker.allow() {
            return Err(CacheError::CircuitOpen);
        }
        let answered_before = self.inner.answers.load(Ordering::Acquire);
        let result = op.await;
        match &result {
            Err(CacheError::Timeout(_))
                if self.inner.answers.load(Ordering::Acquire) != answered_before =>
            {
                tracing::debug!("redis command overran its timeout while others were answered");
            }
            Err(e) if e.is_unavailable() => self.inner.breaker.record_failure(),
            // Any answer, even an error reply, proves Redis is reachable.
            _ => {
                self.inner.answers.fetch_add(1, Ordering::AcqRel);
                self.inner.breaker.record_success();
            }
        }
        result
    }

    fn jittered(&self, ttl: Duration) -> Duration {
        // The config is a plain struct: a NaN or out-of-range jitter must not panic here.
        let jitter = self.inner.config.ttl_jitter;
        if jitter.is_nan() || jitter <= 0.0 {
            return ttl;
        }
        let extra = rand::rng().random_range(0.0..=jitter.min(1.0));
        Duration::try_from_secs_f64(ttl.as_secs_f64() * (1.0 + extra)).unwrap_or(ttl)
    }
}

/// Keys of one family: cache-aside reads, writes and invalidation.
#[derive(Clone)]
pub struct KeyFamily {
    cache: Cache,
    name: Arc<str>,
    counters: Arc<Counters>,
    generation: Arc<GenerationCell>,
    stale_window: Option<Duration>,
}

impl std::fmt::Debug for KeyFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFamily")
            .field("name", &self.name)
            .field("stale_window", &self.stale_window)
            .finish()
    }
}

enum Role {
    Leader(FlightGuard),
    Follower(watch::Receiver<Option<FlightResult>>),
}

enum Lookup<T> {
    Fresh(Option<T>),
    Stale(Option<T>),
    Absent,
}

impl KeyFamily {
    /// Keeps entries `window` past their TTL and serves them as `STALE` while a single
    /// background load refreshes them.
    pub fn with_stale_while_revalidate(mut self, window: Duration) -> Self {
        self.stale_window = Some(window);
        self
    }

    /// The family name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn generation_key(&self) -> String {
        format!("{}:gen:{}", self.cache.inner.config.key_prefix, self.name)
    }

    fn key_for(&self, generation: u64, id: &str) -> String {
        // The id is the hash tag, so an entry and its fill fence share a cluster slot.
        format!(
            "{}:{}:{}:{{{}}}",
            self.cache.inner.config.key_prefix, self.name, generation, id
        )
    }

    /// Registers a fill of `key`: a token that any invalidation in between revokes.
    ///
    /// Taken *before* the loader reads the database, so a write committed after the read
    /// began is always followed by an invalidation that deletes the token, and the fill
    /// carrying the older answer is refused ([`FENCED_SET`]).
    async fn take_fence(&self, key: &str) -> Result<String, CacheError> {
        let token = format!("{:016x}", rand::rng().random::<u64>());
        let mut cmd = redis::cmd("SET");
        cmd.arg(fence_key(key))
            .arg(&token)
            .arg("PX")
            .arg(ttl_millis(FENCE_TTL));
        self.cache
            .guarded(self.cache.inner.client.query::<()>(&cmd))
            .await?;
        Ok(token)
    }

    async fn generation(&self, force: bool) -> Result<u64, CacheError> {
        let inner = &self.cache.inner;
        let now = inner.epoch.elapsed().as_millis() as u64 + 1;
        let fetched = self.generation.fetched_at.load(Ordering::Acquire);
        let refresh = inner.config.generation_refresh.as_millis() as u64;
        if !force && fetched != 0 && now.saturating_sub(fetched) < refresh {
            return Ok(self.generation.value.load(Ordering::Acquire));
        }
        let value: Option<u64> = inner
            .client
            .query(redis::cmd("GET").arg(self.generation_key()))
            .await?;
        let value = value.unwrap_or(0);
        self.generation.value.store(value, Ordering::Release);
        self.generation.fetched_at.store(now, Ordering::Release);
        Ok(value)
    }

    /// The Redis key currently holding `id` (changes when the family is invalidated).
    pub async fn key(&self, id: &str) -> Result<String, CacheError> {
        let generation = self.generation(false).await?;
        Ok(self.key_for(generation, id))
    }

    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<Lookup<T>, CacheError> {
        if bytes.len() < HEADER_LEN {
            return Err(CacheError::Serialization("cache entry too short".into()));
        }
        let mut expiry = [0u8; 8];
        expiry.copy_from_slice(&bytes[1..HEADER_LEN]);
        let fresh = u64::from_be_bytes(expiry) > now_ms();
        let value = match bytes[0] {
            TAG_NOT_FOUND => None,
            TAG_VALUE => Some(
                self.cache
                    .inner
                    .client
                    .codec()
                    .decode(&bytes[HEADER_LEN..])?,
            ),
            other => {
                return Err(CacheError::Serialization(format!(
                    "unknown cache entry tag {other}"
                )));
            }
        };
        Ok(if fresh {
            Lookup::Fresh(value)
        } else {
            Lookup::Stale(value)
        })
    }

    fn encode<T: Serialize>(
        &self,
        value: Option<&T>,
        fresh_for: Duration,
    ) -> Result<Vec<u8>, CacheError> {
        let expiry = now_ms().saturating_add(fresh_for.as_millis() as u64);
        let mut out = Vec::with_capacity(64);
        out.push(if value.is_some() {
            TAG_VALUE
        } else {
            TAG_NOT_FOUND
        });
        out.extend_from_slice(&expiry.to_be_bytes());
        if let Some(v) = value {
            out.extend_from_slice(&self.cache.inner.client.codec().encode(v)?);
        }
        Ok(out)
    }

    async fn read<T: DeserializeOwned>(&self, id: &str) -> Result<(String, Lookup<T>), CacheError> {
        let key = self.key(id).await?;
        let bytes = self.cache.inner.client.get_bytes(&key).await?;
        let lookup = match bytes {
            None => Lookup::Absent,
            Some(bytes) => match self.decode(&bytes) {
                Ok(l) => l,
                Err(e) => {
                    // An undecodable entry (old format, other codec) is a miss that the
                    // following write repairs, not a failure of the request.
                    tracing::warn!(family = %self.name, error = %e, "dropping undecodable cache entry");
                    Counters::add(&self.counters.errors);
                    Lookup::Absent
                }
            },
        };
        Ok((key, lookup))
    }

    /// Writes `value` (or a "not found" marker for `None`) for `id` with `ttl` plus jitter.
    /// Use it to refresh the cache after writing to the database.
    pub async fn put<T: Serialize>(
        &self,
        id: &str,
        value: Option<&T>,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        let key = self.key(id).await?;
        self.write(&key, value, ttl).await
    }

    /// The entry bytes for `value` and how long Redis keeps them.
    fn entry<T: Serialize>(
        &self,
        value: Option<&T>,
        ttl: Duration,
    ) -> Result<(Vec<u8>, Duration), CacheError> {
        let fresh_for = match value {
            Some(_) => self.cache.jittered(ttl),
            None => self.cache.jittered(self.cache.inner.config.negative_ttl),
        };
        let keep_for = match (value, self.stale_window) {
            (Some(_), Some(window)) => fresh_for.saturating_add(window),
            _ => fresh_for,
        };
        Ok((self.encode(value, fresh_for)?, keep_for))
    }

    /// Write-through: revokes fills in flight (their answers are older than this one) and
    /// stores `value`, in one transaction.
    async fn write<T: Serialize>(
        &self,
        key: &str,
        value: Option<&T>,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        let (bytes, keep_for) = self.entry(value, ttl)?;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("DEL")
            .arg(fence_key(key))
            .ignore()
            .cmd("SET")
            .arg(key)
            .arg(bytes)
            .arg("PX")
            .arg(ttl_millis(keep_for))
            .ignore();
        self.cache
            .guarded(self.cache.inner.client.query_pipeline::<()>(&pipe))
            .await
    }

    /// Stores a loader's answer only if no invalidation revoked `token` since it was taken;
    /// `Ok(false)` when it was refused.
    async fn fill<T: Serialize>(
        &self,
        key: &str,
        token: &str,
        value: Option<&T>,
        ttl: Duration,
    ) -> Result<bool, CacheError> {
        let (bytes, keep_for) = self.entry(value, ttl)?;
        let script = fenced_set();
        let mut inv = script.key(key);
        inv.key(fence_key(key))
            .arg(token)
            .arg(bytes)
            .arg(ttl_millis(keep_for));
        let stored: i64 = self
            .cache
            .guarded(self.cache.inner.client.invoke(&inv))
            .await?;
        if stored == 0 {
            Counters::add(&self.counters.fills_refused);
        }
        Ok(stored == 1)
    }

    /// Cache-aside read of `id`.
    ///
    /// * fresh entry: `HIT` (a cached "not found" is `HIT` with `value: None`);
    /// * stale entry with stale-while-revalidate: `STALE`, and one background load;
    /// * absent: one load per key per process however many callers wait (single-flight),
    ///   stored with `ttl` plus jitter, or for the negative TTL when the loader returns
    ///   `Ok(None)`: `MISS`;
    /// * Redis slow, down or skipped by the breaker: the loader's answer, `BYPASS`.
    ///
    /// Only the loader's own error is returned; Redis problems are counted, logged and
    /// bypassed.
    pub async fn get_or_load<T, E, F, Fut>(
        &self,
        id: &str,
        ttl: Duration,
        loader: F,
    ) -> Result<Cached<T>, E>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        E: Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Option<T>, E>> + Send + 'static,
    {
        let read = self.cache.guarded(self.read::<T>(id)).await;
        let key = match read {
            Ok((_, Lookup::Fresh(value))) => {
                Counters::add(&self.counters.hits);
                return Ok(Cached {
                    value,
                    outcome: CacheOutcome::Hit,
                });
            }
            Ok((key, Lookup::Stale(value))) if self.stale_window.is_some() => {
                Counters::add(&self.counters.stale);
                self.spawn_refresh(key, ttl, loader);
                return Ok(Cached {
                    value,
                    outcome: CacheOutcome::Stale,
                });
            }
            Ok((key, _)) => key,
            Err(e) => {
                if !matches!(e, CacheError::CircuitOpen) {
                    Counters::add(&self.counters.errors);
                    tracing::warn!(family = %self.name, error = %e, "redis read failed; bypassing cache");
                }
                Counters::add(&self.counters.bypass);
                // Still single-flight so an outage does not multiply database load.
                let flight_key = format!("bypass:{}:{}", self.name, id);
                let value = self.load_once(flight_key, None, ttl, loader).await?;
                return Ok(Cached {
                    value,
                    outcome: CacheOutcome::Bypass,
                });
            }
        };
        Counters::add(&self.counters.misses);
        let value = self.load_once(key.clone(), Some(key), ttl, loader).await?;
        Ok(Cached {
            value,
            outcome: CacheOutcome::Miss,
        })
    }

    fn spawn_refresh<T, E, F, Fut>(&self, key: String, ttl: Duration, loader: F)
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        E: Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Option<T>, E>> + Send + 'static,
    {
        let family = self.clone();
        let Role::Leader(guard) = family.join(&key) else {
            return; // a refresh (or a load) of this key is already running
        };
        tokio::spawn(async move {
            let fence = family.take_fence(&key).await;
            Counters::add(&family.counters.loads);
            if let Ok(value) = loader().await {
                if let Ok(token) = &fence
                    && let Err(e) = family.fill(&key, token, value.as_ref(), ttl).await
                {
                    Counters::add(&family.counters.errors);
                    tracing::warn!(family = %family.name, error = %e, "stale refresh write failed");
                }
                guard.finish(Some(Arc::new(value)));
            }
        });
    }

    /// Joins the in-flight load of `flight_key`, or becomes its leader; one lock makes
    /// the check and the registration atomic so two callers can never both lead.
    fn join(&self, flight_key: &str) -> Role {
        let mut flights = self
            .cache
            .inner
            .flights
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(flight) = flights.get(flight_key) {
            return Role::Follower(flight.done.subscribe());
        }
        let (tx, _rx) = watch::channel(None);
        let flight = Arc::new(Flight { done: tx });
        flights.insert(flight_key.to_owned(), flight.clone());
        Role::Leader(FlightGuard {
            cache: self.cache.clone(),
            key: flight_key.to_owned(),
            flight,
        })
    }

    /// Runs `loader` once per `flight_key` across concurrent callers in this process and
    /// stores the result under `store_key` when given.
    async fn load_once<T, E, F, Fut>(
        &self,
        flight_key: String,
        store_key: Option<String>,
        ttl: Duration,
        loader: F,
    ) -> Result<Option<T>, E>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<T>, E>>,
    {
        let guard = match self.join(&flight_key) {
            Role::Leader(guard) => guard,
            Role::Follower(mut rx) => {
                if let Ok(done) = rx.wait_for(Option::is_some).await {
                    let shared = done.clone().flatten();
                    if let Some(value) = shared.and_then(|v| v.downcast::<Option<T>>().ok()) {
                        return Ok((*value).clone());
                    }
                }
                // The leader failed or was cancelled: load for ourselves rather than
                // propagating someone else's error.
                Counters::add(&self.counters.loads);
                return loader().await;
            }
        };
        // The fence comes first: only then may the loader read the truth.
        let fence = match store_key {
            Some(key) => match self.take_fence(&key).await {
                Ok(token) => Some((key, token)),
                Err(e) => {
                    if !matches!(e, CacheError::CircuitOpen) {
                        Counters::add(&self.counters.errors);
                    }
                    None
                }
            },
            None => None,
        };
        Counters::add(&self.counters.loads);
        let result = loader().await;
        if let Ok(value) = &result {
            if let Some((key, token)) = fence
                && let Err(e) = self.fill(&key, &token, value.as_ref(), ttl).await
                && !matches!(e, CacheError::CircuitOpen)
            {
                Counters::add(&self.counters.errors);
                tracing::warn!(family = %self.name, error = %e, "cache write failed");
            }
            guard.finish(Some(Arc::new(value.clone())));
        }
        result
    }

    /// Deletes the cached entry of `id`.
    pub async fn invalidate(&self, id: &str) -> Result<(), CacheError> {
        self.invalidate_many(&[id]).await.map(|_| ())
    }

    /// Deletes the cached entries of `ids` and revokes every fill of them in flight (one
    /// `DEL` per id, entry and fence together); returns how many entries existed.
    ///
    /// Call it after the database write commits: a reader that loaded the old row before
    /// the commit then cannot store it, whatever the interleaving.
    pub async fn invalidate_many(&self, ids: &[impl AsRef<str>]) -> Result<u64, CacheError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let generation = self.generation(true).await?;
        let mut pipe = redis::pipe();
        for id in ids {
            let key = self.key_for(generation, id.as_ref());
            // Fence first: between the two deletions a fill must already be refused.
            pipe.cmd("DEL").arg(fence_key(&key)).arg(&key);
        }
        let deleted: Vec<u64> = self
            .cache
            .guarded(self.cache.inner.client.query_pipeline(&pipe))
            .await?;
        // Each DEL counts the fence too; an entry and its fence rarely coexist, so report
        // at most one per id.
        Ok(deleted.into_iter().map(|n| n.min(1)).sum())
    }

    /// Invalidates every entry of the family at once by bumping its generation; old
    /// entries are never read again and expire on their own TTL (no `SCAN`). Other
    /// processes notice within `generation_refresh`. Returns the new generation.
    pub async fn invalidate_all(&self) -> Result<u64, CacheError> {
        let value = self
            .cache
            .inner
            .client
            .incr(&self.generation_key(), 1)
            .await?;
        let value = u64::try_from(value).unwrap_or(0);
        let now = self.cache.inner.epoch.elapsed().as_millis() as u64 + 1;
        self.generation.value.store(value, Ordering::Release);
        self.generation.fetched_at.store(now, Ordering::Release);
        Ok(value)
    }
}

/// How long a fill fence lives: a loader slower than this cannot store its answer (the
/// request still gets it), which is the safe side.
const FENCE_TTL: Duration = Duration::from_secs(10);

fn fence_key(key: &str) -> String {
    format!("{key}:fence")
}

/// KEYS: entry, fence. ARGV: token, bytes, PX. Stores the entry only while the fence still
/// holds this fill's token, and consumes the fence.
const FENCED_SET: &str = r#"
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('DEL', KEYS[2])
return 1
"#;

fn fenced_set() -> &'static redis::Script {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| redis::Script::new(FENCED_SET))
}

/// Leadership of one single-flight load; removing it from the table on drop means a
/// cancelled leader cannot leave followers waiting forever.
struct FlightGuard {
    cache: Cache,
    key: String,
    flight: Arc<Flight>,
}

impl FlightGuard {
    fn finish(self, result: FlightResult) {
        self.flight.done.send_replace(Some(result));
    }
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        let mut flights = self
            .cache
            .inner
            .flights
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if flights
            .get(&self.key)
            .is_some_and(|f| Arc::ptr_eq(f, &self.flight))
        {
            flights.remove(&self.key);
        }
        drop(flights);
        // Wake followers of a leader that failed or was cancelled; a no-op after finish.
        self.flight.done.send_if_modified(|state| {
            if state.is_none() {
                *state = Some(None);
                true
            } else {
                false
            }
        });
    }
}
