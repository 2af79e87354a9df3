//! The error type every fallible cache operation returns.

use std::time::Duration;

/// What went wrong talking to Redis, in terms a caller can act on.
///
/// A cache miss is never an error: lookups return `Ok(None)`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// Redis did not answer within the configured per-command (or connect) timeout.
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    /// The connection could not be made or was lost (refused, reset, DNS, TLS, AUTH).
    #[error("redis connection failed: {0}")]
    Connection(RedisFailure),
    /// A value could not be encoded, or bytes read from Redis could not be decoded.
    #[error("cache value (de)serialization failed: {0}")]
    Serialization(String),
    /// Cluster redirections (MOVED/ASK/TRYAGAIN/CLUSTERDOWN) were retried and never settled.
    #[error("redis cluster redirection exhausted: {0}")]
    ClusterRedirection(RedisFailure),
    /// The circuit breaker is open: Redis is being skipped for a cool-off period.
    #[error("redis skipped: circuit breaker open")]
    CircuitOpen,
    /// Redis answered with an error or an unexpected reply (a bug or a misconfiguration,
    /// for example a key holding the wrong type).
    #[error("redis command failed: {0}")]
    Command(RedisFailure),
    /// An argument the cache cannot store or query (bad vendor id, position out of range).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Invalid configuration (URL, environment variable).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

/// A Redis failure: what happened, and the client's error when it came from one (kept as
/// the [`std::error::Error::source`], so callers can inspect its kind and server code).
#[derive(Debug)]
pub struct RedisFailure {
    message: String,
    source: Option<redis::RedisError>,
}

impl RedisFailure {
    /// The client's error, when there is one.
    pub fn redis_error(&self) -> Option<&redis::RedisError> {
        self.source.as_ref()
    }

    /// The server's error code (`NOSCRIPT`, `WRONGTYPE`, ...), when Redis sent one.
    pub fn code(&self) -> Option<&str> {
        self.source.as_ref().and_then(|e| e.code())
    }

    fn from_redis(err: redis::RedisError) -> Self {
        Self {
            message: err.to_string(),
            source: Some(err),
        }
    }
}

impl std::fmt::Display for RedisFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RedisFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<String> for RedisFailure {
    fn from(message: String) -> Self {
        Self {
            message,
            source: None,
        }
    }
}

impl From<&str> for RedisFailure {
    fn from(message: &str) -> Self {
        message.to_owned().into()
    }
}

impl CacheError {
    /// Whether the error means Redis is unhealthy (it counts toward the circuit breaker),
    /// as opposed to a problem with one value or one command.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Timeout(_)
                | Self::Connection(_)
                | Self::ClusterRedirection(_)
                | Self::CircuitOpen
        )
    }
}

impl From<redis::RedisError> for CacheError {
    fn from(err: redis::RedisError) -> Self {
        use redis::{ErrorKind, ServerErrorKind};
        if err.is_timeout() {
            // The library's own response timeout; the exact duration is not reported.
            return Self::Timeout(Duration::ZERO);
        }
        // Authentication failures reported per command (an ACL user disabled or a token
        // rotated after connecting) are a connection problem, not a bad command.
        if matches!(err.code(), Some("NOAUTH" | "WRONGPASS")) {
            return Self::Connection(RedisFailure::from_redis(err));
        }
        match err.kind() {
            ErrorKind::Server(
                ServerErrorKind::Moved
                | ServerErrorKind::Ask
                | ServerErrorKind::TryAgain
                | ServerErrorKind::ClusterDown
                | ServerErrorKind::MasterDown,
            ) => Self::ClusterRedirection(RedisFailure::from_redis(err)),
            ErrorKind::Io
            | ErrorKind::AuthenticationFailed
            | ErrorKind::ClusterConnectionNotFound
            | ErrorKind::Server(ServerErrorKind::BusyLoading)
            | ErrorKind::InvalidClientConfig => Self::Connection(RedisFailure::from_redis(err)),
            ErrorKind::Parse | ErrorKind::UnexpectedReturnType => Self::Command(RedisFailure {
                message: format!("unexpected reply: {err}"),
                source: Some(err),
            }),
            _ if err.is_connection_dropped() || err.is_connection_refusal() => {
                Self::Connection(RedisFailure::from_redis(err))
            }
            _ => Self::Command(RedisFailure::from_redis(err)),
        }
    }
}
