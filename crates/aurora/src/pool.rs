//! The pool: writer (and optional reader) connections, retried reads, single writes,
//! failover eviction, health, stats and graceful shutdown.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_postgres::{
    Hook, HookError, Manager, ManagerConfig, Object, PoolError, RecyclingMethod, Runtime,
    TimeoutType,
};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};

use crate::auth::{
    BoxFuture, EnvCredentials, IamTokenPassword, PasswordError, PasswordSource, SecretFetcher,
    SecretPassword, SecretsManagerFetcher, SharedCredentialsProvider, StaticPassword,
};
use crate::config::{AuroraConfig, PasswordConfig};
use crate::connect::SourceConnect;
use crate::error::AuroraError;
use crate::retry::{self, Transience};
use crate::stats::{Counters, Health, PoolStatus, Stats};

/// A pooled connection, dereferencing to [`tokio_postgres::Client`] (with
/// `prepare_cached`).
pub type PooledClient = deadpool_postgres::Object;

/// Query parameters, as `tokio_postgres` takes them.
pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// What one of `query`, `query_one`, `query_opt` and `execute` does with its prepared
/// statement (boxed, so the pool's futures stay `Send` for every lifetime).
type StatementCall<T> = for<'a> fn(
    &'a tokio_postgres::Client,
    &'a Statement,
    Params<'a>,
) -> BoxFuture<'a, Result<T, tokio_postgres::Error>>;

/// Builds an [`AuroraPool`] with non-default password sources or AWS credentials.
#[derive(Debug)]
pub struct AuroraPoolBuilder {
    config: AuroraConfig,
    source: Option<Arc<dyn PasswordSource>>,
    secret_fetcher: Option<Arc<dyn SecretFetcher>>,
    credentials: Option<SharedCredentialsProvider>,
}

impl AuroraPoolBuilder {
    /// Uses `source` for the password of every new connection (on both pools), whatever
    /// `config.password` says.
    pub fn password_source(mut self, source: Arc<dyn PasswordSource>) -> Self {
        self.source = Some(source);
        self
    }

    /// Takes the password from the secret this fetcher returns (cached, fetched again after
    /// an authentication failure), whatever `config.password` says; replaces the built-in
    /// [`SecretsManagerFetcher`] (for example with one whose client comes from
    /// `aws-config`, see [`SecretsManagerFetcher::from_client`]).
    pub fn secret_fetcher(mut self, fetcher: Arc<dyn SecretFetcher>) -> Self {
        self.secret_fetcher = Some(fetcher);
        self
    }

