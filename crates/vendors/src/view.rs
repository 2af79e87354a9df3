//! The vendor document: a vendor as the platform's clients see it (`GET /vendors/{id}`, each
//! search result), rendered once per database write and stored as JSON text, so a cache
//! hit or a search is answered by copying bytes, not by decoding and re-encoding.

use serde::{Deserialize, Serialize};

use crate::model::{AvailabilityStatus, Capability, Vendor};
use cache::GeoPoint;

/// Availability as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AvailabilityView {
    /// `available`, `busy` or `offline`.
    pub status: AvailabilityStatus,
    /// The incident a busy vendor works.
    pub incident_id: Option<String>,
}

/// Operational figures as the API shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsView {
    /// Jobs completed.
    pub completed_jobs: u64,
    /// Mean minutes from assignment to arrival.
    pub avg_response_minutes: f64,
}

/// A vendor as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VendorView {
    /// Vendor id.
    pub vendor_id: String,
    /// Display name.
    pub business_name: String,
    /// Services offered.
    pub capabilities: Vec<Capability>,
    /// Last reported position.
    pub location: GeoPoint,
    /// Availability.
    pub availability: AvailabilityView,
    /// Average rating 0..=5.
    pub rating: f64,
    /// Operational figures.
    pub metrics: MetricsView,
    /// When the vendor last changed (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub updated_at: String,
    /// Distance from the search center, in miles (search results only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance_miles: Option<f64>,
}

impl From<&Vendor> for VendorView {
    fn from(v: &Vendor) -> Self {
        Self {
            vendor_id: v.id.clone(),
            business_name: v.business_name.clone(),
            capabilities: v.capabilities.clone(),
            location: v.location,
            availability: AvailabilityView {
                status: v.availability.status,
                incident_id: v.availability.current_incident_id.clone(),
            },
            rating: v.rating,
            metrics: MetricsView {
                completed_jobs: v.metrics.completed_jobs,
                avg_response_minutes: v.metrics.average_response_minutes,
            },
            updated_at: v.updated_at.clone(),
            distance_miles: None,
        }
    }
}

/// A [`VendorView`] rendered as a JSON object (no distance).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VendorDoc(String);

impl VendorDoc {
    /// Renders `vendor`.
    pub fn render(vendor: &Vendor) -> Self {
        // Serializing plain structs of strings, numbers and enums cannot fail.
        Self(serde_json::to_string(&VendorView::from(vendor)).unwrap_or_else(|_| "{}".into()))
    }

    /// Wraps JSON text that [`VendorDoc::render`] produced (read back from Redis).
    pub fn from_rendered(json: String) -> Self {
        Self(json)
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The JSON text, owned.
    pub fn into_string(self) -> String {
        self.0
    }

    /// Appends the document to `out` with `"distanceMiles"` (rounded to 0.01) added.
    pub fn write_with_distance(json: &str, miles: f64, out: &mut String) {
        use std::fmt::Write;
        let body = json.strip_suffix('}').unwrap_or(json);
        out.push_str(body);
        let rounded = (miles * 100.0).round() / 100.0;
        let sep = if body.ends_with('{') { "" } else { "," };
        // f64's Display never prints NaN here: distances come from finite coordinates.
        let _ = write!(out, "{sep}\"distanceMiles\":{rounded}}}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Availability, VendorMetrics};

    #[test]
    fn a_rendered_document_reads_back_as_the_view_with_its_distance() {
        let v = Vendor {
            id: "v1".into(),
            business_name: "Ace \"Towing\"".into(),
            capabilities: vec![Capability::Tow],
            location: GeoPoint::new(40.0, -74.0),
            availability: Availability::busy("inc-1"),
            rating: 4.5,
            metrics: VendorMetrics::default(),
            version: 2,
            updated_at: "2026-12-01T00:00:00.000000Z".into(),
        };
        let doc = VendorDoc::render(&v);
        let mut out = String::new();
        VendorDoc::write_with_distance(doc.as_str(), 1.23456, &mut out);
        let back: VendorView = serde_json::from_str(&out).unwrap();
        assert_eq!(back.distance_miles, Some(1.23));
        assert_eq!(back.business_name, "Ace \"Towing\"");
        assert_eq!(back.availability.incident_id.as_deref(), Some("inc-1"));
        assert_eq!(
            VendorView {
                distance_miles: None,
                ..back
            },
            VendorView::from(&v)
        );
    }
}
