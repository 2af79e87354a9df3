//! Bodies of the incident routes.

use ::vendors::{Capability, GeoPoint};
use serde::{Deserialize, Serialize};

use super::{Location, MAX_DESCRIPTION_CHARS, check_id, parse_capability};
use crate::error::ApiError;

/// Body of `POST /incidents`, as the platform's clients already send it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IncidentInput {
    /// The driver who needs help.
    pub driver_id: String,
    /// The kind of help (the capability list).
    #[serde(rename = "type")]
    pub kind: String,
    /// Where.
    pub location: Location,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

/// A validated incident input.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidIncident {
    /// Driver id.
    pub driver_id: String,
    /// Kind of help.
    pub kind: Capability,
    /// Where.
    pub location: GeoPoint,
    /// Free text, possibly empty.
    pub description: String,
}

impl IncidentInput {
    /// Checks every field.
    pub fn validate(&self) -> Result<ValidIncident, ApiError> {
        check_id(&self.driver_id, "driverId")?;
        let kind = parse_capability(&self.kind, "type")?;
        let description = self.description.clone().unwrap_or_default();
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(ApiError::invalid(
                "description",
                format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
            ));
        }
        Ok(ValidIncident {
            driver_id: self.driver_id.clone(),
            kind,
            location: self.location.validate("location")?,
            description,
        })
    }
}

/// An incident as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncidentView {
    /// Incident id.
    pub incident_id: String,
    /// Driver id.
    pub driver_id: String,
    /// Kind of help.
    #[serde(rename = "type")]
    pub kind: String,
    /// Where.
    pub location: Location,
    /// Free text.
    pub description: String,
    /// `matched`, `unmatched` (no vendor in range), `in_progress`, `completed`, `cancelled`.
    pub status: String,
    /// The vendor assigned, if any.
    pub vendor_id: Option<String>,
    /// Creation time, RFC 3339 UTC.
    pub created_at: String,
}

/// The vendor matched to an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MatchView {
    /// Vendor id.
    pub vendor_id: String,
    /// Display name.
    pub business_name: String,
    /// Distance from the incident, in miles.
    pub distance_miles: f64,
}

/// Answer of `POST /incidents`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncidentCreated {
    /// The new incident's id.
    pub incident_id: String,
    /// The incident.
    pub incident: IncidentView,
    /// The vendor assigned, or `null` when none was in range.
    #[serde(rename = "match")]
    pub matched: Option<MatchView>,
}
