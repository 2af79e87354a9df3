//! SQL of the three services, on the `aurora` pool. PostgreSQL is the source of truth:
//! every write lands here first, and the cache follows.

pub mod geo;
pub mod idempotency;
pub mod incidents;
pub mod payments;
pub mod store;
pub mod vendors;

/// A `timestamptz` column as RFC 3339 UTC text (microseconds), so no date-time type
/// crosses the driver.
macro_rules! rfc3339_utc {
    ($column:literal) => {
        concat!(
            "to_char(",
            $column,
            " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        )
    };
}
pub(crate) use rfc3339_utc;

/// `created_at` as RFC 3339 UTC text.
pub const RFC3339_UTC: &str = rfc3339_utc!("created_at");

/// Miles (the unit of the API's radii and distances) in metres.
pub fn miles_to_m(miles: f64) -> f64 {
    miles * cache::GeoUnit::Miles.meters()
}

/// Great-circle distance in miles between two points, on Redis's sphere.
pub fn haversine_miles(a: cache::GeoPoint, b: cache::GeoPoint) -> f64 {
    a.haversine_m(&b) / cache::GeoUnit::Miles.meters()
}

/// The name of the constraint a statement violated (`payments_vendor_id_fkey`, ...), so
/// callers map errors by what failed rather than by the wording of the message.
pub fn violated_constraint(error: &aurora::AuroraError) -> Option<&str> {
    match error {
        aurora::AuroraError::Db(e) => e.as_db_error().and_then(|d| d.constraint()),
        _ => None,
    }
}
