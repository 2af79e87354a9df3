//! One Redis client over standalone and cluster deployments, with per-command timeouts
//! and typed, serde-encoded operations.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, IntoConnectionInfo, Pipeline};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::Codec;
use crate::config::{CacheConfig, ConfigError, Mode};
use crate::error::{CacheError, RedisFailure};
use crate::geo::{GeoMatch, GeoPoint, GeoQuery, GeoUnit, parse_matches, value_to_f64};

/// When a `SET` may write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SetCondition {
    /// Always write.
    #[default]
    Always,
    /// `NX`: only if the key does not exist.
    IfAbsent,
    /// `XX`: only if the key already exists.
    IfExists,
}

#[derive(Clone)]
enum Conn {
    Standalone(ConnectionManager),
    Cluster(ClusterConnection),
    /// A cluster whose slot map could not be read yet ([`RedisClient::connect_lazy`]):
    /// commands fail at once and start another attempt in the background.
    ClusterPending,
}

/// Longest wait for a [`crate::PasswordSource`] during one re-read, so that a hung secret
/// store cannot keep the next re-read from ever starting.
const PASSWORD_FETCH_TIMEOUT: Duration = Duration::from_secs(10);

struct Inner {
    /// Replaced as a whole when a new password arrives; commands clone it (cheap handles).
    conn: RwLock<Conn>,
    cluster: bool,
    command_timeout: Duration,
    codec: Codec,
    /// What a reconnection is built from.
    cfg: CacheConfig,
    /// The password of the current `conn`.
    password: Mutex<Option<String>>,
    /// Re-reads of the password source.
    password_reads: Throttle,
    /// Attempts to read a pending cluster's slot map.
    cluster_attempts: Throttle,
}

/// One background job at a time, started at most once per interval.
struct Throttle {
    last: Mutex<Option<Instant>>,
    running: AtomicBool,
}

impl Throttle {
    fn new(last: Option<Instant>) -> Self {
        Self {
            last: Mutex::new(last),
            running: AtomicBool::new(false),
        }
    }

    /// Whether a job may start now (none ran within `interval`, none is running); if so
    /// it counts as started, and [`Throttle::finish`] must follow.
    fn try_start(&self, interval: Duration) -> bool {
        let mut last = lock(&self.last);
        if last.is_some_and(|at| at.elapsed() < interval) {
            return false;
        }
        if self.running.swap(true, Ordering::AcqRel) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }

    fn finish(&self) {
        self.running.store(false, Ordering::Release);
    }
}

/// A cheap-to-clone handle to Redis (standalone or cluster), reconnecting on its own.
///
/// Every call is bounded by the configured command timeout and fails with a
/// [`CacheError`]; a missing key is `Ok(None)`. With a [`crate::PasswordSource`], a
/// refused password makes the client re-read it and reconnect (see
/// [`CacheConfig::password_source`]).
#[derive(Clone)]
pub struct RedisClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = if self.inner.cluster && self.is_pending() {
            "cluster (slot map not read yet)"
        } else if self.inner.cluster {
            "cluster"
        } else {
            "standalone"
        };
        f.debug_struct("RedisClient")
            .field("mode", &mode)
            .field("command_timeout", &self.inner.command_timeout)
            .finish()
    }
}

fn install_crypto_provider() {
    // rustls panics at the first TLS handshake when it cannot pick a provider (both ring
    // and aws-lc-rs may be compiled in through other crates); an already installed one is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn connection_info(
    url: &str,
    cfg: &CacheConfig,
    password: Option<&str>,
) -> Result<redis::ConnectionInfo, CacheError> {
    let info = url
        .into_connection_info()
        .map_err(|e| ConfigError::new("REDIS_URL", format!("{url:?}: {e}")))?;
    let mut settings = info.redis_settings().clone();
    if let Some(user) = &cfg.username {
        settings = settings.set_username(user);
    }
    if let Some(pw) = password {
        settings = settings.set_password(pw);
    }
    Ok(info.set_redis_settings(settings))
}

