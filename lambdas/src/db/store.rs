//! The vendor wing's view of PostgreSQL ([`vendors::VendorStore`]).

use aurora::{AuroraError, AuroraPool};
use vendors::{AvailabilityStatus, NearbyQuery, Vendor, VendorStore};

use super::vendors as sql;

/// The vendor table, as the vendor wing reads it.
#[derive(Clone, Debug)]
pub struct PgVendors(pub AuroraPool);

impl VendorStore for PgVendors {
    type Error = AuroraError;

    async fn get(&self, id: &str) -> Result<Option<Vendor>, AuroraError> {
        sql::get(&self.0, id).await
    }

    async fn page(&self, after: Option<String>, limit: usize) -> Result<Vec<Vendor>, AuroraError> {
        sql::page(&self.0, after.as_deref(), limit).await
    }

    async fn search(&self, q: &NearbyQuery) -> Result<Vec<(Vendor, f64)>, AuroraError> {
        sql::search(
            &self.0,
            &sql::SearchQuery {
                center: q.center,
                radius_miles: q.radius_miles,
                capability: q.capability,
                status: q.available_only.then_some(AvailabilityStatus::Available),
                limit: q.limit,
            },
        )
        .await
    }
}
