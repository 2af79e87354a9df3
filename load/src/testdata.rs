//! Test data: request coordinates placed around real US metro areas.
//!
//! Traffic in production clusters where people live, so a uniform scatter over the
//! map would under-load the hot geo cells and over-load the empty ones. Metros are
//! drawn in proportion to their population and a point is scattered within a disc
//! around the metro centre.

use std::path::Path;

use rand::Rng;

/// The metro list shipped with the workspace, embedded so the binary runs anywhere.
pub const EMBEDDED_METROS_CSV: &str = include_str!("../../data/us-metros.csv");

/// Miles per degree of latitude (and of longitude at the equator).
const MILES_PER_DEGREE: f64 = 69.0;

/// Errors reading a metro list.
#[derive(Debug, thiserror::Error)]
pub enum MetroError {
    /// The file could not be read.
    #[error("cannot read metro list {path}: {source}")]
    Read {
        /// Path of the file.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A line is not `name,state,lat,lon,population` with valid numbers.
    #[error("{source_name}:{line}: {message}")]
    Parse {
        /// File name (or `embedded`).
        source_name: String,
        /// One-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// No usable line was found.
    #[error("{0}: no metro areas with a positive population")]
    Empty(String),
}

/// One metro area.
#[derive(Debug, Clone, PartialEq)]
pub struct Metro {
    /// City name.
    pub name: String,
    /// Two-letter state code.
    pub state: String,
    /// Latitude of the centre.
    pub lat: f64,
    /// Longitude of the centre.
    pub lon: f64,
    /// Population, used as the sampling weight.
    pub population: u64,
}

/// A point on the map.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Latitude in decimal degrees.
    pub lat: f64,
    /// Longitude in decimal degrees.
    pub lon: f64,
}

/// Metro areas with a cumulative population index for weighted sampling.
#[derive(Debug, Clone)]
pub struct Metros {
    metros: Vec<Metro>,
    cumulative: Vec<u64>,
    scatter_miles: f64,
}

impl Metros {
    /// The embedded list with the default scatter radius (30 miles).
    pub fn embedded() -> Result<Self, MetroError> {
        Self::parse(EMBEDDED_METROS_CSV, "embedded us-metros.csv")
    }

    /// Reads a CSV file with the header `name,state,lat,lon,population`.
    pub fn from_path(path: &Path) -> Result<Self, MetroError> {
        let text = std::fs::read_to_string(path).map_err(|source| MetroError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses CSV text; `source_name` only appears in error messages.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, MetroError> {
        let err = |line: usize, message: String| MetroError::Parse {
            source_name: source_name.to_string(),
            line,
            message,
        };
        let mut metros = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = raw.trim();
            if line.is_empty() || (index == 0 && line.starts_with("name,")) {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if fields.len() != 5 {
                return Err(err(
                    line_no,
                    format!(
                        "expected 5 fields name,state,lat,lon,population, found {}",
                        fields.len()
                    ),
                ));
            }
            let number = |i: usize, what: &str| -> Result<f64, MetroError> {
                fields[i]
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| err(line_no, format!("{what} `{}` is not a number", fields[i])))
            };
            let lat = number(2, "lat")?;
            let lon = number(3, "lon")?;
            if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                return Err(err(
                    line_no,
                    format!("coordinates {lat},{lon} out of range"),
                ));
            }
            let population = fields[4].parse::<u64>().map_err(|_| {
                err(
                    line_no,
                    format!("population `{}` is not a whole number", fields[4]),
                )
            })?;
            if population == 0 {
                continue;
            }
            metros.push(Metro {
                name: fields[0].to_string(),
                state: fields[1].to_string(),
                lat,
                lon,
                population,
            });
        }
        if metros.is_empty() {
            return Err(MetroError::Empty(source_name.to_string()));
        }
        let mut total = 0u64;
        let cumulative = metros
            .iter()
            .map(|m| {
                total = total.saturating_add(m.population);
                total
            })
            .collect();
        Ok(Self {
            metros,
            cumulative,
            scatter_miles: 30.0,
        })
    }

