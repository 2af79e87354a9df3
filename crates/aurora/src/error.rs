//! The error type of every fallible call in this crate.

use std::path::PathBuf;
use std::time::Duration;

use crate::auth::PasswordError;
use crate::config::ConfigError;
use crate::retry::{self, Transience};

/// Everything that can go wrong talking to the database, as variants a caller can match.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
// Large sources are boxed: `AuroraError` travels in every `Result` of the pool, and a
// 400-byte error makes each of them (and every future holding one) that large.
pub enum AuroraError {
    /// The configuration is invalid (names the variable or field).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// TLS could not be set up (bad or unreadable CA bundle, no usable roots).
    #[error("TLS setup failed: {0}")]
    Tls(#[source] TlsError),
    /// The password source failed (Secrets Manager, IAM token signing, credentials).
    #[error(transparent)]
    Password(Box<PasswordError>),
    /// No connection became available within the wait timeout.
    #[error("timed out after {0:?} waiting for a database connection")]
    PoolTimeout(Duration),
    /// A new connection could not be opened (network, TLS handshake, authentication).
    #[error("could not connect to the database: {0}")]
    Connect(#[source] tokio_postgres::Error),
    /// The server (or the connection) reported an error for a statement.
    #[error("database error: {0}")]
    Db(#[from] tokio_postgres::Error),
    /// The statement ran into a read-only server (SQLSTATE 25006), typically a writer
    /// demoted by a failover; the connection was evicted.
    #[error("the server is read-only (failover in progress?): {0}")]
    ReadOnly(#[source] tokio_postgres::Error),
    /// The transaction's COMMIT was sent but its outcome is unknown because the connection
    /// broke; it was not retried because it may have committed.
    #[error("connection lost during COMMIT; the transaction may or may not have committed: {0}")]
    CommitOutcomeUnknown(#[source] tokio_postgres::Error),
    /// The transaction closure panicked; the transaction was rolled back.
    #[error("the transaction closure panicked; rolled back")]
    Panicked,
    /// An error raised by the caller's own code inside `read` or `transaction`.
    #[error("{0}")]
    Application(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The pool is shutting down or closed and accepts no new work.
    #[error("the database pool is shut down and accepts no new work")]
    ShutDown,
    /// Schema migrations failed.
    #[error("migration failed: {0}")]
    Migration(#[source] Box<refinery::Error>),
    /// The pool could not be built from the configuration.
    #[error("could not build the database pool: {0}")]
    PoolBuild(#[source] deadpool_postgres::BuildError),
    /// Any other pool failure (for example a hook that failed).
    #[error("database pool error: {0}")]
    Pool(#[source] deadpool_postgres::PoolError),
}

impl AuroraError {
    /// Wraps an application error so that `?` can carry it out of a transaction closure.
    pub fn application(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Application(err.into())
    }

    /// The SQLSTATE code of the underlying server error, if there is one.
    pub fn sqlstate(&self) -> Option<&str> {
        self.db_error()
            .and_then(|e| e.code())
            .map(tokio_postgres::error::SqlState::code)
    }

    /// Whether a retry could succeed (connection loss, shutdown, serialization failure,
    /// deadlock, read-only after failover, no connection available). Whether a retry is
    /// *safe* depends on the call, see the crate docs.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::PoolTimeout(_) | Self::Connect(_) | Self::ReadOnly(_) => true,
            Self::Db(e) => retry::classify(e) != Transience::Permanent,
            _ => false,
        }
    }

    pub(crate) fn db_error(&self) -> Option<&tokio_postgres::Error> {
        match self {
            Self::Connect(e) | Self::Db(e) | Self::ReadOnly(e) | Self::CommitOutcomeUnknown(e) => {
                Some(e)
            }
            _ => None,
        }
    }
}

/// Why TLS could not be set up; [`AuroraError::Tls`] carries it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The CA bundle file could not be read.
    #[error("cannot read CA bundle {}: {source}", path.display())]
    ReadCaBundle {
        /// The bundle's path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The CA bundle is not valid PEM.
    #[error("bad PEM in CA bundle {}: {source}", path.display())]
    BadPem {
        /// The bundle's path.
        path: PathBuf,
        /// The PEM parser's error.
        #[source]
        source: std::io::Error,
    },
    /// A certificate of the CA bundle was rejected.
    #[error("bad certificate in CA bundle {}: {source}", path.display())]
    BadCertificate {
        /// The bundle's path.
        path: PathBuf,
        /// Why rustls rejected it.
        #[source]
        source: rustls::Error,
    },
    /// The CA bundle holds no certificate at all.
    #[error("CA bundle {} holds no PEM certificate", path.display())]
    EmptyCaBundle {
        /// The bundle's path.
        path: PathBuf,
    },
    /// Nothing to verify a server against.
    #[error("no trusted root certificates (no system roots and no CA bundle)")]
    NoRoots,
    /// rustls refused the client configuration.
    #[error("rustls refused the configuration: {0}")]
    Config(#[source] rustls::Error),
}

/// Shorthand for results of this crate.
pub type Result<T, E = AuroraError> = std::result::Result<T, E>;

impl From<PasswordError> for AuroraError {
    fn from(error: PasswordError) -> Self {
        Self::Password(Box::new(error))
    }
}
