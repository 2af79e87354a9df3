//! Weighted scenarios: the traffic mix, as multi-step flows with captured values.
//!
//! A scenario is what one arrival does: a short flow of requests where later steps
//! use values captured from earlier answers (the incident id returned by
//! `POST /incidents`, vendor ids from a search). Steps that need a value the flow
//! has not captured are validated away when a profile is built, and skipped (and
//! counted) at run time when the server returned nothing to capture.

use std::fmt;
use std::time::Duration;

use rand::Rng;

/// The endpoints the suite measures, one histogram each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// `POST /incidents`
    CreateIncident,
    /// `GET /incidents/{id}`
    GetIncident,
    /// `GET /vendors/search`
    SearchVendors,
    /// `GET /vendors/{id}`
    GetVendor,
    /// `POST /vendors/{id}/location`
    UpdateLocation,
    /// `POST /vendors` (only during set-up, never measured against thresholds)
    CreateVendor,
}

impl Endpoint {
    /// Every measured endpoint, in report order.
    pub const MEASURED: [Endpoint; 5] = [
        Endpoint::CreateIncident,
        Endpoint::GetIncident,
        Endpoint::SearchVendors,
        Endpoint::GetVendor,
        Endpoint::UpdateLocation,
    ];

    /// Stable key used in profile files, JSON and thresholds.
    pub fn key(self) -> &'static str {
        match self {
            Endpoint::CreateIncident => "create_incident",
            Endpoint::GetIncident => "get_incident",
            Endpoint::SearchVendors => "search_vendors",
            Endpoint::GetVendor => "get_vendor",
            Endpoint::UpdateLocation => "update_location",
            Endpoint::CreateVendor => "create_vendor",
        }
    }

    /// Method and route template, for humans.
    pub fn route(self) -> &'static str {
        match self {
            Endpoint::CreateIncident => "POST /incidents",
            Endpoint::GetIncident => "GET /incidents/{id}",
            Endpoint::SearchVendors => "GET /vendors/search",
            Endpoint::GetVendor => "GET /vendors/{id}",
            Endpoint::UpdateLocation => "POST /vendors/{id}/location",
            Endpoint::CreateVendor => "POST /vendors",
        }
    }

    /// Parses a key as written by [`Endpoint::key`] (measured endpoints only).
    pub fn from_key(key: &str) -> Option<Self> {
        Self::MEASURED.into_iter().find(|e| e.key() == key)
    }

    /// The keys accepted by [`Endpoint::from_key`], for error messages.
    pub fn allowed_keys() -> String {
        Self::MEASURED.map(Endpoint::key).join(", ")
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// A value a step captures from an answer for later steps of the same flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// `incidentId` of the `POST /incidents` answer.
    IncidentId,
    /// `vendors[*].vendorId` of a search answer.
    VendorId,
}

impl Capture {
    /// Name of the captured value as it appears in answers.
    pub fn name(self) -> &'static str {
        match self {
            Capture::IncidentId => "incidentId",
            Capture::VendorId => "vendorId",
        }
    }
}

/// One step of a flow.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A request to a measured endpoint.
    Request(Endpoint),
    /// A pause drawn uniformly from `min..=max`, like a user reading the screen.
    Think {
        /// Shortest pause.
        min: Duration,
        /// Longest pause.
        max: Duration,
    },
}

impl Step {
    /// Names accepted in profile files.
    pub const NAMES: [&'static str; 6] = [
        "create_incident",
        "get_incident",
        "search_vendors",
        "get_vendor",
        "update_location",
        "think",
    ];

    /// Parses a step name; `think` gets the scenario's think range.
    pub fn from_name(name: &str, think: (Duration, Duration)) -> Option<Self> {
        if name == "think" {
            return Some(Step::Think {
                min: think.0,
                max: think.1,
            });
        }
        Endpoint::from_key(name).map(Step::Request)
    }

    /// The value this step needs from an earlier step, if any.
    pub fn needs(&self) -> Option<Capture> {
        match self {
            Step::Request(Endpoint::GetIncident) => Some(Capture::IncidentId),
            Step::Request(Endpoint::GetVendor | Endpoint::UpdateLocation) => {
                Some(Capture::VendorId)
            }
            _ => None,
        }
    }

    /// The value this step captures, if any.
    pub fn captures(&self) -> Option<Capture> {
        match self {
            Step::Request(Endpoint::CreateIncident) => Some(Capture::IncidentId),
            Step::Request(Endpoint::SearchVendors) => Some(Capture::VendorId),
            _ => None,
        }
    }

    /// Draws a think time.
    pub fn think_time<R: Rng + ?Sized>(min: Duration, max: Duration, rng: &mut R) -> Duration {
        if max <= min {
            return min;
        }
        let span = (max - min).as_secs_f64();
        min + Duration::from_secs_f64(rng.random::<f64>() * span)
    }
}

/// A named, weighted flow.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Name shown in reports.
    pub name: String,
    /// Relative weight in the mix (need not sum to 100).
    pub weight: u32,
    /// Steps in order.
    pub steps: Vec<Step>,
}

