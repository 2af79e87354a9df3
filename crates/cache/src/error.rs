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
    Connection(String),
    /// A value could not be encoded, or bytes read from Redis could not be decoded.
    #[error("cache value (de)serialization failed: {0}")]
    Serialization(String),
    /// Cluster redirections (MOVED/ASK/TRYAGAIN/CLUSTERDOWN) were retried and never settled.
    #[error("redis cluster redirection exhausted: {0}")]
    ClusterRedirection(String),
    /// The circuit breaker is open: Redis is being skipped for a cool-off period.
    #[error("redis skipped: circuit breaker open")]
    CircuitOpen,
    /// Redis answered with an error or an unexpected reply (a bug or a misconfiguration,
    /// for example a key holding the wrong type).
    #[error("redis command failed: {0}")]
    Command(String),
    /// An argument the cache cannot store or query (bad vendor id, position out of range).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Invalid configuration (URL, environment variable).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
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
            return Self::Connection(err.to_string());
        }
        match err.kind() {
            ErrorKind::Server(
                ServerErrorKind::Moved
                | ServerErrorKind::Ask
                | ServerErrorKind::TryAgain
                | ServerErrorKind::ClusterDown
                | ServerErrorKind::MasterDown,
            ) => Self::ClusterRedirection(err.to_string()),
            ErrorKind::Io
            | ErrorKind::AuthenticationFailed
            | ErrorKind::ClusterConnectionNotFound
            | ErrorKind::Server(ServerErrorKind::BusyLoading)
            | ErrorKind::InvalidClientConfig => Self::Connection(err.to_string()),
            ErrorKind::Parse | ErrorKind::UnexpectedReturnType => {
                Self::Command(format!("unexpected reply: {err}"))
            }
            _ if err.is_connection_dropped() || err.is_connection_refusal() => {
                Self::Connection(err.to_string())
            }
            _ => Self::Command(err.to_string()),
        }
    }
}
