//! The vendor domain of the roadside-assistance platform, in one place.
//!
//! - [`model`]: the vocabulary — [`Vendor`], [`Capability`], [`AvailabilityStatus`] and
//!   its allowed transitions ([`Availability::check_transition`]), the id rule
//!   ([`is_valid_id`]) and coordinate limits. The SQL schema, the Lua scripts, the
//!   handlers, the load suite and the seed take these from here or are tested against them.
//! - [`view`]: the vendor document clients see, rendered once per write ([`VendorDoc`]).
//! - [`store`]: what the wing needs from the database ([`VendorStore`]); `lambdas`
//!   implements it over PostgreSQL.
//! - [`index`]: the Redis geo index ([`GeoIndex`]): live state per vendor in geo sets per
//!   availability and capability, versioned writes that may land in any order, and a
//!   nearest-first search that reads tens of members, not every vendor in the radius.
//! - [`build`]: rebuilding the index from the database, once per fleet (a lease), in
//!   chunks under its own deadline, into a new generation that goes live only verified.
//! - [`Vendors`]: the use cases a handler calls: [`Vendors::profile`] (cache-aside with
//!   fenced fills), [`Vendors::search`] (kept answers confirmed per request, the index, or
//!   the database), [`Vendors::nearest_available`] (incident matching) and
//!   [`Vendors::committed`] (the cache follows every database write).
//!
//! # The guarantees
//!
//! The database is the truth. Every write commits there first, then calls
//! [`Vendors::committed`] with the committed rows:
//!
//! - the index applies a row only if its version is newer than the one it holds, so no
//!   interleaving of writes, refills and rebuilds leaves it older than the database;
//! - cached profiles are deleted together with their fill fence, so a reader that loaded
//!   the old row before the commit cannot store it afterwards;
//! - every write bumps the change counter of the cells it touches, and a kept search answer
//!   is reused only when those counters are unchanged: once a write has answered, no
//!   search in any environment returns the vendor in its old state;
//! - a search the index cannot answer (not built yet, a key lost to eviction, a circle
//!   reaching past Redis's latitude limit) goes to the database.
//!
//! # Example
//!
//! ```no_run
//! # async fn example<S: vendors::VendorStore>(store: S) -> Result<(), Box<dyn std::error::Error>> {
//! use vendors::{Capability, GeoPoint, NearbyQuery, Vendors, VendorsConfig};
//!
//! let cache = cache::Cache::connect(cache::CacheConfig::with_url("redis://127.0.0.1:6379")).await?;
//! let wing = Vendors::new(store, Some(cache), VendorsConfig::default());
//! wing.start_rebuild(); // never waits; searches use the database until the index is ready
//!
//! let answer = wing
//!     .search(&NearbyQuery {
//!         center: GeoPoint::new(34.05, -118.24),
//!         radius_miles: 25.0,
//!         capability: Some(Capability::Tow),
//!         available_only: true,
//!         limit: 10,
//!     })
//!     .await?;
//! println!("{} ({})", answer.body, answer.outcome);
//! # Ok(())
//! # }
//! ```

mod batch;
pub mod build;
mod config;
pub mod index;
pub mod model;
mod results;
mod scripts;
pub mod store;
pub mod view;
mod wing;

pub use build::{BuildError, BuildReport};
pub use cache::{CacheOutcome, Cached, EARTH_RADIUS_M, GeoPoint};
pub use config::VendorsConfig;
pub use index::{GeoIndex, IndexAnswer, IndexHit, IndexQuery, IndexStatus};
pub use model::{
    Availability, AvailabilityStatus, Capability, MAX_ABS_LAT, MAX_ABS_LON, MAX_ID_CHARS,
    TransitionRefused, UnknownCapability, UnknownStatus, Vendor, VendorMetrics, is_valid_id,
};
pub use store::{NearbyQuery, VendorStore};
pub use view::{AvailabilityView, MetricsView, VendorDoc, VendorView};
pub use wing::{PROFILE_FAMILY, SearchAnswer, Vendors};
