//! The transaction helper: commit on success, roll back on error or panic, and retry the
//! whole transaction on transient errors.

use std::panic::AssertUnwindSafe;

use futures::FutureExt as _;

pub use deadpool_postgres::Transaction;
pub use tokio_postgres::IsolationLevel;

use crate::auth::BoxFuture;
use crate::error::AuroraError;
use crate::pool::{AuroraPool, Target};
use crate::retry::{self, Transience};
use crate::stats::Counters;

impl AuroraPool {
    /// Runs `body` in a `READ COMMITTED` transaction on the writer; see
    /// [`AuroraPool::transaction_with`].
    pub async fn transaction<T, F>(&self, body: F) -> Result<T, AuroraError>
    where
        F: for<'t> Fn(&'t Transaction<'t>) -> BoxFuture<'t, Result<T, AuroraError>> + Send + Sync,
        T: Send,
    {
        self.transaction_with(IsolationLevel::ReadCommitted, body)
            .await
    }

    /// Runs `body` in a transaction with the given isolation level on the writer.
    ///
    /// - `Ok` from `body`: COMMIT.
    /// - `Err` from `body`, or a panic in it: ROLLBACK (a panic comes back as
    ///   [`AuroraError::Panicked`] and the connection is discarded).
    /// - Serialization failure, deadlock, read-only server (failover) or connection loss
    ///   *before* COMMIT: the whole transaction is rolled back and `body` runs again, up to
    ///   `retry.max_attempts` times in total, with backoff. `body` must therefore only have
    ///   effects through `tx` (no external calls that cannot be repeated).
    /// - Connection lost *during* COMMIT: [`AuroraError::CommitOutcomeUnknown`], never
    ///   retried (the transaction may have committed).
    ///
    /// ```no_run
    /// # async fn demo(pool: &aurora::AuroraPool) -> Result<(), aurora::AuroraError> {
    /// use aurora::IsolationLevel;
    /// let moved = pool
    ///     .transaction_with(IsolationLevel::Serializable, |tx| Box::pin(async move {
    ///         let n = tx.execute("UPDATE vendors SET availability = 'offline' \
    ///                             WHERE availability = 'available'", &[]).await?;
    ///         Ok(n)
    ///     }))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn transaction_with<T, F>(
        &self,
        isolation: IsolationLevel,
        body: F,
    ) -> Result<T, AuroraError>
    where
        F: for<'t> Fn(&'t Transaction<'t>) -> BoxFuture<'t, Result<T, AuroraError>> + Send + Sync,
        T: Send,
    {
        let _work = self.begin_work()?;
        let policy = self.inner.config.retry;
        let mut attempt = 1;
        loop {
            let error = match self.get(Target::Writer).await {
                Err(error) => error,
                Ok(mut client) => {
                    match run_once(&mut client, isolation, &body).await {
                        Ok(value) => return Ok(value),
                        Err(Failure::Panicked) => {
                            // The rollback was queued by the transaction's drop; do not
                            // trust the session state after a panic.
                            self.discard(client);
                            return Err(AuroraError::Panicked);
                        }
                        Err(Failure::Commit(error)) => {
                            let error = AuroraError::Db(error);
                            let transience = self.after_error(client, &error);
                            match transience {
                                // Refused at commit: rolled back by the server.
                                Transience::RolledBack | Transience::ReadOnly => error,
                                Transience::ConnectionLost => {
                                    return Err(match error {
                                        AuroraError::Db(e) => AuroraError::CommitOutcomeUnknown(e),
                                        other => other,
                                    });
                                }
                                Transience::Permanent => return Err(error),
                            }
                        }
                        Err(Failure::Body(error)) => {
                            if self.after_error(client, &error) == Transience::Permanent {
                                return Err(error);
                            }
                            error
                        }
                    }
                }
            };
            if !error.is_transient() || attempt >= policy.max_attempts || self.is_closing() {
                return Err(error);
            }
            Counters::bump(&self.inner.counters.retries);
            tracing::debug!(%error, attempt, "retrying transaction");
            tokio::time::sleep(retry::backoff(&policy, attempt - 1)).await;
            attempt += 1;
        }
    }
}

enum Failure {
    /// `body` (or BEGIN) failed; nothing was committed.
    Body(AuroraError),
    /// COMMIT itself failed.
    Commit(tokio_postgres::Error),
    Panicked,
}

async fn run_once<T, F>(
    client: &mut deadpool_postgres::Object,
    isolation: IsolationLevel,
    body: &F,
) -> Result<T, Failure>
where
    F: for<'t> Fn(&'t Transaction<'t>) -> BoxFuture<'t, Result<T, AuroraError>> + Send + Sync,
{
    let tx = client
        .build_transaction()
        .isolation_level(isolation)
        .start()
        .await
        .map_err(|e| Failure::Body(AuroraError::Db(e)))?;
    let outcome = AssertUnwindSafe(body(&tx)).catch_unwind().await;
    match outcome {
        Ok(Ok(value)) => match tx.commit().await {
            Ok(()) => Ok(value),
            Err(error) => Err(Failure::Commit(error)),
        },
        Ok(Err(error)) => {
            // An explicit rollback keeps the connection reusable; if it fails the
            // connection is broken and the error classification discards it.
            let _ = tx.rollback().await;
            Err(Failure::Body(error))
        }
        Err(_panic) => {
            drop(tx);
            Err(Failure::Panicked)
        }
    }
}
