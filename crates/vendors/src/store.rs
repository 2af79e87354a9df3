//! What the vendor wing needs from the database, the source of truth. `lambdas` implements
//! it over PostgreSQL; tests may implement it over anything that keeps versions.

use std::future::Future;

use cache::GeoPoint;

use crate::model::{Capability, Vendor};

/// "Nearest vendors within a radius" as the database answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct NearbyQuery {
    /// Center.
    pub center: GeoPoint,
    /// Radius in miles.
    pub radius_miles: f64,
    /// Required capability; `None` for any.
    pub capability: Option<Capability>,
    /// Only vendors that are `available`.
    pub available_only: bool,
    /// At most this many, nearest first.
    pub limit: usize,
}

/// Reads of the vendor table.
pub trait VendorStore: Clone + Send + Sync + 'static {
    /// The database's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// One vendor.
    fn get(&self, id: &str) -> impl Future<Output = Result<Option<Vendor>, Self::Error>> + Send;

    /// Up to `limit` vendors with ids after `after`, ordered by id (the index build reads
    /// the table in such pages).
    fn page(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Vendor>, Self::Error>> + Send;

    /// The nearest matching vendors with their distance in miles, nearest first (the
    /// answer when the index cannot give one). Distances on Redis's sphere
    /// ([`cache::EARTH_RADIUS_M`]), so both paths agree on who is inside the radius.
    fn search(
        &self,
        query: &NearbyQuery,
    ) -> impl Future<Output = Result<Vec<(Vendor, f64)>, Self::Error>> + Send;
}
