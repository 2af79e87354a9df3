//! Connection and cache-behaviour settings: a plain struct with defaults, or the environment.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::codec::Codec;

/// Standalone Redis or Redis Cluster (ElastiCache cluster mode enabled).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// One primary (ElastiCache cluster mode disabled, or a local server).
    #[default]
    Standalone,
    /// Redis Cluster: keys are spread over 16384 slots; redirections are followed.
    Cluster,
}

/// A configuration value that could not be used, naming the variable it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {variable}: {message}")]
pub struct ConfigError {
    /// The environment variable (or struct field) at fault, e.g. `REDIS_URL`.
    pub variable: String,
    /// Why it was rejected.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(variable: &str, message: impl Into<String>) -> Self {
        Self {
            variable: variable.to_owned(),
            message: message.into(),
        }
    }
}

/// A boxed, sendable future (the object-safe return type of [`PasswordSource`]).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An error of any type, from a [`PasswordSource`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Where the AUTH password comes from when it may change while the process runs (a
/// rotated secret, or one that could not be read at start).
///
/// The client asks only after Redis refused the password in use (`WRONGPASS`, `NOAUTH`,
/// `invalid password`, a failed AUTH at connect), at most once per
/// [`CacheConfig::password_retry_interval`], in the background: the command that met the
/// refusal fails at once (a cache-aside read answers `BYPASS`) and the next ones use the
/// new connection. The source must return the *current* password, not a cached copy of
/// the refused one.
pub trait PasswordSource: Send + Sync + fmt::Debug {
    /// The password to use from now on (`None`: the URL's, or none).
    fn current(&self) -> BoxFuture<'_, Result<Option<String>, BoxError>>;

    /// For a source whose passwords expire (ElastiCache IAM tokens are accepted for 15
    /// minutes after signing): how often a password must be renewed. `Some(interval)`:
    /// every connection the client opens, its own reconnections and each cluster node's
    /// included, takes its password from [`PasswordSource::fresh`] rather than reusing
    /// the one in use, and every open connection authenticates again with a fresh one
    /// each `interval` (as the first connection's `AUTH` did; a dead connection's renewal
    /// ends with it). Needs [`CacheConfig::username`] (else `default`). `None` (the
    /// default): the password in use is kept, and re-read only after a refusal.
    fn renew_every(&self) -> Option<std::time::Duration> {
        None
    }

    /// A password for a connection about to authenticate: one that stays valid for at
    /// least the rest of a [`PasswordSource::renew_every`] interval, which may be the one
    /// handed out last. The default asks [`PasswordSource::current`].
    fn fresh(&self) -> BoxFuture<'_, Result<Option<String>, BoxError>> {
        self.current()
    }
}

/// Everything the cache needs to connect and to behave.
///
/// `Default` is a local standalone server with production-like timeouts;
/// [`CacheConfig::from_env`] reads the Lambda environment.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// `redis://` or `rediss://` (TLS) URLs. One for standalone; one or more seed nodes
    /// for cluster mode. User and password may be in the URL (`rediss://user:pw@host:port`).
    pub urls: Vec<String>,
    /// Standalone or cluster.
    pub mode: Mode,
    /// ACL user name; overrides the URL's.
    pub username: Option<String>,
    /// AUTH password or ElastiCache auth token; overrides the URL's. With a
    /// [`CacheConfig::password_source`] this is the first one tried.
    pub password: Option<String>,
    /// Consulted for a new password after Redis refused the one in use (rotation); `None`:
    /// the password is fixed.
    pub password_source: Option<Arc<dyn PasswordSource>>,
    /// The shortest time between two consultations of the password source, so that a
    /// refused password does not turn every request into a secret-store call.
    pub password_retry_interval: Duration,
    /// PEM file of a CA to trust for `rediss://` besides the system roots (self-signed
    /// test servers). ElastiCache certificates chain to public roots and need none.
    pub tls_ca_file: Option<PathBuf>,
    /// Time allowed to open a connection (TCP + TLS + AUTH).
    pub connect_timeout: Duration,
    /// Time allowed for one command or pipeline round trip before it counts as a failure.
    pub command_timeout: Duration,
    /// Prefix of every key, so several services or stages can share one cluster.
    pub key_prefix: String,
    /// Serialization of cached values.
    pub codec: Codec,
    /// Consecutive failures that open the circuit breaker.
    pub breaker_failure_threshold: u32,
    /// How long an open breaker skips Redis before it lets one probe through.
    pub breaker_cool_off: Duration,
    /// TTL of a cached "not found".
    pub negative_ttl: Duration,
    /// Random spread added to TTLs, as a fraction of the TTL (0.1 = up to +10%), so keys
    /// written together do not expire together.
    pub ttl_jitter: f64,
    /// How long a process trusts its copy of a key family's generation before re-reading
    /// it; the longest time another process may still serve a family after invalidation.
    pub generation_refresh: Duration,
    /// How many times a cluster command is retried across redirections.
    pub cluster_retries: u32,
    /// The shortest time between two attempts to read the slot map of a cluster that
    /// could not be reached at start ([`crate::RedisClient::connect_lazy`]).
    pub cluster_connect_retry: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            urls: vec!["redis://127.0.0.1:6379".to_owned()],
            mode: Mode::Standalone,
            username: None,
            password: None,
            password_source: None,
            password_retry_interval: Duration::from_secs(5),
            tls_ca_file: None,
            connect_timeout: Duration::from_millis(1000),
            command_timeout: Duration::from_millis(25),
            key_prefix: "rc".to_owned(),
            codec: Codec::Json,
            breaker_failure_threshold: 5,
            breaker_cool_off: Duration::from_secs(5),
            negative_ttl: Duration::from_secs(30),
            ttl_jitter: 0.1,
            generation_refresh: Duration::from_secs(1),
            cluster_retries: 3,
            cluster_connect_retry: Duration::from_secs(1),
        }
    }
}

