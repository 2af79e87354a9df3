//! "Near this point" in SQL: the PostGIS nearest-neighbour query where the `geog` column
//! exists, the bounding-box query on `(lat, lon)` where it does not.
//!
//! Both decide "within the radius" with `geo_distance_m` (migration V2), the haversine on
//! Redis's sphere written like [`cache::GeoPoint::haversine_m`]: a vendor at the edge of a
//! radius is in or out the same way for PostgreSQL, Redis `GEOSEARCH` and the Rust code.
//! PostGIS only orders and narrows (its GiST index answers `ORDER BY geog <-> point` by
//! reading the nearest entries first); it never decides membership, because its sphere
//! (6371008.8 m) is not Redis's (6372797.56 m).

use std::sync::{Mutex, PoisonError};

use aurora::tokio_postgres::types::ToSql;
use aurora::{AuroraError, AuroraPool};
use cache::{EARTH_RADIUS_M, GeoPoint};

/// How the database finds vendors near a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeoPath {
    /// PostGIS: the GiST index on `geog`, nearest first.
    Geography,
    /// No PostGIS: `lat`/`lon` ranges on the B-tree, then the exact distance.
    BoundingBox,
}

/// Pools already asked, with the answer. A pool is identified by the address of its
/// configuration (shared by all its clones); the stored clone keeps that address from
/// being reused by another pool.
static DETECTED: Mutex<Vec<(AuroraPool, GeoPath)>> = Mutex::new(Vec::new());

fn pool_key(pool: &AuroraPool) -> *const aurora::AuroraConfig {
    std::ptr::from_ref(pool.config())
}

/// Which path `pool`'s database supports, asked once per pool (the catalog lookup runs
/// on the first call only). Run the migrations before the first search: a pool asked
/// before V2 keeps the bounding box until the process restarts.
pub async fn path(pool: &AuroraPool) -> Result<GeoPath, AuroraError> {
    {
        let known = DETECTED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, path)) = known.iter().find(|(p, _)| pool_key(p) == pool_key(pool)) {
            return Ok(*path);
        }
    }
    let has_geog: bool = pool
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_attribute \
             WHERE attrelid = to_regclass('vendors') AND attname = 'geog' AND NOT attisdropped)",
            &[],
        )
        .await?
        .try_get(0)?;
    let path = if has_geog {
        GeoPath::Geography
    } else {
        GeoPath::BoundingBox
    };
    let mut known = DETECTED.lock().unwrap_or_else(PoisonError::into_inner);
    if !known.iter().any(|(p, _)| pool_key(p) == pool_key(pool)) {
        known.push((pool.clone(), path));
    }
    Ok(path)
}

/// Latitude and longitude ranges that contain every point within a radius of a center.
///
/// Longitudes are two ranges so that a circle crossing the antimeridian is covered on both
/// sides (the second range is empty otherwise); a circle reaching a pole covers every
/// longitude.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    /// Southern edge, degrees.
    pub lat_min: f64,
    /// Northern edge, degrees.
    pub lat_max: f64,
    /// Longitude ranges, degrees, each `(west, east)` with `west <= east` unless empty.
    pub lon: [(f64, f64); 2],
}

/// A longitude range that matches nothing (`lon BETWEEN 1 AND 0`).
const NO_LONGITUDES: (f64, f64) = (1.0, 0.0);

impl BoundingBox {
    /// The box around the circle of `radius_m` metres (on Redis's sphere) about `center`.
    pub fn around(center: GeoPoint, radius_m: f64) -> Self {
        // A hair wider than the circle, so that rounding never cuts off a point that
        // `geo_distance_m` puts inside.
        let angle = radius_m.max(0.0) / EARTH_RADIUS_M * (1.0 + 1e-9) + 1e-12;
        let dlat = angle.to_degrees();
        let (lat_min, lat_max) = (center.lat - dlat, center.lat + dlat);
        let everywhere = Self {
            lat_min: lat_min.max(-90.0),
            lat_max: lat_max.min(90.0),
            lon: [(-180.0, 180.0), NO_LONGITUDES],
        };
        if lat_min <= -90.0 || lat_max >= 90.0 {
            return everywhere;
        }
        // The widest longitude the circle reaches (at the tangent latitude, not the
        // center's): sin(dlon) = sin(angle) / cos(lat).
        let ratio = angle.sin() / center.lat.to_radians().cos();
        if !ratio.is_finite() || ratio >= 1.0 || angle >= std::f64::consts::FRAC_PI_2 {
            return everywhere;
        }
        let dlon = ratio.asin().to_degrees();
        let (west, east) = (center.lon - dlon, center.lon + dlon);
        let lon = if west < -180.0 {
            [(west + 360.0, 180.0), (-180.0, east)]
        } else if east > 180.0 {
            [(west, 180.0), (-180.0, east - 360.0)]
        } else {
            [(west, east), NO_LONGITUDES]
        };
        Self {
            lat_min,
            lat_max,
            lon,
        }
    }
}

/// "Within `radius_m` of `center`, nearest first" as SQL on the `vendors` table.
///
/// A statement built from it has two levels: an inner `SELECT ... WHERE {narrow} AND
/// <filters> ORDER BY {order} LIMIT n` and an outer `WHERE {within}`. On PostGIS the inner
/// level is the index-ordered nearest-neighbour scan, which stops after `n` rows that pass
/// the filters; the radius is checked outside it, because as a filter inside it the scan
/// would read the whole table whenever fewer than `n` vendors are in range (and as
/// `ST_DWithin` it makes the planner trade the ordered scan for a bitmap scan and a sort).
/// The nearest `n` then cut to the radius are exactly the nearest `n` within the radius.
#[derive(Debug, Clone, PartialEq)]
pub struct Nearby {
    path: GeoPath,
    values: Vec<f64>,
}

