//! Bodies of the vendor routes.

use ::vendors::{Availability, Capability, GeoPoint, Vendor, VendorMetrics};
use serde::Deserialize;

use super::{Location, MAX_NAME_CHARS, check_id, parse_capability};
use crate::error::ApiError;

/// Body of `POST /vendors` and `PUT /vendors/{id}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VendorInput {
    /// Display name.
    pub business_name: String,
    /// Services offered (at least one).
    pub capabilities: Vec<String>,
    /// Position.
    pub location: Location,
    /// Average rating; 0 for a new vendor.
    #[serde(default)]
    pub rating: Option<f64>,
}

/// A validated vendor input.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidVendor {
    /// Display name, trimmed.
    pub business_name: String,
    /// Capabilities, sorted and unique.
    pub capabilities: Vec<Capability>,
    /// Position.
    pub location: GeoPoint,
    /// Rating 0..=5.
    pub rating: f64,
}

impl VendorInput {
    /// Checks every field.
    pub fn validate(&self) -> Result<ValidVendor, ApiError> {
        let name = self.business_name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(ApiError::invalid(
                "businessName",
                format!("must be 1 to {MAX_NAME_CHARS} characters"),
            ));
        }
        if self.capabilities.is_empty() {
            return Err(ApiError::invalid(
                "capabilities",
                "list at least one capability",
            ));
        }
        let mut capabilities = Vec::new();
        for (i, name) in self.capabilities.iter().enumerate() {
            capabilities.push(parse_capability(name, &format!("capabilities[{i}]"))?);
        }
        capabilities.sort_by_key(|c| c.as_str());
        capabilities.dedup();
        let rating = self.rating.unwrap_or(0.0);
        if !rating.is_finite() || !(0.0..=5.0).contains(&rating) {
            return Err(ApiError::invalid("rating", "must be a number in [0, 5]"));
        }
        Ok(ValidVendor {
            business_name: name.to_owned(),
            capabilities,
            location: self.location.validate("location")?,
            rating,
        })
    }
}

/// Body of `PATCH /vendors/{id}/availability`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AvailabilityInput {
    /// `available`, `busy` or `offline`.
    pub status: String,
    /// Required with `busy`, refused otherwise.
    #[serde(default)]
    pub incident_id: Option<String>,
}

impl AvailabilityInput {
    /// Checks the combination of status and incident.
    pub fn validate(&self) -> Result<Availability, ApiError> {
        match (self.status.as_str(), &self.incident_id) {
            ("available", None) => Ok(Availability::available()),
            ("offline", None) => Ok(Availability::offline()),
            ("busy", Some(id)) => {
                check_id(id, "incidentId")?;
                Ok(Availability::busy(id.clone()))
            }
            ("busy", None) => Err(ApiError::invalid(
                "incidentId",
                "a busy vendor needs the incident it works",
            )),
            ("available" | "offline", Some(_)) => Err(ApiError::invalid(
                "incidentId",
                "only a busy vendor has an incident",
            )),
            (other, _) => Err(ApiError::invalid(
                "status",
                format!("`{other}` is not one of available, busy, offline"),
            )),
        }
    }
}

/// A new vendor's profile from a validated input.
pub fn new_vendor(id: String, input: &ValidVendor) -> Vendor {
    Vendor {
        id,
        business_name: input.business_name.clone(),
        capabilities: input.capabilities.clone(),
        location: input.location,
        availability: Availability::available(),
        rating: input.rating,
        metrics: VendorMetrics::default(),
        version: 1,
        updated_at: String::new(),
    }
}