    /// The AWS credentials that sign IAM tokens and Secrets Manager calls (default:
    /// [`EnvCredentials`], the variables the Lambda runtime sets). Pass `aws-config`'s
    /// `credentials_provider()` to use the SDK's default chain instead.
    pub fn credentials_provider(mut self, credentials: SharedCredentialsProvider) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Builds the pool without opening any connection (must run inside a Tokio runtime
    /// when connections are opened later).
    pub fn build(self) -> Result<AuroraPool, AuroraError> {
        let config = self.config;
        config.validate()?;
        let credentials = self
            .credentials
            .unwrap_or_else(|| SharedCredentialsProvider::new(EnvCredentials));
        let sources = if let Some(source) = self.source {
            PasswordSources::Shared(source)
        } else if let Some(fetcher) = self.secret_fetcher {
            PasswordSources::Shared(Arc::new(SecretPassword::new(fetcher)))
        } else {
            match &config.password {
                PasswordConfig::None => {
                    PasswordSources::Shared(Arc::new(StaticPassword::new(None)))
                }
                PasswordConfig::Static(password) => {
                    PasswordSources::Shared(Arc::new(StaticPassword::new(Some(password.clone()))))
                }
                PasswordConfig::SecretsManager { secret_id, region } => {
                    PasswordSources::Shared(Arc::new(SecretPassword::new(Arc::new(
                        SecretsManagerFetcher::with_env_endpoint(
                            secret_id.clone(),
                            region.clone(),
                            credentials.clone(),
                        )?,
                    ))))
                }
                PasswordConfig::IamToken { region } => PasswordSources::IamTokenPerHost {
                    region: region.clone(),
                    credentials,
                },
            }
        };
        let tls = crate::tls::connector(&config.tls)?;
        let counters = Arc::new(Counters::default());
        let password_error = Arc::new(Mutex::new(None));
        let evict_before = Arc::new(Mutex::new(None));
        let make_pool = |host: &str| {
            build_deadpool(
                &config,
                host,
                SourceConnect {
                    tls: tls.clone(),
                    source: sources.for_host(&config, host),
                    counters: Arc::clone(&counters),
                    password_error: Arc::clone(&password_error),
                },
                Arc::clone(&evict_before),
            )
        };
        let writer = make_pool(&config.host)?;
        let reader = match &config.reader_host {
            Some(host) => Some(make_pool(host)?),
            None => None,
        };
        Ok(AuroraPool {
            inner: Arc::new(Inner {
                writer,
                reader,
                config,
                counters,
                password_error,
                evict_before,
                closing: AtomicBool::new(false),
                in_flight: AtomicUsize::new(0),
                drained: tokio::sync::Notify::new(),
            }),
        })
    }

    /// Builds the pool and opens `min_size` connections on each pool, so the first
    /// requests after a cold start do not pay for connection set-up.
    pub async fn connect(self) -> Result<AuroraPool, AuroraError> {
        let pool = self.build()?;
        pool.warm_up().await?;
        Ok(pool)
    }
}

/// Where each pool's passwords come from.
enum PasswordSources {
    /// One source for both pools (a secret is the same for every endpoint).
    Shared(Arc<dyn PasswordSource>),
    /// IAM tokens, which each pool signs for its own endpoint: a token names the host it
    /// is valid for.
    IamTokenPerHost {
        region: String,
        credentials: SharedCredentialsProvider,
    },
}

impl PasswordSources {
    fn for_host(&self, config: &AuroraConfig, host: &str) -> Arc<dyn PasswordSource> {
        match self {
            Self::Shared(source) => Arc::clone(source),
            Self::IamTokenPerHost {
                region,
                credentials,
            } => Arc::new(IamTokenPassword::new(
                host,
                config.port,
                config.user.clone(),
                region.clone(),
                credentials.clone(),
            )),
        }
    }
}

fn build_deadpool(
    config: &AuroraConfig,
    host: &str,
    connect: SourceConnect,
    evict_before: Arc<Mutex<Option<Instant>>>,
) -> Result<deadpool_postgres::Pool, AuroraError> {
    let manager = Manager::from_connect(
        config.pg_config(host),
        connect,
        ManagerConfig {
            // Only checks that the connection task is alive: no extra round trip per
            // checkout. Broken connections that slip through are handled by the retries.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let max_lifetime = config.max_lifetime;
    deadpool_postgres::Pool::builder(manager)
        .max_size(config.max_size)
        .wait_timeout(Some(config.wait_timeout))
        .create_timeout(Some(config.create_timeout))
        .recycle_timeout(Some(config.recycle_timeout))
        .runtime(Runtime::Tokio1)
        .pre_recycle(Hook::sync_fn(move |_, metrics| {
            if max_lifetime.is_some_and(|max| metrics.age() > max) {
                return Err(HookError::message(
                    "connection reached its maximum lifetime",
                ));
            }
            let cutoff = evict_before.lock().ok().and_then(|guard| *guard);
            if cutoff.is_some_and(|cutoff| metrics.created < cutoff) {
                return Err(HookError::message("connection predates a failover"));
            }
            Ok(())
        }))
        .build()
        .map_err(AuroraError::PoolBuild)
}

/// A pooled PostgreSQL client. Cheap to clone (all clones share the pools).
///
/// - [`AuroraPool::query`], [`AuroraPool::query_one`], [`AuroraPool::query_opt`] and
///   [`AuroraPool::read`] are for statements without side effects: they run on the reader
///   pool when there is one and are retried on transient errors.
/// - [`AuroraPool::execute`] and [`AuroraPool::write`] run on the writer and are **not**
///   retried once a statement may have reached the server.
/// - [`AuroraPool::transaction`] retries the whole transaction.
#[derive(Debug, Clone)]
pub struct AuroraPool {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    writer: deadpool_postgres::Pool,
    reader: Option<deadpool_postgres::Pool>,
    pub(crate) config: AuroraConfig,
    pub(crate) counters: Arc<Counters>,
    password_error: Arc<Mutex<Option<PasswordError>>>,
    /// Writer connections created before this instant are discarded (failover).
    evict_before: Arc<Mutex<Option<Instant>>>,
    closing: AtomicBool,
    in_flight: AtomicUsize,
    drained: tokio::sync::Notify,
}

/// Counts a call in flight; the last one out wakes a waiting shutdown.
pub(crate) struct WorkGuard<'a> {
    inner: &'a Inner,
}

impl Drop for WorkGuard<'_> {
    fn drop(&mut self) {
        if self.inner.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.inner.drained.notify_waiters();
        }
    }
}

