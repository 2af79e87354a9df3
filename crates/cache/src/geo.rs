//! Geographic points and `GEOSEARCH` queries and replies.

use serde::{Deserialize, Serialize};

use crate::error::CacheError;

/// The earth radius Redis uses for its geo distances, in meters, so client-side
/// distances agree with `GEODIST`/`GEOSEARCH` to the last digit that matters.
pub const EARTH_RADIUS_M: f64 = 6_372_797.560_856;

/// A WGS84 position. Serialized as `{"lat": .., "lon": ..}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    /// Latitude in degrees, -85.05112878..=85.05112878 for Redis.
    pub lat: f64,
    /// Longitude in degrees, -180..=180.
    pub lon: f64,
}

impl GeoPoint {
    /// A point from latitude and longitude in degrees.
    pub const fn new(lat: f64, lon: f64) -> Self {
        Self { lat, lon }
    }

    /// Whether Redis can index this point (it rejects latitudes beyond ±85.05112878).
    pub fn is_valid(&self) -> bool {
        self.lat.is_finite()
            && self.lon.is_finite()
            && (-85.051_128_78..=85.051_128_78).contains(&self.lat)
            && (-180.0..=180.0).contains(&self.lon)
    }

    /// Great-circle distance in meters (haversine, Redis's earth radius).
    pub fn haversine_m(&self, other: &GeoPoint) -> f64 {
        let (lat1, lat2) = (self.lat.to_radians(), other.lat.to_radians());
        let dlat = lat2 - lat1;
        let dlon = (other.lon - self.lon).to_radians();
        let a = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * a.sqrt().asin()
    }

    pub(crate) fn validate(&self) -> Result<(), CacheError> {
        if self.is_valid() {
            Ok(())
        } else {
            Err(CacheError::InvalidInput(format!(
                "position out of range: lat {} lon {}",
                self.lat, self.lon
            )))
        }
    }
}

/// Distance unit of a geo query and of the distances it returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum GeoUnit {
    /// Meters.
    Meters,
    /// Kilometers.
    Kilometers,
    /// Statute miles (the platform's default).
    #[default]
    Miles,
    /// Feet.
    Feet,
}

impl GeoUnit {
    /// The unit token Redis expects.
    pub fn as_redis(self) -> &'static str {
        match self {
            Self::Meters => "m",
            Self::Kilometers => "km",
            Self::Miles => "mi",
            Self::Feet => "ft",
        }
    }

    /// Meters in one unit.
    pub fn meters(self) -> f64 {
        match self {
            Self::Meters => 1.0,
            Self::Kilometers => 1000.0,
            Self::Miles => 1609.344,
            Self::Feet => 0.3048,
        }
    }
}

/// The area of a `GEOSEARCH`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GeoShape {
    /// `BYRADIUS r unit`.
    Radius(f64),
    /// `BYBOX width height unit`.
    Box {
        /// East-west extent.
        width: f64,
        /// North-south extent.
        height: f64,
    },
}

/// A `GEOSEARCH key FROMLONLAT lon lat (BYRADIUS|BYBOX) ... ASC [COUNT n] WITHDIST WITHCOORD`.
///
/// Results are always nearest first and always carry distance and coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoQuery {
    /// Center of the search.
    pub center: GeoPoint,
    /// Radius or box.
    pub shape: GeoShape,
    /// Unit of the shape and of returned distances.
    pub unit: GeoUnit,
    /// At most this many results (`COUNT`); `None` returns every member in the area.
    pub count: Option<usize>,
}

impl GeoQuery {
    /// Members within `radius` (in `unit`) of `center`, nearest first.
    pub fn radius(center: GeoPoint, radius: f64, unit: GeoUnit) -> Self {
        Self {
            center,
            shape: GeoShape::Radius(radius),
            unit,
            count: None,
        }
    }

    /// Members inside a `width` x `height` box centred on `center`, nearest first.
    pub fn bbox(center: GeoPoint, width: f64, height: f64, unit: GeoUnit) -> Self {
        Self {
            center,
            shape: GeoShape::Box { width, height },
            unit,
            count: None,
        }
    }

