//! Pooled PostgreSQL (Aurora) client fit for AWS Lambda.
//!
//! Built on `deadpool-postgres` / `tokio-postgres`:
//!
//! - **Verified TLS** by default (rustls, system roots plus an optional CA bundle such as
//!   the RDS bundle); plain TCP only with an explicit `sslmode=disable`.
//! - **Password sources**: the URL, a Secrets Manager secret (fetched once, fetched again
//!   after an authentication failure) or an RDS IAM token generated for every new
//!   connection ([`auth`]).
//! - **Retries** with exponential backoff and full jitter, only for transient errors and
//!   only where repeating is safe: reads ([`AuroraPool::read`], [`AuroraPool::query`]) and
//!   whole transactions ([`AuroraPool::transaction`]). A single write
//!   ([`AuroraPool::execute`]) is never run twice.
//! - **Failover**: a writer demoted to read-only (SQLSTATE 25006) has its connections
//!   evicted; the next call connects to the new writer.
//! - [`AuroraPool::health`], [`AuroraPool::stats`], [`AuroraPool::shutdown`], an optional
//!   reader pool, a process-wide instance ([`global`]) and embedded schema migrations
//!   ([`AuroraPool::migrate`], binary `aurora-migrate`).
//!
//! See `docs/aurora.md` for the configuration variables and the reasoning.
//!
//! ```no_run
//! use aurora::{AuroraConfig, AuroraError, AuroraPool};
//!
//! # async fn demo() -> Result<(), AuroraError> {
//! // DATABASE_URL=postgres://app@writer.cluster-xyz.eu-west-1.rds.amazonaws.com/roadcall
//! let pool: &AuroraPool = aurora::global().await?;
//!
//! // A read: retried on connection loss, runs on the reader pool if configured.
//! let rows = pool
//!     .query(
//!         "SELECT id, business_name FROM vendors \
//!          WHERE availability = 'available' AND lat BETWEEN $1 AND $2 AND lon BETWEEN $3 AND $4",
//!         &[&40.0_f64, &41.0_f64, &-74.5_f64, &-73.5_f64],
//!     )
//!     .await?;
//! for row in rows {
//!     let id: String = row.get(0);
//!     println!("{id}");
//! }
//!
//! // A transaction: committed on Ok, rolled back on Err or panic, retried as a whole.
//! let payment_id = "pay-1".to_owned();
//! pool.transaction(|tx| {
//!     let payment_id = payment_id.clone();
//!     Box::pin(async move {
//!         tx.execute(
//!             "INSERT INTO payments (id, incident_id, vendor_id, amount_cents, currency) \
//!              VALUES ($1, 'inc-1', 'ven-1', 5000, 'USD')",
//!             &[&payment_id],
//!         )
//!         .await?;
//!         tx.execute(
//!             "INSERT INTO payment_line_items (payment_id, description, amount_cents) \
//!              VALUES ($1, 'tow', 5000)",
//!             &[&payment_id],
//!         )
//!         .await?;
//!         Ok(())
//!     })
//! })
//! .await?;
//!
//! // A config built in code instead of from the environment:
//! let config = AuroraConfig {
//!     host: "127.0.0.1".into(),
//!     max_size: 4,
//!     ..AuroraConfig::default()
//! };
//! let _other = AuroraPool::connect(config).await?;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod auth;
pub mod config;
mod connect;
mod error;
mod global;
mod migrations;
mod pool;
mod retry;
mod stats;
mod tls;
mod transaction;

pub use config::{AuroraConfig, ConfigError, PasswordConfig, RetryPolicy, SslMode, TlsConfig};
pub use error::{AuroraError, Result, TlsError};
pub use global::{global, global_with};
pub use migrations::{MigrationReport, embedded_migrations};
pub use pool::{AuroraPool, AuroraPoolBuilder, Params, PooledClient};
pub use stats::{Health, PoolStatus, Stats};
pub use transaction::{IsolationLevel, Transaction};

/// Re-exported so callers use the same `tokio_postgres` (rows, types, errors).
pub use tokio_postgres;
