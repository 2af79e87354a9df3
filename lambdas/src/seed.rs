//! A deterministic demo data set: vendors around the 300 most populous US places
//! (`data/us-metros.csv`, GeoNames, CC BY 4.0), weighted by population.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vendors::{Availability, Capability, GeoPoint, Vendor, VendorMetrics};

/// The metro list, embedded so the binary needs no data files.
pub const US_METROS_CSV: &str = include_str!("../../data/us-metros.csv");

/// A place vendors cluster around.
#[derive(Debug, Clone, PartialEq)]
pub struct Metro {
    /// Place name.
    pub name: String,
    /// State code.
    pub state: String,
    /// Center.
    pub center: GeoPoint,
    /// Population (the weight).
    pub population: u64,
}

/// Parses the embedded metro list (rows that do not parse are skipped).
pub fn metros() -> Vec<Metro> {
    US_METROS_CSV
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut f = line.split(',');
            let (name, state, lat, lon, pop) =
                (f.next()?, f.next()?, f.next()?, f.next()?, f.next()?);
            Some(Metro {
                name: name.to_owned(),
                state: state.to_owned(),
                center: GeoPoint::new(lat.parse().ok()?, lon.parse().ok()?),
                population: pop.trim().parse().ok()?,
            })
        })
        .collect()
}

/// A point up to `max_miles` from `center`, uniformly over the disc.
pub fn scatter(rng: &mut impl Rng, center: GeoPoint, max_miles: f64) -> GeoPoint {
    let distance = max_miles * rng.random::<f64>().sqrt();
    let bearing = rng.random::<f64>() * std::f64::consts::TAU;
    let dlat = distance * bearing.cos() / 69.0;
    let dlon = distance * bearing.sin() / (69.0 * center.lat.to_radians().cos().max(0.01));
    GeoPoint::new(
        (center.lat + dlat).clamp(-90.0, 90.0),
        (center.lon + dlon).clamp(-180.0, 180.0),
    )
}

/// Picks a metro with probability proportional to its population.
pub fn pick_metro<'a>(rng: &mut impl Rng, metros: &'a [Metro], total_population: u64) -> &'a Metro {
    let mut target = rng.random_range(0..total_population.max(1));
    for metro in metros {
        if target < metro.population {
            return metro;
        }
        target -= metro.population;
    }
    &metros[metros.len() - 1]
}

/// `count` vendors, the same for the same `seed`: ids `ven-seed-000001`..., every
/// capability represented, all available.
pub fn vendors(count: usize, seed: u64) -> Vec<Vendor> {
    let metros = metros();
    if metros.is_empty() {
        return Vec::new();
    }
    let total: u64 = metros.iter().map(|m| m.population).sum();
    let mut rng = StdRng::seed_from_u64(seed);
    (1..=count)
        .map(|i| {
            let metro = pick_metro(&mut rng, &metros, total);
            let mut capabilities: Vec<Capability> = Capability::ALL
                .iter()
                .copied()
                .filter(|_| rng.random_bool(0.45))
                .collect();
            if capabilities.is_empty() {
                capabilities.push(Capability::ALL[i % Capability::ALL.len()]);
            }
            Vendor {
                id: format!("ven-seed-{i:06}"),
                business_name: format!("{} Roadside {i}", metro.name),
                capabilities,
                location: scatter(&mut rng, metro.center, 30.0),
                availability: Availability::available(),
                rating: (3.0 + rng.random::<f64>() * 2.0 * 10.0).round() / 10.0,
                metrics: VendorMetrics::default(),
                version: 0,
                updated_at: String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_set_is_deterministic_and_near_real_places() {
        let a = vendors(500, 7);
        assert_eq!(a, vendors(500, 7));
        assert_ne!(a, vendors(500, 8));
        assert_eq!(metros().len(), 300);
        let metros = metros();
        for v in &a {
            let nearest = metros
                .iter()
                .map(|m| m.center.haversine_m(&v.location) / 1609.344)
                .fold(f64::INFINITY, f64::min);
            assert!(
                nearest <= 30.5,
                "{} is {nearest} miles from any metro",
                v.id
            );
            assert!(!v.capabilities.is_empty());
        }
        for cap in Capability::ALL {
            assert!(a.iter().any(|v| v.capabilities.contains(&cap)), "{cap:?}");
        }
    }
}