fn tls_certs(cfg: &CacheConfig) -> Result<Option<redis::TlsCertificates>, CacheError> {
    let Some(path) = &cfg.tls_ca_file else {
        return Ok(None);
    };
    let pem = std::fs::read(path)
        .map_err(|e| ConfigError::new("REDIS_TLS_CA_FILE", format!("{}: {e}", path.display())))?;
    Ok(Some(redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(pem),
    }))
}

/// Whether Redis refused the credentials: `WRONGPASS`/`NOAUTH` on a command, a failed
/// AUTH while connecting, or Redis 5's `ERR invalid password`.
fn is_auth_failure(error: &redis::RedisError) -> bool {
    matches!(error.code(), Some("NOAUTH" | "WRONGPASS"))
        || error.kind() == redis::ErrorKind::AuthenticationFailed
        || error.to_string().contains("invalid password")
}

/// The redis crate's credentials provider over a [`crate::PasswordSource`] that renews
/// ([`crate::PasswordSource::renew_every`]): each connection the crate opens (a
/// reconnection, a cluster node) subscribes, authenticates with the first item, and the
/// crate's per-connection task sends `AUTH` again with each later one, every `every`
/// (that task, and so the subscription, ends when its connection is dead).
#[derive(Clone)]
struct FreshCredentials {
    source: Arc<dyn crate::PasswordSource>,
    username: String,
    every: Duration,
}

impl FreshCredentials {
    fn for_config(cfg: &CacheConfig) -> Option<Self> {
        let source = cfg.password_source.clone()?;
        let every = source.renew_every()?;
        Some(Self {
            source,
            username: cfg.username.clone().unwrap_or_else(|| "default".to_owned()),
            every,
        })
    }

    async fn next(&self) -> redis::RedisResult<redis::BasicAuth> {
        let failed = |detail: String| {
            redis::RedisError::from((
                redis::ErrorKind::AuthenticationFailed,
                "no fresh password for redis",
                detail,
            ))
        };
        match tokio::time::timeout(PASSWORD_FETCH_TIMEOUT, self.source.fresh()).await {
            Ok(Ok(Some(password))) => Ok(redis::BasicAuth::new(self.username.clone(), password)),
            Ok(Ok(None)) => Err(failed("the password source has none".to_owned())),
            Ok(Err(error)) => Err(failed(error.to_string())),
            Err(_) => Err(failed(format!(
                "the password source did not answer within {PASSWORD_FETCH_TIMEOUT:?}"
            ))),
        }
    }
}

impl redis::StreamingCredentialsProvider for FreshCredentials {
    fn subscribe(
        &self,
    ) -> std::pin::Pin<
        Box<dyn futures::Stream<Item = redis::RedisResult<redis::BasicAuth>> + Send + 'static>,
    > {
        let this = self.clone();
        Box::pin(futures::stream::unfold(true, move |first| {
            let this = this.clone();
            async move {
                if !first {
                    tokio::time::sleep(this.every).await;
                }
                Some((this.next().await, false))
            }
        }))
    }
}