    /// Limits the number of results.
    pub fn limit(mut self, count: usize) -> Self {
        self.count = Some(count);
        self
    }

    pub(crate) fn as_cmd(&self, key: &str) -> redis::Cmd {
        let mut cmd = redis::cmd("GEOSEARCH");
        cmd.arg(key)
            .arg("FROMLONLAT")
            .arg(self.center.lon)
            .arg(self.center.lat);
        match self.shape {
            GeoShape::Radius(r) => cmd.arg("BYRADIUS").arg(r),
            GeoShape::Box { width, height } => cmd.arg("BYBOX").arg(width).arg(height),
        };
        cmd.arg(self.unit.as_redis()).arg("ASC");
        if let Some(n) = self.count {
            cmd.arg("COUNT").arg(n.max(1));
        }
        cmd.arg("WITHDIST").arg("WITHCOORD");
        cmd
    }
}

/// One `GEOSEARCH` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeoMatch {
    /// The set member (for vendors, the vendor id).
    pub member: String,
    /// Distance from the query center, in the query's unit.
    pub distance: f64,
    /// The member's stored position (geohash precision, about 0.6 m).
    pub location: GeoPoint,
}

pub(crate) fn value_to_string(v: &redis::Value) -> Option<String> {
    match v {
        redis::Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        redis::Value::SimpleString(s) => Some(s.clone()),
        redis::Value::Int(i) => Some(i.to_string()),
        redis::Value::Okay => Some("OK".to_owned()),
        _ => None,
    }
}

pub(crate) fn value_to_f64(v: &redis::Value) -> Option<f64> {
    match v {
        redis::Value::Double(d) => Some(*d),
        redis::Value::Int(i) => Some(*i as f64),
        other => value_to_string(other)?.parse().ok(),
    }
}

fn bad_reply(what: &str) -> CacheError {
    CacheError::Command(format!("unexpected GEOSEARCH reply: {what}").into())
}

/// Parses `[[member, dist, [lon, lat]], ...]` (WITHDIST WITHCOORD, in that order).
pub(crate) fn parse_matches(reply: &redis::Value) -> Result<Vec<GeoMatch>, CacheError> {
    let items = match reply {
        redis::Value::Array(items) | redis::Value::Set(items) => items,
        redis::Value::Nil => return Ok(Vec::new()),
        _ => return Err(bad_reply("not an array")),
    };
    items
        .iter()
        .map(|item| {
            let redis::Value::Array(fields) = item else {
                return Err(bad_reply("item is not an array"));
            };
            let [member, dist, coord] = fields.as_slice() else {
                return Err(bad_reply("item does not have 3 fields"));
            };
            let member = value_to_string(member).ok_or_else(|| bad_reply("member"))?;
            let distance = value_to_f64(dist).ok_or_else(|| bad_reply("distance"))?;
            let redis::Value::Array(lonlat) = coord else {
                return Err(bad_reply("coordinates"));
            };
            let [lon, lat] = lonlat.as_slice() else {
                return Err(bad_reply("coordinates"));
            };
            let lon = value_to_f64(lon).ok_or_else(|| bad_reply("longitude"))?;
            let lat = value_to_f64(lat).ok_or_else(|| bad_reply("latitude"))?;
            Ok(GeoMatch {
                member,
                distance,
                location: GeoPoint { lat, lon },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_matches_known_distance() {
        // New York City to Los Angeles is about 2,446 miles great-circle.
        let nyc = GeoPoint::new(40.71427, -74.00597);
        let la = GeoPoint::new(34.05223, -118.24368);
        let miles = nyc.haversine_m(&la) / GeoUnit::Miles.meters();
        assert!((miles - 2446.0).abs() < 10.0, "{miles}");
    }

    #[test]
    fn invalid_points_are_rejected() {
        assert!(!GeoPoint::new(89.0, 0.0).is_valid());
        assert!(!GeoPoint::new(0.0, f64::NAN).is_valid());
        assert!(GeoPoint::new(40.0, -74.0).is_valid());
    }

    #[test]
    fn malformed_reply_is_an_error_not_a_panic() {
        let reply = redis::Value::Array(vec![redis::Value::Int(3)]);
        assert!(parse_matches(&reply).is_err());
    }
}
