//! Applies the embedded schema migrations to the database named by the environment
//! (`DATABASE_URL`, or the `DATABASE_*` parts; see docs/aurora.md).
//!
//! Usage: `cargo run -p aurora --bin aurora-migrate [-- --list]`

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--list") {
        for (version, name) in aurora::embedded_migrations() {
            println!("V{version}__{name}");
        }
        return ExitCode::SUCCESS;
    }
    let run = async {
        let mut config = aurora::AuroraConfig::from_env()?;
        // One connection is all a migration run needs.
        config.min_size = 0;
        config.max_size = 1;
        let pool = aurora::AuroraPool::connect(config).await?;
        let report = pool.migrate().await?;
        pool.shutdown(std::time::Duration::from_secs(5)).await;
        Ok::<_, aurora::AuroraError>(report)
    };
    match run.await {
        Ok(report) => {
            if report.applied.is_empty() {
                println!("schema up to date at version {}", report.current_version);
            } else {
                for name in &report.applied {
                    println!("applied {name}");
                }
                println!("schema now at version {}", report.current_version);
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("aurora-migrate: {error}");
            ExitCode::FAILURE
        }
    }
}
