//! SQL of the three services, on the `aurora` pool. PostgreSQL is the source of truth:
//! every write lands here first, and the cache follows.

pub mod incidents;
pub mod payments;
pub mod store;
pub mod vendors;

/// Earth radius in miles, for distances computed in SQL and in Rust alike.
pub const EARTH_RADIUS_MILES: f64 = 3958.8;

/// `created_at` as RFC 3339 UTC text, so no date-time type crosses the driver.
pub const RFC3339_UTC: &str =
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";

/// Great-circle distance in miles between two points.
pub fn haversine_miles(a: cache::GeoPoint, b: cache::GeoPoint) -> f64 {
    a.haversine_m(&b) / 1609.344
}

/// The bounding box (lat min, lat max, lon min, lon max) around `center` that contains the
/// circle of `radius_miles`, clamped to valid coordinates.
pub fn bounding_box(center: cache::GeoPoint, radius_miles: f64) -> (f64, f64, f64, f64) {
    let dlat = (radius_miles / 69.0).min(180.0);
    let cos = center.lat.to_radians().cos().abs().max(0.01);
    let dlon = (radius_miles / (69.0 * cos)).min(360.0);
    (
        (center.lat - dlat).max(-90.0),
        (center.lat + dlat).min(90.0),
        (center.lon - dlon).max(-180.0),
        (center.lon + dlon).min(180.0),
    )
}

/// SQL for the haversine distance in miles from `($lat, $lon)` given as parameters
/// `lat_param`/`lon_param` to the row's `lat`/`lon`.
///
/// PostgreSQL raises `22003 value out of range: underflow` when a float multiplication or
/// `power` rounds a non-zero result to zero, which legal but tiny inputs do (a longitude
/// of `1e-200` next to a vendor at 0). Angles are therefore snapped to 1e-9 degrees
/// (0.1 mm) before the trigonometry: a difference is then 0 or large enough to square.
pub fn sql_distance(lat_param: usize, lon_param: usize) -> String {
    let snap = |x: String| format!("(round(({x}) * 1e9) / 1e9)");
    let dlat = snap(format!("lat - ${lat_param}"));
    let dlon = snap(format!("lon - ${lon_param}"));
    let (lat0, lat1) = (snap(format!("${lat_param}")), snap("lat".to_owned()));
    format!(
        "(2 * {EARTH_RADIUS_MILES} * asin(sqrt(power(sin(radians({dlat}) / 2), 2) \
         + cos(radians({lat0})) * cos(radians({lat1})) * power(sin(radians({dlon}) / 2), 2))))"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use cache::GeoPoint;

    #[test]
    fn bounding_box_contains_the_circle() {
        let center = GeoPoint::new(40.7128, -74.0060);
        let (lat_min, lat_max, lon_min, lon_max) = bounding_box(center, 50.0);
        for bearing in 0..360 {
            let b = (bearing as f64).to_radians();
            // A point 49.9 miles away along `bearing` (spherical destination formula).
            let d = 49.9 / EARTH_RADIUS_MILES;
            let lat1 = center.lat.to_radians();
            let lon1 = center.lon.to_radians();
            let lat2 = (lat1.sin() * d.cos() + lat1.cos() * d.sin() * b.cos()).asin();
            let lon2 =
                lon1 + (b.sin() * d.sin() * lat1.cos()).atan2(d.cos() - lat1.sin() * lat2.sin());
            let (lat2, lon2) = (lat2.to_degrees(), lon2.to_degrees());
            assert!(
                (lat_min..=lat_max).contains(&lat2) && (lon_min..=lon_max).contains(&lon2),
                "{bearing}"
            );
        }
    }
}
