//! The JSON the routes take and give (camelCase, as the platform's clients use), and the
//! validation of every input field: what all services share here, each service's bodies in
//! its own module (as `routes/` and `db/` are split).

mod incidents;
mod payments;
mod vendors;

pub use incidents::{IncidentCreated, IncidentInput, IncidentView, MatchView, ValidIncident};
pub use payments::{LineItem, MAX_LINE_ITEMS, PaymentInput, PaymentView};
pub use vendors::{AvailabilityInput, ValidVendor, VendorInput, new_vendor};

use ::vendors::{Capability, GeoPoint};

/// The vendor document and the id limit are the vendor wing's; routes show them as is.
pub use ::vendors::{AvailabilityView, MAX_ID_CHARS, MetricsView, VendorView};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Longest business name accepted.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest incident description accepted.
pub const MAX_DESCRIPTION_CHARS: usize = 2000;

/// A position as the API carries it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Latitude, -90..=90.
    pub lat: f64,
    /// Longitude, -180..=180.
    pub lon: f64,
}

impl Location {
    /// Checks the ranges; `field` prefixes the error's field name (e.g. `location`).
    pub fn validate(&self, field: &str) -> Result<GeoPoint, ApiError> {
        let prefix = if field.is_empty() {
            String::new()
        } else {
            format!("{field}.")
        };
        check_lat(self.lat, &format!("{prefix}lat"))?;
        check_lon(self.lon, &format!("{prefix}lon"))?;
        Ok(GeoPoint::new(self.lat, self.lon))
    }
}

impl From<GeoPoint> for Location {
    fn from(point: GeoPoint) -> Self {
        Self {
            lat: point.lat,
            lon: point.lon,
        }
    }
}

/// Latitude in [-90, 90].
pub fn check_lat(lat: f64, field: &str) -> Result<(), ApiError> {
    if lat.is_finite() && (-90.0..=90.0).contains(&lat) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            "latitude must be a number in [-90, 90]",
        ))
    }
}

/// Longitude in [-180, 180].
pub fn check_lon(lon: f64, field: &str) -> Result<(), ApiError> {
    if lon.is_finite() && (-180.0..=180.0).contains(&lon) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            "longitude must be a number in [-180, 180]",
        ))
    }
}

/// An id given in a path or body: 1 to 64 of letters, digits, `-`, `_`, `.`, `:`.
pub fn check_id(id: &str, field: &str) -> Result<(), ApiError> {
    if ::vendors::is_valid_id(id) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            format!("must be 1 to {MAX_ID_CHARS} letters, digits, '-', '_', '.' or ':'"),
        ))
    }
}

/// A capability (or incident type) name from the shared list.
pub fn parse_capability(name: &str, field: &str) -> Result<Capability, ApiError> {
    name.parse::<Capability>().map_err(|_| {
        ApiError::invalid(
            field,
            format!(
                "`{name}` is not one of {}",
                Capability::ALL.map(Capability::as_str).join(", ")
            ),
        )
    })
}
