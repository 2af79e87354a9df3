//! The vendor, incidents and payments services of the roadside-assistance platform, on
//! `cache` (Redis) and `aurora` (PostgreSQL).
//!
//! Each service is an axum [`Router`](axum::Router) ([`router`]); the same router runs on
//! Lambda under `lambda_http::run` (binaries `vendor`, `incidents`, `payments`) and
//! locally under `axum::serve` (binary `local`, every route on `127.0.0.1:3000`), so the
//! tests and load runs exercise production code. The HTTP contract is in `docs/api.md`.
//!
//! - Vendor reads and searches go through the vendor wing ([`vendors::Vendors`]) and
//!   answer `X-Cache`; Redis being slow or down means `BYPASS` answers from PostgreSQL,
//!   never an error.
//! - Writes go to PostgreSQL first, then (in a task a disconnecting client cannot cancel)
//!   to the cache, ordered by the row's version.
//! - Incidents take the nearest available vendor atomically (`FOR UPDATE SKIP LOCKED`).
//! - Payments are idempotent per `Idempotency-Key`, in one transaction with their line
//!   items and an audit row.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! let config = lambdas::config::AppConfig::from_env()?; // DATABASE_URL, REDIS_URL, ...
//! let state = lambdas::state::AppState::connect(config).await?;
//! let app = lambdas::router::app(state);
//! lambdas::host::serve_local("127.0.0.1:3000".parse()?, app).await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod config;
pub mod db;
pub mod error;
pub mod extract;
pub mod host;
pub mod identity;
pub mod metrics;
pub mod model;
pub mod redis_auth;
pub mod router;
pub mod routes;
pub mod seed;
pub mod state;
pub mod warmer;

/// Every binary and test that links the services allocates through mimalloc: a request
/// makes a few dozen small allocations (headers, extensions, boxed futures), and glibc's
/// malloc and free were 31 % of a profile hit's user-space instructions
/// (docs/PERFORMANCE.md, "Session 5").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