    /// Number of metros.
    pub fn len(&self) -> usize {
        self.metros.len()
    }

    /// Always false: construction rejects an empty list.
    pub fn is_empty(&self) -> bool {
        self.metros.is_empty()
    }

    /// Draws a metro with probability proportional to its population.
    pub fn pick<R: Rng + ?Sized>(&self, rng: &mut R) -> &Metro {
        let total = *self.cumulative.last().unwrap_or(&1);
        let ticket = rng.random_range(0..total.max(1));
        let index = self.cumulative.partition_point(|&c| c <= ticket);
        &self.metros[index.min(self.metros.len() - 1)]
    }

    /// A point scattered uniformly over a disc of the scatter radius around `centre`.
    pub fn scatter<R: Rng + ?Sized>(&self, rng: &mut R, centre: Point) -> Point {
        // sqrt keeps the density uniform over the disc instead of piling up at the centre.
        let distance = self.scatter_miles * rng.random::<f64>().sqrt();
        let bearing = rng.random::<f64>() * std::f64::consts::TAU;
        let dlat = distance * bearing.cos() / MILES_PER_DEGREE;
        let cos_lat = centre.lat.to_radians().cos().max(0.01);
        let dlon = distance * bearing.sin() / (MILES_PER_DEGREE * cos_lat);
        Point {
            lat: (centre.lat + dlat).clamp(-90.0, 90.0),
            lon: wrap_lon(centre.lon + dlon),
        }
    }

    /// A population-weighted random point near a metro.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Point {
        let metro = self.pick(rng);
        self.scatter(
            rng,
            Point {
                lat: metro.lat,
                lon: metro.lon,
            },
        )
    }

    /// A point within a few miles of `near`, for a vendor that moved a little.
    pub fn nudge<R: Rng + ?Sized>(&self, rng: &mut R, near: Point) -> Point {
        let small = Metros {
            metros: Vec::new(),
            cumulative: Vec::new(),
            scatter_miles: 2.0,
        };
        small.scatter(rng, near)
    }
}

fn wrap_lon(lon: f64) -> f64 {
    if lon > 180.0 {
        lon - 360.0
    } else if lon < -180.0 {
        lon + 360.0
    } else {
        lon
    }
}

/// Rounds a coordinate to 5 decimals (about a metre) so request bodies stay short.
pub fn round5(value: f64) -> f64 {
    (value * 100_000.0).round() / 100_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn embedded_list_parses() {
        let metros = Metros::embedded().unwrap();
        assert!(metros.len() > 100);
    }

    #[test]
    fn bad_line_names_file_and_line() {
        let err =
            Metros::parse("name,state,lat,lon,population\nA,NY,x,1,5\n", "m.csv").unwrap_err();
        assert_eq!(err.to_string(), "m.csv:2: lat `x` is not a number");
    }

    #[test]
    fn population_weighting_prefers_big_metros() {
        let metros = Metros::parse(
            "name,state,lat,lon,population\nBig,NY,40,-74,900\nSmall,CA,34,-118,100\n",
            "t",
        )
        .unwrap();
        let mut rng = StdRng::seed_from_u64(7);
        let big = (0..10_000)
            .filter(|_| metros.pick(&mut rng).name == "Big")
            .count();
        assert!((8_700..=9_300).contains(&big), "{big}");
    }

    #[test]
    fn scatter_stays_within_radius() {
        let metros = Metros::embedded().unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        let centre = Point {
            lat: 40.0,
            lon: -100.0,
        };
        for _ in 0..1000 {
            let p = metros.scatter(&mut rng, centre);
            let dy = (p.lat - centre.lat) * MILES_PER_DEGREE;
            let dx = (p.lon - centre.lon) * MILES_PER_DEGREE * centre.lat.to_radians().cos();
            assert!((dx * dx + dy * dy).sqrt() <= 30.0 + 1e-6);
        }
    }
}
