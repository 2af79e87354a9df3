//! Cache-aside over Redis, and the generic geo primitives the vendor index (the `vendors`
//! crate) is built on.
//!
//! Service Lambdas use this crate to put Redis (ElastiCache, standalone or cluster mode,
//! TLS and AUTH) in front of PostgreSQL without ever making Redis a reason to fail:
//!
//! * [`RedisClient`]: one client over standalone and cluster, `redis://`/`rediss://`,
//!   per-command timeout, automatic reconnection, typed serde operations (JSON by
//!   default, MessagePack optional): get/set (TTL, NX/XX), mget, mset with per-key TTL,
//!   del, exists, expire, incr/decr, hashes, and geo (add, remove, pos, dist, `GEOSEARCH`).
//!   A miss is `Ok(None)`; failures are a [`CacheError`] you can match.
//! * [`Cache`] and [`KeyFamily::get_or_load`]: cache-aside with per-key single-flight,
//!   TTL jitter, negative caching, optional stale-while-revalidate, a circuit breaker,
//!   and an outcome for the `X-Cache` header (`HIT`, `MISS`, `STALE`, `BYPASS`). When
//!   Redis is slow or down the loader answers (`BYPASS`); only the loader's error is
//!   ever returned. Counters per family are in [`Cache::metrics`], also as CloudWatch
//!   EMF lines ([`CacheMetrics::emit_emf`]). Fills are fenced: a loader's answer is
//!   stored only if no [`KeyFamily::invalidate`] ran since the load began, so a write
//!   that commits and then invalidates can never be overwritten by an older read.
//!
//! Key design, TTLs and failure behaviour are described in `docs/cache.md`.
//!
//! # Cache-aside
//!
//! ```no_run
//! use std::time::Duration;
//! use cache::{Cache, CacheConfig, CacheError};
//!
//! #[derive(Clone, serde::Serialize, serde::Deserialize)]
//! struct PaymentMethod { id: String, last4: String }
//!
//! async fn load_from_db(id: String) -> Result<Option<PaymentMethod>, std::io::Error> {
//!     Ok(Some(PaymentMethod { id, last4: "4242".into() }))
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // Once per process, outside the handler: REDIS_URL, REDIS_MODE, REDIS_PASSWORD...
//! let cache = Cache::connect(CacheConfig::from_env()?).await?;
//! let methods = cache.family("payment-method");
//!
//! // In the handler.
//! let id = "pm-123";
//! let owned_id = id.to_owned(); // the loader may run in the background: it owns its data
//! let got = methods
//!     .get_or_load(id, Duration::from_secs(300), move || load_from_db(owned_id))
//!     .await?; // only the loader's error can surface here
//! let x_cache_header = got.outcome.as_header(); // "HIT", "MISS", "STALE" or "BYPASS"
//! # let _ = (x_cache_header, got.value);
//!
//! // After a database write: drop one entry, or the whole family.
//! methods.invalidate("pm-123").await?;
//! methods.invalidate_all().await?;
//!
//! // At the end of the invocation: counters as CloudWatch EMF lines on stdout.
//! cache.metrics().emit_emf("Roadcall/Cache");
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod aside;
mod breaker;
mod client;
mod codec;
mod config;
mod error;
mod geo;
mod metrics;

pub use aside::{Cache, CacheOutcome, Cached, KeyFamily};
pub use breaker::{BreakerState, CircuitBreaker};
pub use client::{RedisClient, SetCondition, key_slot, ttl_millis};
pub use codec::Codec;
pub use config::{BoxError, BoxFuture, CacheConfig, ConfigError, Mode, PasswordSource};
pub use error::{CacheError, RedisFailure};
pub use geo::{EARTH_RADIUS_M, GeoMatch, GeoPoint, GeoQuery, GeoShape, GeoUnit};
pub use metrics::{CacheMetrics, FamilyStats};
