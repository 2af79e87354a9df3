//! A synthetic vendor fleet around real US metro areas (`data/us-metros.csv`), shared by
//! the tests and benches of every crate: fixed seed, metros weighted by population,
//! vendors scattered uniformly over a disc around the metro center. Plain data, so the
//! crates that own the vendor types map it into theirs.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A metro area from the CSV.
#[derive(Debug, Clone)]
pub struct Metro {
    /// City name.
    pub name: String,
    /// Latitude of the center.
    pub lat: f64,
    /// Longitude of the center.
    pub lon: f64,
    /// Population (the weight).
    pub population: f64,
}

/// Availability of a fleet member: 60 % available, 30 % busy, 10 % offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetStatus {
    /// Can take work.
    Available,
    /// Working an incident.
    Busy,
    /// Not working.
    Offline,
}

/// One vendor of the fleet.
#[derive(Debug, Clone)]
pub struct FleetMember {
    /// `v000000`, `v000001`, ...
    pub id: String,
    /// "Vendor N of City".
    pub name: String,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Indices into the capability list given to [`fleet`] (at least one).
    pub capabilities: Vec<usize>,
    /// Availability.
    pub status: FleetStatus,
    /// Rating 3.0..=5.0.
    pub rating: f64,
    /// Jobs completed.
    pub completed_jobs: u64,
}

/// The metros of `data/us-metros.csv`.
pub fn metros() -> Vec<Metro> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/us-metros.csv");
    let text = std::fs::read_to_string(path).expect("read data/us-metros.csv");
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let [name, _state, lat, lon, pop] = f.as_slice() else {
                return None;
            };
            Some(Metro {
                name: (*name).to_owned(),
                lat: lat.parse().ok()?,
                lon: lon.parse().ok()?,
                population: pop.parse().ok()?,
            })
        })
        .collect()
}

/// `count` vendors, deterministic for a given seed, each offering every one of
/// `capability_count` capabilities with probability 0.4 (at least one).
pub fn fleet(
    count: usize,
    seed: u64,
    scatter_miles: f64,
    capability_count: usize,
) -> Vec<FleetMember> {
    let metros = metros();
    let mut cumulative = Vec::with_capacity(metros.len());
    let mut total = 0.0;
    for m in &metros {
        total += m.population;
        cumulative.push(total);
    }
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|i| {
            let pick = rng.random_range(0.0..total);
            let idx = cumulative
                .partition_point(|&c| c <= pick)
                .min(metros.len() - 1);
            let m = &metros[idx];
            let r = scatter_miles * rng.random_range(0.0f64..1.0).sqrt();
            let theta = rng.random_range(0.0..std::f64::consts::TAU);
            let lat = m.lat + r * theta.cos() / 69.0;
            let lon = m.lon + r * theta.sin() / (69.0 * m.lat.to_radians().cos());
            let mut capabilities: Vec<usize> = (0..capability_count)
                .filter(|_| rng.random_bool(0.4))
                .collect();
            if capabilities.is_empty() && capability_count > 0 {
                capabilities.push(i % capability_count);
            }
            let status = match rng.random_range(0..10) {
                0..=5 => FleetStatus::Available,
                6..=8 => FleetStatus::Busy,
                _ => FleetStatus::Offline,
            };
            FleetMember {
                id: format!("v{i:06}"),
                name: format!("Vendor {i} of {}", m.name),
                lat,
                lon,
                capabilities,
                status,
                rating: rng.random_range(30..=50) as f64 / 10.0,
                completed_jobs: rng.random_range(0..5000),
            }
        })
        .collect()
}