/// Opens a connection as `cfg` says, authenticating with `password` (or, for a source
/// that renews, with what [`FreshCredentials`] gives each connection).
async fn open(cfg: &CacheConfig, password: Option<&str>) -> Result<Conn, CacheError> {
    let first = cfg
        .urls
        .first()
        .ok_or_else(|| ConfigError::new("REDIS_URL", "no URL given"))?;
    let certs = tls_certs(cfg)?;
    Ok(match cfg.mode {
        Mode::Standalone => {
            let info = connection_info(first, cfg, password)?;
            let client = match certs {
                Some(certs) => redis::Client::build_with_tls(info, certs),
                None => redis::Client::open(info),
            }
            .map_err(|e| ConfigError::new("REDIS_URL", e.to_string()))?;
            let mut manager_cfg = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(cfg.connect_timeout))
                .set_response_timeout(Some(cfg.command_timeout))
                .set_number_of_retries(2)
                .set_max_delay(Duration::from_millis(500));
            if let Some(credentials) = FreshCredentials::for_config(cfg) {
                manager_cfg = manager_cfg.set_credentials_provider(credentials);
            }
            let manager = ConnectionManager::new_lazy_with_config(client, manager_cfg)
                .map_err(CacheError::from)?;
            Conn::Standalone(manager)
        }
        Mode::Cluster => {
            let infos = cfg
                .urls
                .iter()
                .map(|u| connection_info(u, cfg, password))
                .collect::<Result<Vec<_>, _>>()?;
            let tls = first.starts_with("rediss://");
            let mut builder = redis::cluster::ClusterClientBuilder::new(infos)
                .connection_timeout(cfg.connect_timeout)
                .response_timeout(cfg.command_timeout)
                .retries(cfg.cluster_retries)
                .min_retry_wait(2)
                .max_retry_wait(50);
            if tls {
                builder = builder.tls(redis::TlsMode::Secure);
            }
            if let Some(certs) = certs {
                builder = builder.certs(certs);
            }
            if let Some(user) = &cfg.username {
                builder = builder.username(user);
            }
            if let Some(pw) = password {
                builder = builder.password(pw);
            }
            if let Some(credentials) = FreshCredentials::for_config(cfg) {
                builder = builder.set_credentials_provider(credentials);
            }
            let client = builder
                .build()
                .map_err(|e| ConfigError::new("REDIS_URL", e.to_string()))?;
            let conn = tokio::time::timeout(cfg.connect_timeout * 2, client.get_async_connection())
                .await
                .map_err(|_| CacheError::Timeout(cfg.connect_timeout * 2))??;
            Conn::Cluster(conn)
        }
    })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded values are plain data that a panicking holder cannot leave half-written.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RedisClient {
    /// Connects according to `cfg`.
    ///
    /// Standalone connections are lazy: this succeeds while Redis is down and the first
    /// commands fail (and are retried by reconnection) until it is back, so a Lambda can
    /// start and serve from its database. Cluster mode reads the slot map here and fails
    /// if no seed node answers within the connect timeout.
    pub async fn connect(cfg: &CacheConfig) -> Result<Self, CacheError> {
        install_crypto_provider();
        let conn = open(cfg, cfg.password.as_deref()).await?;
        Ok(Self::with_conn(cfg, conn, None))
    }

    /// Like [`RedisClient::connect`], but a cluster whose slot map cannot be read (no
    /// seed answers within the connect timeout) is not an error: the client starts
    /// without a connection, every command fails at once with
    /// [`CacheError::Connection`] (a cache-aside read answers `BYPASS`) and starts one
    /// more attempt in the background, at most once per
    /// [`CacheConfig::cluster_connect_retry`]; the commands after a successful attempt
    /// use the cluster. No command waits for an attempt. Only a configuration that no
    /// client can be built from is an error. Standalone clients are lazy anyway.
    pub async fn connect_lazy(cfg: &CacheConfig) -> Result<Self, CacheError> {
        install_crypto_provider();
        match open(cfg, cfg.password.as_deref()).await {
            Ok(conn) => Ok(Self::with_conn(cfg, conn, None)),
            Err(CacheError::Config(e)) => Err(CacheError::Config(e)),
            Err(error) if cfg.mode == Mode::Cluster => {
                tracing::warn!(%error, retry_every = ?cfg.cluster_connect_retry, "redis cluster slot map not readable; commands fail (BYPASS) until a background attempt reads it");
                Ok(Self::with_conn(
                    cfg,
                    Conn::ClusterPending,
                    Some(Instant::now()),
                ))
            }
            Err(error) => Err(error),
        }
    }

    fn with_conn(cfg: &CacheConfig, conn: Conn, last_cluster_attempt: Option<Instant>) -> Self {
        Self {
            inner: Arc::new(Inner {
                cluster: cfg.mode == Mode::Cluster,
                conn: RwLock::new(conn),
                command_timeout: cfg.command_timeout,
                codec: cfg.codec,
                password: Mutex::new(cfg.password.clone()),
                cfg: cfg.clone(),
                password_reads: Throttle::new(None),
                cluster_attempts: Throttle::new(last_cluster_attempt),
            }),
        }
    }

    fn current(&self) -> Conn {
        self.inner
            .conn
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The connection for one command; while a cluster's slot map is unread, an error at
    /// once and (unless one ran within the retry interval or is running) one more
    /// attempt in the background.
    fn conn(&self) -> Result<Conn, CacheError> {
        match self.current() {
            Conn::ClusterPending => {
                self.attempt_cluster_connection();
                Err(CacheError::Connection(RedisFailure::from(
                    "redis cluster slot map not read yet (retrying in the background)".to_owned(),
                )))
            }
            conn => Ok(conn),
        }
    }

    /// Whether this is a cluster client still waiting for its first slot map
    /// ([`RedisClient::connect_lazy`]).
    pub fn is_pending(&self) -> bool {
        matches!(self.current(), Conn::ClusterPending)
    }

    fn attempt_cluster_connection(&self) {
        if !self
            .inner
            .cluster_attempts
            .try_start(self.inner.cfg.cluster_connect_retry)
        {
            return;
        }
        let inner = Arc::clone(&self.inner);
        tokio::spawn(async move {
            let password = lock(&inner.password).clone();
            match open(&inner.cfg, password.as_deref()).await {
                Ok(conn) => {
                    let mut current = inner.conn.write().unwrap_or_else(PoisonError::into_inner);
                    // A new password's reconnection may have got there first.
                    if matches!(*current, Conn::ClusterPending) {
                        *current = conn;
                        tracing::info!("redis cluster slot map read; the cache is in use again");
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, retry_after = ?inner.cfg.cluster_connect_retry, "redis cluster still not reachable");
                }
            }
            inner.cluster_attempts.finish();
        });
    }

    /// Redis refused the password: re-read it from the source in the background and
    /// reconnect with it, unless a re-read ran within the retry interval or is running.
    fn password_refused(&self) {
        let Some(source) = self.inner.cfg.password_source.clone() else {
            return;
        };
        if !self
            .inner
            .password_reads
            .try_start(self.inner.cfg.password_retry_interval)
        {
            return;
        }
        let inner = Arc::clone(&self.inner);
        tokio::spawn(async move {
            reconnect_with_new_password(&inner, source.as_ref()).await;
            inner.password_reads.finish();
        });
    }

    /// The codec values are stored with.
    pub fn codec(&self) -> Codec {
        self.inner.codec
    }

    /// Whether this client talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.inner.cluster
    }

    async fn bounded<T, F>(&self, fut: F) -> Result<T, CacheError>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let timeout = self.inner.command_timeout;
        match tokio::time::timeout(timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err({
                if is_auth_failure(&e) {
                    self.password_refused();
                }
                match CacheError::from(e) {
                    CacheError::Timeout(_) => CacheError::Timeout(timeout),
                    other => other,
                }
            }),
            Err(_) => Err(CacheError::Timeout(timeout)),
        }
    }

    /// Runs any command (escape hatch for what the typed methods do not cover).
    pub async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, CacheError> {
        match self.conn()? {
            Conn::Standalone(mut c) => self.bounded(cmd.query_async(&mut c)).await,
            Conn::Cluster(mut c) => self.bounded(cmd.query_async(&mut c)).await,
            Conn::ClusterPending => unreachable!("conn() answers an error instead"),
        }
    }

    /// Runs a pipeline in one round trip. In cluster mode every key in it must hash to
    /// the same slot (use a hash tag).
    pub async fn query_pipeline<T: FromRedisValue>(
        &self,
        pipe: &Pipeline,
    ) -> Result<T, CacheError> {
        match self.conn()? {
            Conn::Standalone(mut c) => self.bounded(pipe.query_async(&mut c)).await,
            Conn::Cluster(mut c) => self.bounded(pipe.query_async(&mut c)).await,
            Conn::ClusterPending => unreachable!("conn() answers an error instead"),
        }
    }

    /// Runs a Lua script (EVALSHA, loading it on NOSCRIPT). In cluster mode the script's
    /// first key routes it, and every key it touches must share that key's slot.
    pub async fn invoke<T: FromRedisValue>(
        &self,
        inv: &redis::ScriptInvocation<'_>,
    ) -> Result<T, CacheError> {
        match self.conn()? {
            Conn::Standalone(c) => self.bounded(invoke_on(inv, c)).await,
            Conn::Cluster(c) => self.bounded(invoke_on(inv, c)).await,
            Conn::ClusterPending => unreachable!("conn() answers an error instead"),
        }
    }

    fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, CacheError> {
        self.inner.codec.encode(value)
    }

    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, CacheError> {
        self.inner.codec.decode(bytes)
    }

    /// `GET` returning the raw bytes.
    pub async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        self.query(redis::cmd("GET").arg(key)).await
    }

    /// `GET` and decode.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, CacheError> {
        match self.get_bytes(key).await? {
            Some(bytes) => self.decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// `SET` raw bytes with an optional TTL and condition; returns whether it was written.
    pub async fn set_bytes(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        condition: SetCondition,
    ) -> Result<bool, CacheError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value);
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(ttl_millis(ttl));
        }
        match condition {
            SetCondition::Always => {}
            SetCondition::IfAbsent => {
                cmd.arg("NX");
            }
            SetCondition::IfExists => {
                cmd.arg("XX");
            }
        }
        let reply: Option<String> = self.query(&cmd).await?;
        Ok(reply.is_some())
    }

    /// Encodes and `SET`s a value; returns whether it was written (NX/XX may refuse).
    pub async fn set<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        ttl: Option<Duration>,
        condition: SetCondition,
    ) -> Result<bool, CacheError> {
        let bytes = self.encode(value)?;
        self.set_bytes(key, &bytes, ttl, condition).await
    }

    /// One `MGET`; the result is in the order of `keys`, `None` for missing keys.
    /// In cluster mode the client splits it per slot.
    pub async fn mget<T: DeserializeOwned>(
        &self,
        keys: &[impl AsRef<str>],
    ) -> Result<Vec<Option<T>>, CacheError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = redis::cmd("MGET");
        for k in keys {
            cmd.arg(k.as_ref());
        }
        let raw: Vec<Option<Vec<u8>>> = self.query(&cmd).await?;
        raw.into_iter()
            .map(|v| v.map(|b| self.decode(&b)).transpose())
            .collect()
    }

    /// Sets many keys, each with its own TTL, in one pipeline (one per slot in cluster
    /// mode, sent concurrently).
    pub async fn mset_with_ttl<T: Serialize>(
        &self,
        entries: &[(impl AsRef<str>, T, Duration)],
    ) -> Result<(), CacheError> {
        let mut by_slot: BTreeMap<u16, Pipeline> = BTreeMap::new();
        for (key, value, ttl) in entries {
            let key = key.as_ref();
            let slot = if self.is_cluster() { key_slot(key) } else { 0 };
            by_slot
                .entry(slot)
                .or_default()
                .cmd("SET")
                .arg(key)
                .arg(self.encode(value)?)
                .arg("PX")
                .arg(ttl_millis(*ttl))
                .ignore();
        }
        let results =
            futures::future::join_all(by_slot.values().map(|p| self.query_pipeline::<()>(p))).await;
        results.into_iter().collect()
    }

    /// `DEL` (split per slot in cluster mode); returns how many keys existed.
    pub async fn del(&self, keys: &[impl AsRef<str>]) -> Result<u64, CacheError> {
        if keys.is_empty() {
            return Ok(0);
        }
        let mut cmd = redis::cmd("DEL");
        for k in keys {
            cmd.arg(k.as_ref());
        }
        self.query(&cmd).await
    }

    /// `EXISTS` for one key.
    pub async fn exists(&self, key: &str) -> Result<bool, CacheError> {
        let n: u64 = self.query(redis::cmd("EXISTS").arg(key)).await?;
        Ok(n > 0)
    }

    /// `PEXPIRE`; returns false when the key does not exist.
    pub async fn expire(&self, key: &str, ttl: Duration) -> Result<bool, CacheError> {
        let n: u64 = self
            .query(redis::cmd("PEXPIRE").arg(key).arg(ttl_millis(ttl)))
            .await?;
        Ok(n > 0)
    }

    /// Remaining TTL, `None` when the key is missing or has no TTL.
    pub async fn ttl(&self, key: &str) -> Result<Option<Duration>, CacheError> {
        let ms: i64 = self.query(redis::cmd("PTTL").arg(key)).await?;
        Ok(u64::try_from(ms).ok().map(Duration::from_millis))
    }

    /// `INCRBY`; returns the new value.
    pub async fn incr(&self, key: &str, by: i64) -> Result<i64, CacheError> {
        self.query(redis::cmd("INCRBY").arg(key).arg(by)).await
    }

    /// `DECRBY`; returns the new value.
    pub async fn decr(&self, key: &str, by: i64) -> Result<i64, CacheError> {
        self.query(redis::cmd("DECRBY").arg(key).arg(by)).await
    }

    /// `HSET` one encoded field; returns whether the field is new.
    pub async fn hset<T: Serialize + ?Sized>(
        &self,
        key: &str,
        field: &str,
        value: &T,
    ) -> Result<bool, CacheError> {
        let bytes = self.encode(value)?;
        let n: u64 = self
            .query(redis::cmd("HSET").arg(key).arg(field).arg(bytes))
            .await?;
        Ok(n > 0)
    }

    /// `HGET` and decode.
    pub async fn hget<T: DeserializeOwned>(
        &self,
        key: &str,
        field: &str,
    ) -> Result<Option<T>, CacheError> {
        let raw: Option<Vec<u8>> = self.query(redis::cmd("HGET").arg(key).arg(field)).await?;
        raw.map(|b| self.decode(&b)).transpose()
    }

    /// `HDEL`; returns how many fields were removed.
    pub async fn hdel(&self, key: &str, fields: &[impl AsRef<str>]) -> Result<u64, CacheError> {
        if fields.is_empty() {
            return Ok(0);
        }
        let mut cmd = redis::cmd("HDEL");
        cmd.arg(key);
        for f in fields {
            cmd.arg(f.as_ref());
        }
        self.query(&cmd).await
    }

    /// `HGETALL` with every field decoded; an empty map when the key is missing.
    pub async fn hgetall<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<HashMap<String, T>, CacheError> {
        let raw: HashMap<String, Vec<u8>> = self.query(redis::cmd("HGETALL").arg(key)).await?;
        raw.into_iter()
            .map(|(k, v)| self.decode(&v).map(|v| (k, v)))
            .collect()
    }

    /// `GEOADD`; returns how many members were new.
    pub async fn geo_add(
        &self,
        key: &str,
        members: &[(impl AsRef<str>, GeoPoint)],
    ) -> Result<u64, CacheError> {
        if members.is_empty() {
            return Ok(0);
        }
        let mut cmd = redis::cmd("GEOADD");
        cmd.arg(key);
        for (m, p) in members {
            p.validate()?;
            cmd.arg(p.lon).arg(p.lat).arg(m.as_ref());
        }
        self.query(&cmd).await
    }

    /// Removes members from a geo set (`ZREM`); returns how many were there.
    pub async fn geo_remove(
        &self,
        key: &str,
        members: &[impl AsRef<str>],
    ) -> Result<u64, CacheError> {
        if members.is_empty() {
            return Ok(0);
        }
        let mut cmd = redis::cmd("ZREM");
        cmd.arg(key);
        for m in members {
            cmd.arg(m.as_ref());
        }
        self.query(&cmd).await
    }

    /// `GEOPOS`, in the order of `members`.
    pub async fn geo_pos(
        &self,
        key: &str,
        members: &[impl AsRef<str>],
    ) -> Result<Vec<Option<GeoPoint>>, CacheError> {
        let mut cmd = redis::cmd("GEOPOS");
        cmd.arg(key);
        for m in members {
            cmd.arg(m.as_ref());
        }
        let reply: redis::Value = self.query(&cmd).await?;
        let redis::Value::Array(items) = reply else {
            return Err(CacheError::Command("unexpected GEOPOS reply".into()));
        };
        Ok(items
            .iter()
            .map(|item| match item {
                redis::Value::Array(ll) if ll.len() == 2 => {
                    match (value_to_f64(&ll[0]), value_to_f64(&ll[1])) {
                        (Some(lon), Some(lat)) => Some(GeoPoint { lat, lon }),
                        _ => None,
                    }
                }
                _ => None,
            })
            .collect())
    }

    /// `GEODIST`; `None` when either member is missing.
    pub async fn geo_dist(
        &self,
        key: &str,
        a: &str,
        b: &str,
        unit: GeoUnit,
    ) -> Result<Option<f64>, CacheError> {
        let reply: Option<String> = self
            .query(
                redis::cmd("GEODIST")
                    .arg(key)
                    .arg(a)
                    .arg(b)
                    .arg(unit.as_redis()),
            )
            .await?;
        match reply {
            None => Ok(None),
            Some(s) => s
                .parse()
                .map(Some)
                .map_err(|_| CacheError::Command(format!("GEODIST returned {s:?}").into())),
        }
    }

    /// `GEOSEARCH ... ASC [COUNT] WITHDIST WITHCOORD`, nearest first.
    pub async fn geo_search(
        &self,
        key: &str,
        query: &GeoQuery,
    ) -> Result<Vec<GeoMatch>, CacheError> {
        query.center.validate()?;
        let reply: redis::Value = self.query(&query.as_cmd(key)).await?;
        parse_matches(&reply)
    }
}

