//! The JSON the routes take and give (camelCase, as the platform's clients use), and the
//! validation of every input field.

use vendors::{Availability, Capability, GeoPoint, Vendor, VendorMetrics};

use serde::{Deserialize, Serialize};
/// The vendor document and the id limit are the vendor wing's; routes show them as is.
pub use vendors::{AvailabilityView, MAX_ID_CHARS, MetricsView, VendorView};

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
    if vendors::is_valid_id(id) {
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

/// One line item of a payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LineItem {
    /// What it is for.
    pub description: String,
    /// Amount in integer cents (> 0).
    pub amount_cents: i64,
}

/// Body of `POST /payments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentInput {
    /// The incident paid for.
    pub incident_id: String,
    /// The vendor paid.
    pub vendor_id: String,
    /// Total in integer cents (> 0).
    pub amount_cents: i64,
    /// ISO 4217 code, e.g. `USD`.
    pub currency: String,
    /// Items summing to the total.
    pub line_items: Vec<LineItem>,
}

/// Most line items in one payment.
pub const MAX_LINE_ITEMS: usize = 100;

impl PaymentInput {
    /// Checks every field and that the items sum to the total.
    pub fn validate(&self) -> Result<(), ApiError> {
        check_id(&self.incident_id, "incidentId")?;
        check_id(&self.vendor_id, "vendorId")?;
        if self.amount_cents <= 0 {
            return Err(ApiError::invalid(
                "amountCents",
                "must be a positive integer number of cents",
            ));
        }
        if self.currency.len() != 3 || !self.currency.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(ApiError::invalid(
                "currency",
                "must be an ISO 4217 code such as USD",
            ));
        }
        if self.line_items.is_empty() || self.line_items.len() > MAX_LINE_ITEMS {
            return Err(ApiError::invalid(
                "lineItems",
                format!("give 1 to {MAX_LINE_ITEMS} line items"),
            ));
        }
        let mut total: i64 = 0;
        for (i, item) in self.line_items.iter().enumerate() {
            let name = item.description.trim();
            if name.is_empty() || name.chars().count() > 500 {
                return Err(ApiError::invalid(
                    format!("lineItems[{i}].description"),
                    "must be 1 to 500 characters",
                ));
            }
            if item.amount_cents <= 0 {
                return Err(ApiError::invalid(
                    format!("lineItems[{i}].amountCents"),
                    "must be a positive integer number of cents",
                ));
            }
            total = total
                .checked_add(item.amount_cents)
                .ok_or_else(|| ApiError::invalid("lineItems", "the line items overflow"))?;
        }
        if total != self.amount_cents {
            return Err(ApiError::invalid(
                "lineItems",
                format!(
                    "line items sum to {total} cents but amountCents is {}",
                    self.amount_cents
                ),
            ));
        }
        Ok(())
    }
}

/// A payment as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView {
    /// Payment id.
    pub payment_id: String,
    /// The incident paid for.
    pub incident_id: String,
    /// The vendor paid.
    pub vendor_id: String,
    /// Total in cents.
    pub amount_cents: i64,
    /// Currency.
    pub currency: String,
    /// Items.
    pub line_items: Vec<LineItem>,
    /// Creation time, RFC 3339 UTC.
    pub created_at: String,
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