/// Which pool a call wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Writer,
    ReaderPreferred,
}

impl AuroraPool {
    /// A builder, for custom password sources or a Secrets Manager fetcher.
    pub fn builder(config: AuroraConfig) -> AuroraPoolBuilder {
        AuroraPoolBuilder {
            config,
            source: None,
            secret_fetcher: None,
            credentials: None,
        }
    }

    /// Builds the pool from `config` and opens `min_size` connections.
    pub async fn connect(config: AuroraConfig) -> Result<Self, AuroraError> {
        Self::builder(config).connect().await
    }

    /// The configuration the pool was built with.
    pub fn config(&self) -> &AuroraConfig {
        &self.inner.config
    }

    /// Opens connections until each pool holds at least `min_size`.
    pub async fn warm_up(&self) -> Result<(), AuroraError> {
        let min = self.inner.config.min_size;
        for target in [Target::Writer, Target::ReaderPreferred] {
            let pool = match target {
                Target::Writer => &self.inner.writer,
                Target::ReaderPreferred => match &self.inner.reader {
                    Some(reader) => reader,
                    None => continue,
                },
            };
            let missing = min.saturating_sub(pool.status().size);
            // Hold them all at once, or the pool would hand the same one back each time.
            let mut held = Vec::with_capacity(missing);
            for _ in 0..missing {
                held.push(self.checkout(pool).await?);
            }
        }
        Ok(())
    }