/// One re-read of the password and, when it changed, a new connection that replaces the
/// old one. Failures are logged and wait for the next refusal after the retry interval.
async fn reconnect_with_new_password(inner: &Inner, source: &dyn crate::PasswordSource) {
    let password = match tokio::time::timeout(PASSWORD_FETCH_TIMEOUT, source.current()).await {
        Ok(Ok(password)) => password,
        Ok(Err(error)) => {
            tracing::warn!(%error, retry_after = ?inner.cfg.password_retry_interval, "redis refused the password and a new one could not be read");
            return;
        }
        Err(_) => {
            tracing::warn!(timeout = ?PASSWORD_FETCH_TIMEOUT, "redis refused the password and its source did not answer");
            return;
        }
    };
    if *lock(&inner.password) == password {
        tracing::warn!(retry_after = ?inner.cfg.password_retry_interval, "redis refused the password and its source still holds the same one");
        return;
    }
    match open(&inner.cfg, password.as_deref()).await {
        Ok(conn) => {
            *inner.conn.write().unwrap_or_else(PoisonError::into_inner) = conn;
            *lock(&inner.password) = password;
            tracing::info!("redis password changed; reconnected with the new one");
        }
        Err(error) => {
            tracing::warn!(%error, "redis password changed but the new connection failed");
        }
    }
}

async fn invoke_on<T: FromRedisValue, C: ConnectionLike + Send>(
    inv: &redis::ScriptInvocation<'_>,
    mut conn: C,
) -> redis::RedisResult<T> {
    inv.invoke_async(&mut conn).await
}

/// A TTL in whole milliseconds for `PX`, at least 1 (Redis refuses 0).
pub fn ttl_millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// The cluster slot of a key (CRC16/XMODEM of the hash tag or the whole key, mod 16384).
pub fn key_slot(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let tagged = bytes.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &bytes[open + 1..];
        rest.iter()
            .position(|&b| b == b'}')
            .filter(|&close| close > 0)
            .map(|close| &rest[..close])
    });
    crc16_xmodem(tagged.unwrap_or(bytes)) % 16384
}

fn crc16_xmodem(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis() {
        // Values from `CLUSTER KEYSLOT` on redis-server 7.0.
        assert_eq!(key_slot("foo"), 12182);
        assert_eq!(key_slot("{user1000}.following"), key_slot("user1000"));
        assert_eq!(key_slot("a{}b"), crc16_xmodem(b"a{}b") % 16384);
    }
}
