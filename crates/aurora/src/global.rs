//! One pool per process, created on first use and reused across Lambda invocations.

use tokio::sync::OnceCell;

use crate::config::AuroraConfig;
use crate::error::AuroraError;
use crate::pool::AuroraPool;

static GLOBAL: OnceCell<AuroraPool> = OnceCell::const_new();

/// The process-wide pool, built from [`AuroraConfig::from_env`] on first call (concurrent
/// first calls wait for one initialization; a failed one is retried by the next call).
///
/// Lambda keeps the process, and so the pool and its connections, between invocations
/// of a warm function. The pool's connection tasks live on the Tokio runtime of the first
/// call, so use it from a single runtime (as `lambda_runtime` does).
pub async fn global() -> Result<&'static AuroraPool, AuroraError> {
    GLOBAL
        .get_or_try_init(|| async { AuroraPool::connect(AuroraConfig::from_env()?).await })
        .await
}

/// Like [`global`], initialized with an explicit configuration on first call; later
/// calls return the existing pool and ignore `config`.
pub async fn global_with(config: AuroraConfig) -> Result<&'static AuroraPool, AuroraError> {
    GLOBAL
        .get_or_try_init(|| async { AuroraPool::connect(config).await })
        .await
}
