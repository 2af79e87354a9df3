//! Every route of every service on one local HTTP server, against `DATABASE_URL` and
//! (optionally) `REDIS_URL`.
//!
//! ```text
//! cargo run -p lambdas --bin local -- --addr 127.0.0.1:3000 --seed 5000
//! ```

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use lambdas::config::AppConfig;
use lambdas::state::AppState;

/// Serves the vendor, incidents and payments routes locally.
#[derive(Debug, Parser)]
#[command(name = "local", version, about)]
struct Args {
    /// Address to listen on (loopback by default).
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// Insert this many demo vendors around real US metro areas (ids `ven-seed-NNNNNN`,
    /// the same every time; existing ids are kept).
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: usize,
    /// Seed of the demo data's random generator.
    #[arg(long, default_value_t = 42)]
    random_seed: u64,
    /// Do not run the schema migrations at start.
    #[arg(long)]
    no_migrate: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    lambdas::host::init_tracing(false);
    let args = Args::parse();
    let config = AppConfig::from_env().context("configuration")?;
    let state = AppState::connect(config).await.context("connecting")?;
    if !args.no_migrate {
        let report = state.db.migrate().await.context("running migrations")?;
        tracing::info!(?report, "migrations");
    }
    if args.seed > 0 {
        let vendors = lambdas::seed::vendors(args.seed, args.random_seed);
        lambdas::db::vendors::insert_many(&state.db, &vendors)
            .await
            .context("seeding vendors")?;
        tracing::info!(count = vendors.len(), "seeded demo vendors");
    }
    if args.seed == 0 {
        // After the migrations, so a fresh database does not fail the first rebuild.
        state.vendors.start_rebuild();
    }
    if args.seed > 0 && state.cache.is_some() {
        // Fresh demo data: build the index now so the first searches already use it (a
        // rebuild started by `connect` may be running; then it is that one's lease).
        match state.vendors.rebuild_index().await {
            Ok(report) => tracing::info!(
                vendors = report.vendors,
                took_ms = report.took.as_millis() as u64,
                "vendor index built"
            ),
            Err(e) => {
                tracing::info!(reason = %e, "vendor index not rebuilt here; searches use PostgreSQL until it is ready")
            }
        }
    }
    let app = lambdas::router::app(state.clone());
    lambdas::host::serve_local(args.addr, app)
        .await
        .context("serving")?;
    state.db.shutdown(std::time::Duration::from_secs(5)).await;
    Ok(())
}
