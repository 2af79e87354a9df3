//! Which errors are transient, and the backoff between attempts.
//!
//! Classifying an error as transient says a retry *could* succeed; whether a retry is
//! *safe* is decided by the caller of [`classify`] (reads and whole transactions only).

use std::time::Duration;

use rand::Rng;
use tokio_postgres::error::SqlState;

use crate::config::RetryPolicy;

/// How an error relates to retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transience {
    /// Retrying cannot help (syntax error, constraint violation, ...).
    Permanent,
    /// The connection broke or the server went away; the statement may or may not have run.
    ConnectionLost,
    /// The server rolled the transaction back (serialization failure, deadlock): it did
    /// not take effect and can be run again.
    RolledBack,
    /// The server is read-only (a writer demoted by failover); the statement was refused
    /// and the connection must be replaced.
    ReadOnly,
}

/// Classifies a `tokio_postgres` error.
pub(crate) fn classify(error: &tokio_postgres::Error) -> Transience {
    if let Some(code) = error.code() {
        return classify_sqlstate(code);
    }
    if error.is_closed() {
        return Transience::ConnectionLost;
    }
    // Errors without a SQLSTATE that carry an I/O error (reset, broken pipe, unexpected
    // EOF, connect timeout) mean the connection is gone. Anything else (a protocol or
    // conversion error) is treated as permanent: retrying unknown failures is unsafe.
    if std::error::Error::source(error).is_some_and(|s| s.is::<std::io::Error>()) {
        return Transience::ConnectionLost;
    }
    Transience::Permanent
}

fn classify_sqlstate(code: &SqlState) -> Transience {
    if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED {
        Transience::RolledBack
    } else if *code == SqlState::READ_ONLY_SQL_TRANSACTION {
        Transience::ReadOnly
    } else if *code == SqlState::ADMIN_SHUTDOWN
        || *code == SqlState::CRASH_SHUTDOWN
        || *code == SqlState::CANNOT_CONNECT_NOW
        || *code == SqlState::TOO_MANY_CONNECTIONS
        || code.code().starts_with("08")
    {
        // 08xxx: connection exceptions.
        Transience::ConnectionLost
    } else {
        Transience::Permanent
    }
}

/// Exponential backoff with full jitter: a random delay in `[0, min(max, base * 2^n)]`, so
/// many Lambdas retrying after the same failover do not reconnect in lock-step.
pub(crate) fn backoff(policy: &RetryPolicy, retry_index: u32) -> Duration {
    let exp = policy
        .base_delay
        .saturating_mul(1u32.checked_shl(retry_index.min(16)).unwrap_or(u32::MAX));
    let cap = exp.min(policy.max_delay);
    let cap_micros = u64::try_from(cap.as_micros()).unwrap_or(u64::MAX);
    if cap_micros == 0 {
        return Duration::ZERO;
    }
    Duration::from_micros(rand::rng().random_range(0..=cap_micros))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_are_classified() {
        assert_eq!(
            classify_sqlstate(&SqlState::T_R_SERIALIZATION_FAILURE),
            Transience::RolledBack
        );
        assert_eq!(
            classify_sqlstate(&SqlState::T_R_DEADLOCK_DETECTED),
            Transience::RolledBack
        );
        assert_eq!(
            classify_sqlstate(&SqlState::READ_ONLY_SQL_TRANSACTION),
            Transience::ReadOnly
        );
        assert_eq!(
            classify_sqlstate(&SqlState::ADMIN_SHUTDOWN),
            Transience::ConnectionLost
        );
        assert_eq!(
            classify_sqlstate(&SqlState::CONNECTION_FAILURE),
            Transience::ConnectionLost
        );
        assert_eq!(
            classify_sqlstate(&SqlState::UNIQUE_VIOLATION),
            Transience::Permanent
        );
        assert_eq!(
            classify_sqlstate(&SqlState::SYNTAX_ERROR),
            Transience::Permanent
        );
        assert_eq!(
            classify_sqlstate(&SqlState::CHECK_VIOLATION),
            Transience::Permanent
        );
    }

    #[test]
    fn backoff_stays_within_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
        };
        for retry in 0..40 {
            let delay = backoff(&policy, retry);
            let cap = Duration::from_millis(10 * (1u64 << retry.min(16))).min(policy.max_delay);
            assert!(delay <= cap, "retry {retry}: {delay:?} > {cap:?}");
        }
        let no_delay = RetryPolicy {
            base_delay: Duration::ZERO,
            ..policy
        };
        assert_eq!(backoff(&no_delay, 3), Duration::ZERO);
    }
}