impl CacheConfig {
    /// A default configuration pointed at one URL.
    pub fn with_url(url: impl Into<String>) -> Self {
        Self {
            urls: vec![url.into()],
            ..Self::default()
        }
    }

    /// Reads the configuration from the process environment.
    ///
    /// | variable | meaning | default |
    /// |---|---|---|
    /// | `REDIS_URL` | URL, or comma-separated seed URLs in cluster mode (required) | |
    /// | `REDIS_MODE` | `standalone` or `cluster` | `standalone` |
    /// | `REDIS_USERNAME` / `REDIS_PASSWORD` | ACL user / AUTH token | from the URL |
    /// | `REDIS_AUTH_RETRY_MS` | least time between two reads of the password source | 5000 |
    /// | `REDIS_TLS_CA_FILE` | extra CA (PEM) for `rediss://` | |
    /// | `REDIS_CONNECT_TIMEOUT_MS` / `REDIS_COMMAND_TIMEOUT_MS` | timeouts | 1000 / 25 |
    /// | `REDIS_CLUSTER_CONNECT_RETRY_MS` | least time between two attempts to read an unreachable cluster's slot map | 1000 |
    /// | `REDIS_KEY_PREFIX` | key prefix | `rc` |
    /// | `CACHE_CODEC` | `json` or `msgpack` | `json` |
    /// | `CACHE_BREAKER_FAILURES` / `CACHE_BREAKER_COOL_OFF_MS` | circuit breaker | 5 / 5000 |
    /// | `CACHE_NEGATIVE_TTL_SECS` | TTL of "not found" | 30 |
    /// | `CACHE_TTL_JITTER` | fraction 0..=1 | 0.1 |
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`CacheConfig::from_env`] with an explicit variable source (for tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut cfg = Self::default();
        let url = get("REDIS_URL").ok_or_else(|| ConfigError::new("REDIS_URL", "not set"))?;
        cfg.urls = url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect();
        if cfg.urls.is_empty() {
            return Err(ConfigError::new("REDIS_URL", "empty"));
        }
        for u in &cfg.urls {
            if !(u.starts_with("redis://") || u.starts_with("rediss://")) {
                return Err(ConfigError::new(
                    "REDIS_URL",
                    format!("{u:?} must start with redis:// or rediss://"),
                ));
            }
        }
        if let Some(mode) = get("REDIS_MODE") {
            cfg.mode = match mode.trim().to_ascii_lowercase().as_str() {
                "standalone" | "" => Mode::Standalone,
                "cluster" => Mode::Cluster,
                other => {
                    return Err(ConfigError::new(
                        "REDIS_MODE",
                        format!("{other:?} is not standalone or cluster"),
                    ));
                }
            };
        }
        cfg.username = get("REDIS_USERNAME").filter(|s| !s.is_empty());
        cfg.password = get("REDIS_PASSWORD").filter(|s| !s.is_empty());
        cfg.tls_ca_file = get("REDIS_TLS_CA_FILE")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from);
        if let Some(ms) = parse_num::<u64>(&get, "REDIS_AUTH_RETRY_MS")? {
            cfg.password_retry_interval = Duration::from_millis(ms.max(1));
        }
        if let Some(ms) = parse_num::<u64>(&get, "REDIS_CONNECT_TIMEOUT_MS")? {
            cfg.connect_timeout = Duration::from_millis(ms.max(1));
        }
        if let Some(ms) = parse_num::<u64>(&get, "REDIS_COMMAND_TIMEOUT_MS")? {
            cfg.command_timeout = Duration::from_millis(ms.max(1));
        }
        if let Some(ms) = parse_num::<u64>(&get, "REDIS_CLUSTER_CONNECT_RETRY_MS")? {
            cfg.cluster_connect_retry = Duration::from_millis(ms.max(1));
        }
        if let Some(prefix) = get("REDIS_KEY_PREFIX") {
            if prefix.contains(['{', '}', ' ']) {
                return Err(ConfigError::new(
                    "REDIS_KEY_PREFIX",
                    "must not contain braces or spaces",
                ));
            }
            cfg.key_prefix = prefix;
        }
        if let Some(codec) = get("CACHE_CODEC") {
            cfg.codec = Codec::parse(&codec).ok_or_else(|| {
                ConfigError::new("CACHE_CODEC", format!("{codec:?} is not json or msgpack"))
            })?;
        }
        if let Some(n) = parse_num::<u32>(&get, "CACHE_BREAKER_FAILURES")? {
            cfg.breaker_failure_threshold = n.max(1);
        }
        if let Some(ms) = parse_num::<u64>(&get, "CACHE_BREAKER_COOL_OFF_MS")? {
            cfg.breaker_cool_off = Duration::from_millis(ms);
        }
        if let Some(s) = parse_num::<u64>(&get, "CACHE_NEGATIVE_TTL_SECS")? {
            cfg.negative_ttl = Duration::from_secs(s);
        }
        if let Some(j) = parse_num::<f64>(&get, "CACHE_TTL_JITTER")? {
            if !(0.0..=1.0).contains(&j) {
                return Err(ConfigError::new("CACHE_TTL_JITTER", "must be within 0..=1"));
            }
            cfg.ttl_jitter = j;
        }
        Ok(cfg)
    }
}