/// The SQL pieces of a [`Nearby`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearbySql {
    /// Condition for the inner level (`true` on PostGIS).
    pub narrow: String,
    /// `ORDER BY` list for the inner level, nearest first.
    pub order: String,
    /// The distance in metres from the center to the row's `lat`/`lon`.
    pub distance: String,
    /// Condition for the outer level: the row is within the radius.
    pub within: String,
}

impl Nearby {
    /// The circle of `radius_m` metres about `center`, on `path`.
    pub fn new(path: GeoPath, center: GeoPoint, radius_m: f64) -> Self {
        let mut values = vec![center.lat, center.lon, radius_m];
        if path == GeoPath::BoundingBox {
            let b = BoundingBox::around(center, radius_m);
            values.extend([
                b.lat_min, b.lat_max, b.lon[0].0, b.lon[0].1, b.lon[1].0, b.lon[1].1,
            ]);
        }
        Self { path, values }
    }

    /// The parameters, to append to a statement's list at position `first` (1-based).
    pub fn params(&self) -> impl Iterator<Item = &(dyn ToSql + Sync)> {
        self.values.iter().map(|v| v as &(dyn ToSql + Sync))
    }

    /// How many parameters [`Nearby::params`] gives.
    pub fn param_count(&self) -> usize {
        self.values.len()
    }

    /// The SQL, with the parameters numbered from `first`.
    pub fn sql(&self, first: usize) -> NearbySql {
        NearbySql::new(self.path, first)
    }
}

impl NearbySql {
    /// The SQL of a [`Nearby`] on `path`, with its parameters numbered from `first`.
    pub fn new(path: GeoPath, first: usize) -> Self {
        let p = |i: usize| format!("${}::float8", first + i);
        let (lat, lon, radius) = (p(0), p(1), p(2));
        let distance = format!("geo_distance_m({lat}, {lon}, lat, lon)");
        let within = format!("{distance} <= {radius}");
        let (narrow, order) = match path {
            GeoPath::Geography => (
                "true".to_owned(),
                format!("geog <-> ST_SetSRID(ST_MakePoint({lon}, {lat}), 4326)::geography"),
            ),
            GeoPath::BoundingBox => (
                format!(
                    "lat BETWEEN {} AND {} AND (lon BETWEEN {} AND {} OR lon BETWEEN {} AND {}) \
                     AND {within}",
                    p(3),
                    p(4),
                    p(5),
                    p(6),
                    p(7),
                    p(8)
                ),
                format!("{distance}, id"),
            ),
        };
        NearbySql {
            narrow,
            order,
            distance,
            within,
        }
    }
}

/// The point `meters` from `from` along `bearing_deg` (degrees clockwise from north) on
/// Redis's sphere, with the longitude wrapped into [-180, 180).
pub fn destination(from: GeoPoint, bearing_deg: f64, meters: f64) -> GeoPoint {
    let d = meters / EARTH_RADIUS_M;
    let (lat1, lon1, b) = (
        from.lat.to_radians(),
        from.lon.to_radians(),
        bearing_deg.to_radians(),
    );
    let lat2 = (lat1.sin() * d.cos() + lat1.cos() * d.sin() * b.cos()).asin();
    let lon2 = lon1 + (b.sin() * d.sin() * lat1.cos()).atan2(d.cos() - lat1.sin() * lat2.sin());
    let lon = (lon2.to_degrees() + 540.0).rem_euclid(360.0) - 180.0;
    GeoPoint::new(lat2.to_degrees(), lon)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(b: &BoundingBox, p: GeoPoint) -> bool {
        (b.lat_min..=b.lat_max).contains(&p.lat)
            && b.lon.iter().any(|(w, e)| (*w..=*e).contains(&p.lon))
    }

    #[test]
    fn the_box_contains_the_circle_everywhere() {
        let radius = 50.0 * 1609.344;
        for center in [
            GeoPoint::new(40.7128, -74.0060),
            GeoPoint::new(0.0, 179.99),
            GeoPoint::new(-33.0, -179.9),
            GeoPoint::new(89.5, 10.0),
            GeoPoint::new(-89.9, -170.0),
            GeoPoint::new(70.0, 0.0),
        ] {
            let b = BoundingBox::around(center, radius);
            for bearing in 0..360 {
                for fraction in [0.5, 0.999_999] {
                    let p = destination(center, f64::from(bearing), radius * fraction);
                    assert!(contains(&b, p), "{center:?} {bearing} {p:?} {b:?}");
                }
            }
        }
    }

    #[test]
    fn the_antimeridian_splits_the_longitudes_and_a_pole_takes_them_all() {
        let b = BoundingBox::around(GeoPoint::new(0.0, 179.99), 10_000.0);
        assert!(b.lon[0].0 > 179.0 && b.lon[0].1 == 180.0, "{b:?}");
        assert!(b.lon[1].0 == -180.0 && b.lon[1].1 < -179.0, "{b:?}");
        let polar = BoundingBox::around(GeoPoint::new(89.9, 0.0), 50_000.0);
        assert_eq!((polar.lat_max, polar.lon[0]), (90.0, (-180.0, 180.0)));
        let plain = BoundingBox::around(GeoPoint::new(10.0, 10.0), 1000.0);
        assert_eq!(plain.lon[1], NO_LONGITUDES);
    }
}
