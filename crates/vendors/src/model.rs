//! The vendor vocabulary: capabilities, availability and its allowed transitions, the id
//! rule and coordinate limits. The Lua scripts, the SQL schema, the handlers, the load
//! suite and the seed take these from here (or are tested against them). JSON field
//! names are camelCase.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use cache::GeoPoint;

/// A service a vendor offers; incident types use the same list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Capability {
    /// Flat tire change or repair.
    Tire,
    /// Engine trouble.
    Engine,
    /// Towing.
    Tow,
    /// Fuel delivery.
    Fuel,
    /// Locked out of the vehicle.
    Lockout,
    /// Battery jump start.
    Jumpstart,
}

impl Capability {
    /// Every capability, in a stable order.
    pub const ALL: [Capability; 6] = [
        Self::Tire,
        Self::Engine,
        Self::Tow,
        Self::Fuel,
        Self::Lockout,
        Self::Jumpstart,
    ];

    /// The wire name (`tire`, `engine`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tire => "tire",
            Self::Engine => "engine",
            Self::Tow => "tow",
            Self::Fuel => "fuel",
            Self::Lockout => "lockout",
            Self::Jumpstart => "jumpstart",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A capability name that is not on the shared list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown capability {0:?}")]
pub struct UnknownCapability(pub String);

impl FromStr for Capability {
    type Err = UnknownCapability;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCapability(s.to_owned()))
    }
}

/// Whether a vendor can take work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AvailabilityStatus {
    /// Can be assigned.
    Available,
    /// Working an incident.
    Busy,
    /// Not working.
    Offline,
}

impl AvailabilityStatus {
    /// Every status.
    pub const ALL: [AvailabilityStatus; 3] = [Self::Available, Self::Busy, Self::Offline];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::Busy => "busy",
            Self::Offline => "offline",
        }
    }

    /// The status named `s`, if any.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The statuses a vendor may be in for the availability API to move it to `next`
    /// (the one table of allowed transitions; SQL and the handlers take it from here).
    ///
    /// - `available` <-> `offline`: the vendor starts or stops working.
    /// - `busy` -> `available` / `offline`: the job is done (or dropped).
    /// - `available` -> `busy`: only together with an unmatched incident the vendor takes;
    ///   a busy vendor never goes straight to another incident (`busy` -> `busy` is refused),
    ///   and an offline vendor must become available first.
    /// - Setting the status a vendor already has is allowed (a retried request); for
    ///   `busy` only with the same incident, which [`Availability::check_transition`] checks.
    pub fn may_become(next: AvailabilityStatus) -> &'static [AvailabilityStatus] {
        match next {
            Self::Available => &[Self::Available, Self::Busy, Self::Offline],
            Self::Offline => &[Self::Available, Self::Busy, Self::Offline],
            Self::Busy => &[Self::Available, Self::Busy],
        }
    }
}

impl FromStr for AvailabilityStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

impl fmt::Display for AvailabilityStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status name that is not `available`, `busy` or `offline`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown availability status {0:?}")]
pub struct UnknownStatus(pub String);

/// Why an availability change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionRefused {
    /// The current status cannot move to the requested one.
    #[error("a vendor that is {from} cannot become {to}")]
    Status {
        /// The vendor's status now.
        from: AvailabilityStatus,
        /// The status asked for.
        to: AvailabilityStatus,
    },
    /// The vendor is busy with another incident.
    #[error("the vendor is busy with incident {current}")]
    OtherIncident {
        /// The incident the vendor works now.
        current: String,
    },
}

/// Availability with the incident a busy vendor is working.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Availability {
    /// available / busy / offline.
    pub status: AvailabilityStatus,
    /// The incident being worked, when busy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_incident_id: Option<String>,
}

impl Availability {
    /// Whether the availability API may change `self` into `next`
    /// (see [`AvailabilityStatus::may_become`]).
    pub fn check_transition(&self, next: &Availability) -> Result<(), TransitionRefused> {
        if !AvailabilityStatus::may_become(next.status).contains(&self.status) {
            return Err(TransitionRefused::Status {
                from: self.status,
                to: next.status,
            });
        }
        match (&self.current_incident_id, next.status) {
            (Some(current), AvailabilityStatus::Busy)
                if next.current_incident_id.as_ref() != Some(current) =>
            {
                Err(TransitionRefused::OtherIncident {
                    current: current.clone(),
                })
            }
            _ => Ok(()),
        }
    }

    /// Available, no incident.
    pub fn available() -> Self {
        Self {
            status: AvailabilityStatus::Available,
            current_incident_id: None,
        }
    }