fn parse_num<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
) -> Result<Option<T>, ConfigError> {
    match get(name) {
        None => Ok(None),
        Some(raw) if raw.trim().is_empty() => Ok(None),
        Some(raw) => raw
            .trim()
            .parse::<T>()
            .map(Some)
            .map_err(|_| ConfigError::new(name, format!("{raw:?} is not a valid number"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn missing_url_names_the_variable() {
        let err = CacheConfig::from_lookup(lookup(&[])).unwrap_err();
        assert_eq!(err.variable, "REDIS_URL");
    }

    #[test]
    fn bad_number_names_the_variable() {
        let err = CacheConfig::from_lookup(lookup(&[
            ("REDIS_URL", "redis://127.0.0.1:1"),
            ("REDIS_COMMAND_TIMEOUT_MS", "fast"),
        ]))
        .unwrap_err();
        assert_eq!(err.variable, "REDIS_COMMAND_TIMEOUT_MS");
    }

    #[test]
    fn reads_cluster_seeds_and_options() {
        let cfg = CacheConfig::from_lookup(lookup(&[
            ("REDIS_URL", "rediss://a:1, rediss://b:2"),
            ("REDIS_MODE", "cluster"),
            ("REDIS_PASSWORD", "tok"),
            ("CACHE_CODEC", "msgpack"),
            ("REDIS_COMMAND_TIMEOUT_MS", "7"),
            ("REDIS_CLUSTER_CONNECT_RETRY_MS", "250"),
        ]))
        .unwrap();
        assert_eq!(cfg.cluster_connect_retry, Duration::from_millis(250));
        assert_eq!(cfg.urls, vec!["rediss://a:1", "rediss://b:2"]);
        assert_eq!(cfg.mode, Mode::Cluster);
        assert_eq!(cfg.password.as_deref(), Some("tok"));
        assert_eq!(cfg.codec, Codec::MessagePack);
        assert_eq!(cfg.command_timeout, Duration::from_millis(7));
    }

    #[test]
    fn rejects_other_schemes_and_modes() {
        let err = CacheConfig::from_lookup(lookup(&[("REDIS_URL", "http://x")])).unwrap_err();
        assert_eq!(err.variable, "REDIS_URL");
        let err = CacheConfig::from_lookup(lookup(&[
            ("REDIS_URL", "redis://x:1"),
            ("REDIS_MODE", "sentinel"),
        ]))
        .unwrap_err();
        assert_eq!(err.variable, "REDIS_MODE");
    }
}