/// Why a flow is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("step {index} (`{step}`) needs `{capture}`, captured by an earlier `{producer}` step")]
pub struct FlowError {
    /// Zero-based step index.
    pub index: usize,
    /// Name of the step.
    pub step: String,
    /// The missing value.
    pub capture: &'static str,
    /// The step that would capture it.
    pub producer: &'static str,
}

impl Scenario {
    /// Checks that every step's needed value is captured earlier in the flow.
    pub fn validate(&self) -> Result<(), FlowError> {
        let mut have = Vec::new();
        for (index, step) in self.steps.iter().enumerate() {
            if let Some(need) = step.needs()
                && !have.contains(&need)
            {
                let (step_name, producer) = match step {
                    Step::Request(e) => (e.key(), producer_of(need)),
                    Step::Think { .. } => ("think", producer_of(need)),
                };
                return Err(FlowError {
                    index,
                    step: step_name.to_string(),
                    capture: need.name(),
                    producer,
                });
            }
            if let Some(captured) = step.captures() {
                have.push(captured);
            }
        }
        Ok(())
    }
}

fn producer_of(capture: Capture) -> &'static str {
    match capture {
        Capture::IncidentId => "create_incident",
        Capture::VendorId => "search_vendors",
    }
}

/// Weighted choice among scenarios by cumulative weight.
#[derive(Debug, Clone)]
pub struct ScenarioMix {
    scenarios: Vec<Scenario>,
    cumulative: Vec<u64>,
}

impl ScenarioMix {
    /// A mix; scenarios with weight 0 are never chosen. Returns `None` when every
    /// weight is 0 or the list is empty.
    pub fn new(scenarios: Vec<Scenario>) -> Option<Self> {
        let mut total = 0u64;
        let cumulative: Vec<u64> = scenarios
            .iter()
            .map(|s| {
                total += u64::from(s.weight);
                total
            })
            .collect();
        (total > 0).then_some(Self {
            scenarios,
            cumulative,
        })
    }

    /// The scenarios in definition order.
    pub fn scenarios(&self) -> &[Scenario] {
        &self.scenarios
    }

    /// Index of a scenario drawn by weight.
    pub fn pick<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        let total = *self.cumulative.last().unwrap_or(&1);
        let ticket = rng.random_range(0..total.max(1));
        self.cumulative
            .partition_point(|&c| c <= ticket)
            .min(self.scenarios.len().saturating_sub(1))
    }
}

/// The platform's mix from the previous suite: incident creation 40 %, vendor search
/// 30 %, vendor profile 20 %, location updates 10 %.
pub fn default_scenarios(think: (Duration, Duration)) -> Vec<Scenario> {
    let t = Step::Think {
        min: think.0,
        max: think.1,
    };
    let r = Step::Request;
    vec![
        Scenario {
            name: "incident".into(),
            weight: 40,
            steps: vec![
                r(Endpoint::CreateIncident),
                t.clone(),
                r(Endpoint::GetIncident),
            ],
        },
        Scenario {
            name: "vendor_search".into(),
            weight: 30,
            steps: vec![r(Endpoint::SearchVendors)],
        },
        Scenario {
            name: "vendor_profile".into(),
            weight: 20,
            steps: vec![
                r(Endpoint::SearchVendors),
                t.clone(),
                r(Endpoint::GetVendor),
            ],
        },
        Scenario {
            name: "location_update".into(),
            weight: 10,
            steps: vec![r(Endpoint::SearchVendors), t, r(Endpoint::UpdateLocation)],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const THINK: (Duration, Duration) = (Duration::from_millis(10), Duration::from_millis(20));

    #[test]
    fn weighted_selection_matches_proportions() {
        let mix = ScenarioMix::new(default_scenarios(THINK)).unwrap();
        let mut rng = StdRng::seed_from_u64(42);
        let draws = 100_000;
        let mut counts = [0usize; 4];
        for _ in 0..draws {
            counts[mix.pick(&mut rng)] += 1;
        }
        for (count, weight) in counts.iter().zip([40.0, 30.0, 20.0, 10.0]) {
            let share = *count as f64 / draws as f64 * 100.0;
            assert!((share - weight).abs() < 1.0, "{counts:?}");
        }
    }

    #[test]
    fn zero_weight_is_never_chosen() {
        let mut scenarios = default_scenarios(THINK);
        scenarios[0].weight = 0;
        let mix = ScenarioMix::new(scenarios).unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        assert!((0..10_000).all(|_| mix.pick(&mut rng) != 0));
        let mut none = default_scenarios(THINK);
        none.iter_mut().for_each(|s| s.weight = 0);
        assert!(ScenarioMix::new(none).is_none());
    }

    #[test]
    fn default_flows_are_valid() {
        for s in default_scenarios(THINK) {
            s.validate().unwrap();
        }
    }

    #[test]
    fn read_before_create_is_rejected() {
        let s = Scenario {
            name: "bad".into(),
            weight: 1,
            steps: vec![Step::Request(Endpoint::GetIncident)],
        };
        let err = s.validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "step 0 (`get_incident`) needs `incidentId`, captured by an earlier `create_incident` step"
        );
    }

    #[test]
    fn think_time_is_in_range() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..1000 {
            let t = Step::think_time(THINK.0, THINK.1, &mut rng);
            assert!(t >= THINK.0 && t <= THINK.1);
        }
    }
}
