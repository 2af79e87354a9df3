//! Cache-aside over Redis with geo-indexing for vendor matching.
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
//!   EMF lines ([`CacheMetrics::emit_emf`]).
//! * [`VendorCache`]: vendor profiles, a geo index per availability and capability whose
//!   updates are atomic Lua scripts, searches that never return a vendor whose profile
//!   expired or whose availability changed, a search-result cache invalidated by relevant
//!   changes, and [`VendorCache::claim_nearest`], an atomic "take the nearest available
//!   vendor" primitive.
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
//!
//! # Vendor search
//!
//! ```no_run
//! use cache::{
//!     Availability, Cache, CacheConfig, Capability, GeoPoint, Vendor, VendorCache,
//!     VendorCacheConfig, VendorMetrics, VendorQuery,
//! };
//!
//! # async fn run() -> Result<(), cache::CacheError> {
//! let cache = Cache::connect(CacheConfig::with_url("redis://127.0.0.1:6379")).await?;
//! let vendors = VendorCache::new(cache, VendorCacheConfig::default());
//!
//! vendors
//!     .put_profile(&Vendor {
//!         id: "v-17".into(),
//!         business_name: "Ace Towing".into(),
//!         capabilities: vec![Capability::Tow, Capability::Jumpstart],
//!         location: GeoPoint::new(40.7484, -73.9857),
//!         availability: Availability::available(),
//!         rating: 4.8,
//!         metrics: VendorMetrics::default(),
//!         version: 0,
//!         updated_at: String::new(),
//!     })
//!     .await?;
//!
//! // Nearest available tow vendors within 50 miles (cached for a minute, invalidated
//! // by any relevant availability or location change).
//! let incident = GeoPoint::new(40.7128, -74.0060);
//! let found = vendors
//!     .search_nearby(&VendorQuery::available(incident, 50.0, Capability::Tow).limit(5))
//!     .await?;
//! for m in &found.matches {
//!     println!("{} at {:.1} mi", m.vendor_id, m.distance);
//! }
//!
//! // Take one atomically for an incident (the database still confirms the assignment).
//! let query = VendorQuery::available(incident, 50.0, Capability::Tow);
//! if let Some(claim) = vendors.claim_nearest(&query, "inc-981").await? {
//!     println!("assigned {}", claim.vendor_id);
//! }
//! vendors.update_locations(&[("v-17", GeoPoint::new(40.75, -73.99))]).await?;
//! vendors.set_availability("v-17", &Availability::offline()).await?;
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
mod vendor;

pub use aside::{Cache, CacheOutcome, Cached, KeyFamily};
pub use breaker::{BreakerState, CircuitBreaker};
pub use client::{RedisClient, SetCondition, key_slot};
pub use codec::Codec;
pub use config::{CacheConfig, ConfigError, Mode};
pub use error::CacheError;
pub use geo::{EARTH_RADIUS_M, GeoMatch, GeoPoint, GeoQuery, GeoShape, GeoUnit};
pub use metrics::{CacheMetrics, FamilyStats};
pub use vendor::{
    Availability, AvailabilityStatus, Capability, Claim, MAX_ABS_LAT, MAX_ABS_LON, MAX_ID_CHARS,
    TransitionRefused, UnknownCapability, UnknownStatus, Vendor, VendorCache, VendorCacheConfig,
    VendorMatch, VendorMetrics, VendorQuery, VendorSearch, is_valid_id,
};