    /// Busy with `incident_id`.
    pub fn busy(incident_id: impl Into<String>) -> Self {
        Self {
            status: AvailabilityStatus::Busy,
            current_incident_id: Some(incident_id.into()),
        }
    }

    /// Offline.
    pub fn offline() -> Self {
        Self {
            status: AvailabilityStatus::Offline,
            current_incident_id: None,
        }
    }
}

/// Operational figures of a vendor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VendorMetrics {
    /// Jobs completed.
    pub completed_jobs: u64,
    /// Share of offers accepted, 0..=1.
    pub acceptance_rate: f64,
    /// Mean minutes from assignment to arrival.
    pub average_response_minutes: f64,
}

/// A vendor profile as cached and as the platform's clients see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vendor {
    /// Stable id (no whitespace or commas).
    pub id: String,
    /// Display name.
    pub business_name: String,
    /// Services offered.
    pub capabilities: Vec<Capability>,
    /// Last reported position.
    pub location: GeoPoint,
    /// Current availability.
    pub availability: Availability,
    /// Average customer rating, 0..=5.
    pub rating: f64,
    /// Operational figures.
    pub metrics: VendorMetrics,
    /// The database row's version: raised by every write, so a cache holding version `n`
    /// knows that any answer with a smaller version is older than what it has.
    #[serde(default)]
    pub version: i64,
    /// When the database row last changed (RFC 3339, UTC); empty when unknown.
    #[serde(default)]
    pub updated_at: String,
}

/// Longest id (vendor, incident, driver) anywhere in the platform.
pub const MAX_ID_CHARS: usize = 64;

/// Whether `id` is a valid id: 1 to [`MAX_ID_CHARS`] ASCII letters, digits, `-`, `_`, `.`
/// or `:` (so ids are safe in Redis keys, logs and URLs without escaping).
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_CHARS
        && id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b':'))
}

/// Latitude limits the API accepts (degrees).
pub const MAX_ABS_LAT: f64 = 90.0;
/// Longitude limits the API accepts (degrees).
pub const MAX_ABS_LON: f64 = 180.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_camel_case() {
        let v = Vendor {
            id: "v1".into(),
            business_name: "Ace Towing".into(),
            capabilities: vec![Capability::Tow, Capability::Jumpstart],
            location: GeoPoint::new(40.0, -74.0),
            availability: Availability::busy("inc-9"),
            rating: 4.5,
            metrics: VendorMetrics::default(),
            version: 3,
            updated_at: "2026-12-01T00:00:00.000000Z".into(),
        };
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["businessName"], "Ace Towing");
        assert_eq!(json["capabilities"][1], "jumpstart");
        assert_eq!(json["availability"]["status"], "busy");
        assert_eq!(json["availability"]["currentIncidentId"], "inc-9");
        assert_eq!(json["metrics"]["completedJobs"], 0);
        let back: Vendor = serde_json::from_value(json).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn transitions_follow_the_table() {
        use AvailabilityStatus::*;
        let busy_a = Availability::busy("inc-a");
        assert!(Availability::available().check_transition(&busy_a).is_ok());
        assert!(busy_a.check_transition(&busy_a).is_ok());
        assert_eq!(
            busy_a.check_transition(&Availability::busy("inc-b")),
            Err(TransitionRefused::OtherIncident {
                current: "inc-a".into()
            })
        );
        assert_eq!(
            Availability::offline().check_transition(&busy_a),
            Err(TransitionRefused::Status {
                from: Offline,
                to: Busy
            })
        );
        for from in [
            Availability::available(),
            busy_a.clone(),
            Availability::offline(),
        ] {
            assert!(from.check_transition(&Availability::available()).is_ok());
            assert!(from.check_transition(&Availability::offline()).is_ok());
        }
    }

    #[test]
    fn ids_follow_the_rule() {
        assert!(is_valid_id("ven-0123:a.b_c"));
        assert!(is_valid_id(&"x".repeat(MAX_ID_CHARS)));
        for bad in ["", "a b", "a,b", "é", "a/b"] {
            assert!(!is_valid_id(bad), "{bad:?}");
        }
        assert!(!is_valid_id(&"x".repeat(MAX_ID_CHARS + 1)));
    }

    #[test]
    fn capability_names_round_trip() {
        for c in Capability::ALL {
            assert_eq!(c.as_str().parse::<Capability>().unwrap(), c);
        }
        assert!("winch".parse::<Capability>().is_err());
    }
}