    pub(crate) fn begin_work(&self) -> Result<WorkGuard<'_>, AuroraError> {
        self.inner.in_flight.fetch_add(1, Ordering::AcqRel);
        let guard = WorkGuard { inner: &self.inner };
        if self.inner.closing.load(Ordering::Acquire) {
            return Err(AuroraError::ShutDown);
        }
        Ok(guard)
    }

    pub(crate) async fn get(&self, target: Target) -> Result<PooledClient, AuroraError> {
        match (target, &self.inner.reader) {
            (Target::ReaderPreferred, Some(reader)) => match self.checkout(reader).await {
                Ok(client) => Ok(client),
                Err(AuroraError::ShutDown) => Err(AuroraError::ShutDown),
                Err(error) => {
                    // The reader endpoint is down or saturated: the writer can serve reads.
                    tracing::warn!(%error, "reader pool unavailable; reading from the writer");
                    self.checkout(&self.inner.writer).await
                }
            },
            _ => self.checkout(&self.inner.writer).await,
        }
    }

    async fn checkout(&self, pool: &deadpool_postgres::Pool) -> Result<PooledClient, AuroraError> {
        match pool.get().await {
            Ok(client) => Ok(client),
            Err(PoolError::Timeout(TimeoutType::Wait)) => {
                Err(AuroraError::PoolTimeout(self.inner.config.wait_timeout))
            }
            Err(PoolError::Timeout(_)) => {
                Counters::bump(&self.inner.counters.errors);
                Err(AuroraError::PoolTimeout(self.inner.config.create_timeout))
            }
            Err(PoolError::Backend(error)) => {
                let parked = self
                    .inner
                    .password_error
                    .lock()
                    .ok()
                    .and_then(|mut slot| slot.take());
                Err(match parked {
                    Some(password_error) => AuroraError::Password(Box::new(password_error)),
                    None => AuroraError::Connect(error),
                })
            }
            Err(PoolError::Closed) => Err(AuroraError::ShutDown),
            Err(other) => Err(AuroraError::Pool(other)),
        }
    }

    /// Throws a connection away instead of returning it to the pool.
    pub(crate) fn discard(&self, client: PooledClient) {
        Counters::bump(&self.inner.counters.evicted);
        drop(Object::take(client));
    }

    /// After a failover every writer connection points at the demoted instance: drop the
    /// idle ones now, and the busy ones when they come back.
    pub(crate) fn evict_writer_connections(&self, client: PooledClient) {
        let now = Instant::now();
        if let Ok(mut cutoff) = self.inner.evict_before.lock() {
            *cutoff = Some(now);
        }
        let removed = self
            .inner
            .writer
            .retain(|_, metrics| metrics.created >= now);
        let count = u64::try_from(removed.removed.len()).unwrap_or(u64::MAX);
        self.inner
            .counters
            .evicted
            .fetch_add(count, Ordering::Relaxed);
        self.discard(client);
        tracing::warn!(
            idle_evicted = count,
            "writer is read-only (failover?): connections evicted"
        );
    }

    /// Handles a failed statement: decides whether the connection can be reused.
    pub(crate) fn after_error(&self, client: PooledClient, error: &AuroraError) -> Transience {
        Counters::bump(&self.inner.counters.errors);
        let transience = error
            .db_error()
            .map_or(Transience::Permanent, retry::classify);
        match transience {
            Transience::ReadOnly => self.evict_writer_connections(client),
            Transience::ConnectionLost => self.discard(client),
            Transience::Permanent | Transience::RolledBack => drop(client),
        }
        transience
    }

    /// Runs `read` with retries: for statements without side effects only. Runs on the
    /// reader pool when configured (falling back to the writer), and retries transient
    /// errors (connection loss, shutdown, serialization failure, deadlock, read-only) with
    /// exponential backoff and jitter.
    ///
    /// ```no_run
    /// # async fn demo(pool: &aurora::AuroraPool) -> Result<(), aurora::AuroraError> {
    /// let count: i64 = pool
    ///     .read(|client| Box::pin(async move {
    ///         Ok(client.query_one("SELECT count(*) FROM vendors", &[]).await?.get(0))
    ///     }))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn read<T, F>(&self, read: F) -> Result<T, AuroraError>
    where
        F: for<'c> Fn(&'c PooledClient) -> BoxFuture<'c, Result<T, AuroraError>> + Send + Sync,
        T: Send,
    {
        self.run_closure(Target::ReaderPreferred, read).await
    }

    /// A read returning all rows (retried; see [`AuroraPool::read`]).
    pub async fn query(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, AuroraError> {
        self.run_prepared(
            Target::ReaderPreferred,
            sql,
            params,
            |client, statement, params| Box::pin(client.query(statement, params)),
        )
        .await
    }

    /// A read returning exactly one row (retried; see [`AuroraPool::read`]).
    pub async fn query_one(&self, sql: &str, params: Params<'_>) -> Result<Row, AuroraError> {
        self.run_prepared(
            Target::ReaderPreferred,
            sql,
            params,
            |client, statement, params| Box::pin(client.query_one(statement, params)),
        )
        .await
    }

    /// A read returning zero or one row (retried; see [`AuroraPool::read`]).
    pub async fn query_opt(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Option<Row>, AuroraError> {
        self.run_prepared(
            Target::ReaderPreferred,
            sql,
            params,
            |client, statement, params| Box::pin(client.query_opt(statement, params)),
        )
        .await
    }

    /// Runs one statement on the writer and returns the number of rows affected.
    ///
    /// Never run twice: if the connection breaks after the statement was sent, the
    /// statement may have been applied, so the error is returned. The only repeat is after
    /// a `25006 read_only_sql_transaction` refusal (the server did not run it): the
    /// connections are evicted and the statement is sent once more on a fresh connection.
    pub async fn execute(&self, sql: &str, params: Params<'_>) -> Result<u64, AuroraError> {
        self.run_prepared(Target::Writer, sql, params, |client, statement, params| {
            Box::pin(client.execute(statement, params))
        })
        .await
    }

    /// Runs `write` on a writer connection, with the guarantees of
    /// [`AuroraPool::execute`]: failing to get a connection is retried (nothing was sent);
    /// a read-only refusal evicts the connections and runs `write` once more; anything
    /// else is returned as is. Use [`AuroraPool::transaction`] for several statements.
    pub async fn write<T, F>(&self, write: F) -> Result<T, AuroraError>
    where
        F: for<'c> Fn(&'c PooledClient) -> BoxFuture<'c, Result<T, AuroraError>> + Send + Sync,
        T: Send,
    {
        self.run_closure(Target::Writer, write).await
    }

    /// The retry loop of every call but transactions. `attempt_once` owns the connection
    /// for one attempt and hands it back, so that borrowed statements and parameters can
    /// be captured.
    ///
    /// Failing to get a connection is retried on both targets (nothing was sent). After a
    /// statement failed, a read is retried on any transient error; a write only once after
    /// a read-only refusal (the server ran nothing), never otherwise.
    async fn run_attempts<T, F, Fut>(
        &self,
        target: Target,
        attempt_once: F,
    ) -> Result<T, AuroraError>
    where
        F: Fn(PooledClient) -> Fut,
        Fut: Future<Output = (PooledClient, Result<T, AuroraError>)>,
    {
        let _work = self.begin_work()?;
        let policy = self.inner.config.retry;
        let mut attempt = 1;
        let mut refused_read_only = false;
        loop {
            let (error, transient) = match self.get(target).await {
                Ok(client) => match attempt_once(client).await {
                    (_, Ok(value)) => return Ok(value),
                    (client, Err(error)) => {
                        let transience = self.after_error(client, &error);
                        match target {
                            Target::ReaderPreferred => (error, transience != Transience::Permanent),
                            Target::Writer
                                if transience == Transience::ReadOnly && !refused_read_only =>
                            {
                                refused_read_only = true;
                                Counters::bump(&self.inner.counters.retries);
                                continue;
                            }
                            Target::Writer => {
                                return Err(match (transience, error) {
                                    (Transience::ReadOnly, AuroraError::Db(e)) => {
                                        AuroraError::ReadOnly(e)
                                    }
                                    (_, error) => error,
                                });
                            }
                        }
                    }
                },
                Err(error) => {
                    let transient = error.is_transient();
                    (error, transient)
                }
            };
            if !transient || attempt >= policy.max_attempts || self.is_closing() {
                return Err(error);
            }
            Counters::bump(&self.inner.counters.retries);
            tracing::debug!(%error, attempt, ?target, "retrying");
            tokio::time::sleep(retry::backoff(&policy, attempt - 1)).await;
            attempt += 1;
        }
    }

    /// [`AuroraPool::read`] and [`AuroraPool::write`]: the caller's closure, once per attempt.
    async fn run_closure<T, F>(&self, target: Target, run: F) -> Result<T, AuroraError>
    where
        F: for<'c> Fn(&'c PooledClient) -> BoxFuture<'c, Result<T, AuroraError>> + Send + Sync,
        T: Send,
    {
        let run = &run;
        self.run_attempts(target, |client| async move {
            let result = run(&client).await;
            (client, result)
        })
        .await
    }

    /// One statement, prepared through the connection's statement cache (once per
    /// connection) and run by `call`: a read retried like [`AuroraPool::read`] on the
    /// reader pool, or a write with the guarantees of [`AuroraPool::write`].
    async fn run_prepared<T>(
        &self,
        target: Target,
        sql: &str,
        params: Params<'_>,
        call: StatementCall<T>,
    ) -> Result<T, AuroraError> {
        let attempt_once = |client: PooledClient| async move {
            let result = match client.prepare_cached(sql).await {
                Ok(statement) => call(&client, &statement, params)
                    .await
                    .map_err(AuroraError::from),
                Err(error) => Err(AuroraError::from(error)),
            };
            (client, result)
        };
        self.run_attempts(target, attempt_once).await
    }

    /// One round trip on the writer: latency, writability and server version.
    pub async fn health(&self) -> Result<Health, AuroraError> {
        let _work = self.begin_work()?;
        let started = Instant::now();
        let client = self.get(Target::Writer).await?;
        let row = match client
            .query_one(
                "SELECT pg_is_in_recovery(), current_setting('transaction_read_only'), \
                 current_setting('server_version')",
                &[],
            )
            .await
        {
            Ok(row) => row,
            Err(error) => {
                let error = AuroraError::Db(error);
                self.after_error(client, &error);
                return Err(error);
            }
        };
        let round_trip = started.elapsed();
        let in_recovery: bool = row.try_get(0)?;
        let read_only: String = row.try_get(1)?;
        Ok(Health {
            round_trip,
            writable: !in_recovery && read_only == "off",
            server_version: row.try_get(2)?,
        })
    }

    /// Pool sizes and counters.
    pub fn stats(&self) -> Stats {
        let counters = &self.inner.counters;
        Stats {
            writer: PoolStatus::from(self.inner.writer.status()),
            reader: self
                .inner
                .reader
                .as_ref()
                .map(|r| PoolStatus::from(r.status())),
            created: counters.created.load(Ordering::Relaxed),
            errors: counters.errors.load(Ordering::Relaxed),
            evicted: counters.evicted.load(Ordering::Relaxed),
            retries: counters.retries.load(Ordering::Relaxed),
            in_flight: self.inner.in_flight.load(Ordering::Relaxed),
        }
    }

    /// Whether [`AuroraPool::shutdown`] was called.
    pub fn is_closing(&self) -> bool {
        self.inner.closing.load(Ordering::Acquire)
    }

    /// Refuses new work at once ([`AuroraError::ShutDown`]), waits up to `grace` for the
    /// calls in flight to finish, then closes every connection. Returns whether all calls
    /// finished in time. Safe to call more than once.
    pub async fn shutdown(&self, grace: Duration) -> bool {
        self.inner.closing.store(true, Ordering::Release);
        let deadline = tokio::time::Instant::now() + grace;
        let drained = loop {
            let notified = self.inner.drained.notified();
            if self.inner.in_flight.load(Ordering::Acquire) == 0 {
                break true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break self.inner.in_flight.load(Ordering::Acquire) == 0;
            }
        };
        self.inner.writer.close();
        if let Some(reader) = &self.inner.reader {
            reader.close();
        }
        drained
    }

    /// A writer connection for the caller's own use (for example migrations or a
    /// `COPY`). Not retried, not counted by shutdown's drain.
    pub async fn writer_connection(&self) -> Result<PooledClient, AuroraError> {
        if self.is_closing() {
            return Err(AuroraError::ShutDown);
        }
        self.get(Target::Writer).await
    }
}
