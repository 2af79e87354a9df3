//! Embedded, versioned schema migrations (refinery), files in `crates/aurora/migrations/`.

use crate::error::AuroraError;
use crate::pool::AuroraPool;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// An arbitrary constant: concurrent migrators (several cold Lambdas, a deploy step)
/// serialize on this advisory lock instead of racing on the history table.
const MIGRATION_LOCK_KEY: i64 = 0x0052_4f41_4443_414c; // "ROADCAL"

/// What a migration run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Migrations applied by this run, as `V<version>__<name>`.
    pub applied: Vec<String>,
    /// The schema version after the run (0 for an empty history).
    pub current_version: i64,
}

/// The versions and names of the embedded migrations, in order.
pub fn embedded_migrations() -> Vec<(i64, String)> {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| (i64::from(m.version()), m.name().to_owned()))
        .collect()
}

impl AuroraPool {
    /// Applies the embedded migrations that are not applied yet, each in its own
    /// transaction, under an advisory lock. Idempotent.
    pub async fn migrate(&self) -> Result<MigrationReport, AuroraError> {
        let mut client = self.writer_connection().await?;
        client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
            .await?;
        let result = embedded::migrations::runner()
            .set_abort_divergent(true)
            .run_async(&mut **client)
            .await;
        // The lock is per session; release it even when the run failed, so the pooled
        // connection does not keep it.
        let unlock = client
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
            .await;
        let report = result.map_err(|e| AuroraError::Migration(Box::new(e)))?;
        unlock?;
        let last = embedded::migrations::runner()
            .get_last_applied_migration_async(&mut **client)
            .await
            .map_err(|e| AuroraError::Migration(Box::new(e)))?;
        Ok(MigrationReport {
            applied: report
                .applied_migrations()
                .iter()
                .map(|m| format!("V{}__{}", m.version(), m.name()))
                .collect(),
            current_version: last.map_or(0, |m| i64::from(m.version())),
        })
    }
}
