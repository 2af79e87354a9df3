//! Synthetic vendor fleet around real US metro areas (`data/us-metros.csv`), shared by
//! the tests and the benches: fixed seed, metros weighted by population, vendors scattered
//! uniformly over a disc of `scatter_miles` around the metro center.

use cache::{Availability, Capability, GeoPoint, Vendor, VendorMetrics};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A metro area from the CSV.
#[derive(Debug, Clone)]
pub struct Metro {
    pub name: String,
    pub center: GeoPoint,
    pub population: f64,
}

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
                center: GeoPoint::new(lat.parse().ok()?, lon.parse().ok()?),
                population: pop.parse().ok()?,
            })
        })
        .collect()
}

/// `count` vendors with ids `v000000`...; deterministic for a given seed.
pub fn fleet(count: usize, seed: u64, scatter_miles: f64) -> Vec<Vendor> {
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
            let center = metros[idx].center;
            let r = scatter_miles * rng.random_range(0.0f64..1.0).sqrt();
            let theta = rng.random_range(0.0..std::f64::consts::TAU);
            let lat = center.lat + r * theta.cos() / 69.0;
            let lon = center.lon + r * theta.sin() / (69.0 * center.lat.to_radians().cos());
            let mut capabilities: Vec<Capability> = Capability::ALL
                .into_iter()
                .filter(|_| rng.random_bool(0.4))
                .collect();
            if capabilities.is_empty() {
                capabilities.push(Capability::ALL[i % Capability::ALL.len()]);
            }
            let roll = rng.random_range(0..10);
            let availability = match roll {
                0..=5 => Availability::available(),
                6..=8 => Availability::busy(format!("inc-{i}")),
                _ => Availability::offline(),
            };
            Vendor {
                id: format!("v{i:06}"),
                business_name: format!("Vendor {i} of {}", metros[idx].name),
                capabilities,
                location: GeoPoint::new(lat, lon),
                availability,
                rating: rng.random_range(30..=50) as f64 / 10.0,
                metrics: VendorMetrics {
                    completed_jobs: rng.random_range(0..5000),
                    acceptance_rate: rng.random_range(0.5..1.0),
                    average_response_minutes: rng.random_range(10.0..60.0),
                },
                version: 0,
                updated_at: String::new(),
            }
        })
        .collect()
}
